"""`loretrack eval`: one-pass evaluation of a tracker on a benchmark dataset."""

import functools
import os
import sys

DESCRIPTION = """\
Run a tracker once over every sequence of a benchmark (initialised with the first
ground-truth box) and write the standard result files: pytracking layout
<results>/<tracker>/<dataset>/<seq>.txt with <seq>_time.txt and <seq>_score.txt, or
the GOT-10k submission layout <seq>/<seq>_001.txt with <seq>_time.txt. Sequences
whose result exists are skipped, so a killed run resumes; --shard i/n lets n machines
split a benchmark (every n-th of the name-sorted sequences, from the i-th, 0-based).
"""


def build_tracker(preset=None, model=None, load_weights=True, jit_compile=False):
    """Builds a `Tracker` from a preset or an exported model file.

    A top-level function, so that `functools.partial` of it can be sent to
    worker processes.
    """
    from keras_loretrack.tracking import Tracker

    if model is not None:
        return Tracker.from_file(model)
    return Tracker.from_preset(
        preset, load_weights=load_weights, jit_compile=jit_compile
    )


def parse_names(text):
    """Splits `a,b,c` into names, dropping blanks."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError(f"Expected comma-separated names, got {text!r}")
    return names


def default_tracker_name(preset=None, model=None):
    """The preset name, the preset folder's name or the model file's stem."""
    if model is not None:
        return os.path.splitext(os.path.basename(model))[0]
    return os.path.basename(os.path.normpath(preset))


def add_parser(subparsers):
    """Registers the `eval` sub-command."""
    from keras_loretrack.evaluation.datasets import list_datasets

    parser = subparsers.add_parser(
        "eval",
        help="one-pass evaluation of a tracker on a benchmark (result files)",
        description=DESCRIPTION,
    )
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument(
        "--preset", help="built-in preset name (e.g. res128) or preset directory"
    )
    model.add_argument(
        "--model", help="exported model file (.tflite, .onnx) run by its engine"
    )
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
        "--no-weights",
        dest="load_weights",
        action="store_false",
        help="build the preset with random weights (smoke tests)",
    )
    parser.add_argument(
        "--jit-compile", action="store_true", help="compile the Keras model with XLA"
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
    from keras_loretrack.evaluation.datasets import get_dataset, limit_frames

    dataset = get_dataset(args.dataset, args.root, args.split)
    if args.sequences:
        dataset = dataset.select(parse_names(args.sequences))
    index, count = shard
    dataset = dataset.select(sorted(dataset.sequence_names)[index::count])
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
    return dataset, [limit_frames(s, args.max_frames) for s in dataset]


def run(args):
    """Runs the evaluation; returns the process exit status."""
    from keras_loretrack.evaluation.runner import parse_shard, run_evaluation

    try:
        if args.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {args.workers}")
        shard = parse_shard(args.shard)
        dataset, sequences = load_sequences(args, shard)
    except (FileNotFoundError, OSError, ValueError) as error:
        print(f"loretrack eval: {error}", file=sys.stderr)
        return 2
    tracker_name = args.tracker_name or default_tracker_name(args.preset, args.model)
    factory = functools.partial(
        build_tracker,
        preset=args.preset,
        model=args.model,
        load_weights=args.load_weights,
        jit_compile=args.jit_compile,
    )
    try:
        summary = run_evaluation(
            factory,
            sequences,
            args.results,
            tracker_name,
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
    print(
        f"tracked {len(summary['tracked'])} sequences ({summary['frames']} frames"
        f"{speed}), skipped {len(summary['skipped'])} already done; "
        f"results in {summary['directory']}"
    )
    return 0
