"""`loretrack analyze`: score result files, print a table, write JSON and plots."""

import os
import sys

from keras_loretrack.cli.arguments import parse_list

DESCRIPTION = """\
Score the result files of one or several trackers on a benchmark: SUC (AUC), P (20 px),
P_norm (0.20), OP50, OP75, and AO, SR0.5, SR0.75 on GOT-10k. Prints a table and writes
report.json, table.md and success / precision / normalised precision plots (PNG) to
--output (default: <results>/_analysis_<dataset>).
"""


def add_parser(subparsers):
    """Registers the `analyze` sub-command."""
    from keras_loretrack.sequences import list_datasets

    parser = subparsers.add_parser(
        "analyze",
        help="score result files: table, JSON report, success/precision plots",
        description=DESCRIPTION,
    )
    parser.add_argument("--results", required=True, help="results root folder")
    parser.add_argument(
        "--dataset", required=True, choices=sorted(list_datasets()), help="benchmark"
    )
    parser.add_argument("--root", required=True, help="dataset root folder")
    parser.add_argument("--split", help="dataset split (default: the dataset's own)")
    parser.add_argument(
        "--trackers", help="comma-separated tracker names (default: all found)"
    )
    parser.add_argument("--sequences", help="comma-separated sequence names only")
    parser.add_argument("--output", help="report folder")
    parser.add_argument(
        "--max-frames",
        type=int,
        help="score the first N frames of each sequence (as `eval --max-frames`)",
    )
    parser.add_argument(
        "--validity",
        choices=("ostrack", "pytracking"),
        default="ostrack",
        help="valid frames: gt w,h > 0 (ostrack) or also x,y > 0 (pytracking)",
    )
    parser.add_argument(
        "--pytracking-quirks",
        action="store_true",
        help="count invalid frames as normalised-precision hits (and precision "
        "hits on UAV123), as pytracking's analysis code does",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="score the sequences every tracker has instead of failing",
    )
    parser.add_argument(
        "--no-plots",
        dest="plots",
        action="store_false",
        help="write the JSON report and table only (plots need the plots extra)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args):
    """Scores the results; returns the process exit status."""
    from keras_loretrack.evaluation.analysis import (
        compute_report,
        format_table,
        plot_curves,
        write_report,
    )
    from keras_loretrack.evaluation.metrics import MetricRules
    from keras_loretrack.optional import MissingExtraError
    from keras_loretrack.sequences import get_dataset, limit_frames

    try:
        dataset = get_dataset(args.dataset, args.root, args.split)
        if args.sequences:
            dataset = dataset.select(parse_list(args.sequences, what="sequence name"))
        if args.max_frames is not None and args.max_frames < 1:
            raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
        sequences = [limit_frames(s, args.max_frames) for s in dataset]
        trackers = None
        if args.trackers:
            trackers = parse_list(args.trackers, what="tracker name")
        if args.pytracking_quirks:
            rules = MetricRules.pytracking(dataset.name, validity=args.validity)
        else:
            rules = MetricRules(validity=args.validity)
        report = compute_report(
            args.results,
            dataset.result_name,
            sequences,
            trackers=trackers,
            rules=rules,
            allow_missing=args.allow_missing,
        )
        output = args.output or os.path.join(
            args.results, f"_analysis_{dataset.result_name}"
        )
        paths = write_report(report, output, plots=False)
    except (FileNotFoundError, OSError, ValueError) as error:
        print(f"loretrack analyze: {error}", file=sys.stderr)
        return 1
    print(format_table(report))
    print(f"\nreport: {paths['json']}")
    if args.plots:
        try:
            for path in plot_curves(report, output):
                print(f"plot: {path}")
        except MissingExtraError as error:
            print(f"loretrack analyze: no plots: {error}", file=sys.stderr)
    return 0
