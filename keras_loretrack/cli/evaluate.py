"""`loretrack eval`: one-pass evaluation of a tracker on a benchmark dataset."""

import os
import sys

from keras_loretrack.cli.arguments import (
    add_model_arguments,
    model_name,
    parse_list,
    tracker_factory,
)

DESCRIPTION = """\
Run a tracker once over every sequence of a benchmark (initialised with the first
ground-truth box) and write the standard result files: pytracking layout
<results>/<tracker>/<dataset>_<split>/<seq>.txt (<dataset>/ for datasets without
splits) with <seq>_time.txt and <seq>_score.txt, or the GOT-10k submission layout
<seq>/<seq>_001.txt with <seq>_time.txt. Sequences with a complete result (a box
per frame) are skipped, so a killed run resumes; results with fewer boxes (from
--max-frames) are tracked again. --shard i/n lets n machines split a benchmark
(every n-th of the name-sorted sequences, from the i-th, 0-based).
"""


def add_parser(subparsers):
    """Registers the `eval` sub-command."""
    from keras_loretrack.sequences import list_datasets

    parser = subparsers.add_parser(
        "eval",
        help="one-pass evaluation of a tracker on a benchmark (result files)",
        description=DESCRIPTION,
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--dataset", required=True, choices=sorted(list_datasets()), help="benchmark"
    )
    parser.add_argument("--root", required=True, help="dataset root folder")
    parser.add_argument("--results", required=True, help="results root folder")
    parser.add_argument("--split", help="dataset split (default: the dataset's own)")
    parser.add_argument(
        "--tracker-name", help="results sub-folder (default: preset or model name)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="parallel tracker processes"
    )
    parser.add_argument(
        "--shard", default="0/1", help="i/n: track shard i (0-based) of n"
    )
    parser.add_argument("--sequences", help="comma-separated sequence names only")
    parser.add_argument(
        "--max-frames",
        type=int,
        help="track only the first N frames of each sequence (smoke runs)",
    )
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bar"
    )
    parser.set_defaults(func=run)
    return parser


def load_sequences(args, shard=(0, 1)):
    """The dataset's sequences of one shard, cut to `--max-frames`.

    Returns:
        (dataset, list of `Sequence`).
    """
    from keras_loretrack.sequences import get_dataset, limit_frames

    dataset = get_dataset(args.dataset, args.root, args.split)
    if args.sequences:
        dataset = dataset.select(parse_list(args.sequences, what="sequence name"))
    index, count = shard
    dataset = dataset.select(sorted(dataset.sequence_names)[index::count])
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
    return dataset, [limit_frames(s, args.max_frames) for s in dataset]


def run(args):
    """Runs the evaluation; returns the process exit status."""
    from keras_loretrack.atomic_files import check_writable
    from keras_loretrack.evaluation.results import tracker_dir
    from keras_loretrack.evaluation.runner import parse_shard, run_evaluation

    try:
        if args.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {args.workers}")
        shard = parse_shard(args.shard)
        dataset, sequences = load_sequences(args, shard)
        results = tracker_dir(
            args.results, args.tracker_name or model_name(args), dataset.result_name
        )
        check_writable(os.path.join(results, ".results"), label="results folder")
    except (FileNotFoundError, OSError, ValueError) as error:
        print(f"loretrack eval: {error}", file=sys.stderr)
        return 2
    try:
        summary = run_evaluation(
            tracker_factory(args),
            sequences,
            args.results,
            args.tracker_name or model_name(args),
            dataset.result_name,
            workers=args.workers,
            progress=args.progress,
        )
    except (OSError, ValueError, TypeError, RuntimeError) as error:
        print(f"loretrack eval: {error}", file=sys.stderr)
        return 1
    speed = ""
    if summary["seconds"] > 0:
        speed = f" at {summary['frames'] / summary['seconds']:.1f} fps"
    if summary["incomplete"]:
        print(
            f"tracked again {len(summary['incomplete'])} results that held fewer "
            f"boxes than frames (e.g. from --max-frames): "
            f"{', '.join(summary['incomplete'][:5])}"
        )
    print(
        f"tracked {len(summary['tracked'])} sequences ({summary['frames']} frames"
        f"{speed}), skipped {len(summary['skipped'])} already done; "
        f"results in {summary['directory']}"
    )
    return 0
