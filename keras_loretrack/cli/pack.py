"""`loretrack pack`: the GOT-10k / TrackingNet server submission archive."""

import sys

DESCRIPTION = """\
Pack the test-split results that `loretrack eval` wrote into the zip the evaluation
server takes. GOT-10k: one folder per sequence at the top level holding
<seq>_001.txt (x,y,w,h per frame) and <seq>_time.txt (seconds per frame), as the
got10k toolkit writes them; TrackingNet: one <video>.txt per video at the top level.
Every sequence of the split (read from --root) must have a finished result with one
finite box per frame, or nothing is written.
"""


def add_parser(subparsers):
    """Registers the `pack` sub-command."""
    parser = subparsers.add_parser(
        "pack",
        help="pack GOT-10k / TrackingNet test results into the server's zip",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--dataset",
        required=True,
        choices=("got10k", "trackingnet"),
        help="the benchmark whose test split is packed",
    )
    parser.add_argument(
        "--results",
        required=True,
        help="results root given to loretrack eval (or its <tracker>/<dataset>_test "
        "folder)",
    )
    parser.add_argument(
        "--root",
        required=True,
        help="dataset root given to loretrack eval (sequence list and frame counts)",
    )
    parser.add_argument(
        "--output", required=True, help="the .zip to write (replaced if it exists)"
    )
    parser.add_argument(
        "--tracker-name",
        help="results sub-folder (default: the only tracker with results there)",
    )
    parser.set_defaults(func=run)
    return parser


def _one_line(error):
    return " ".join(str(error).split())


def run(args):
    """Packs the archive; returns the process exit status."""
    from keras_loretrack.evaluation.submission import SubmissionError, pack_submission

    try:
        summary = pack_submission(
            args.dataset, args.results, args.root, args.output, args.tracker_name
        )
    except SubmissionError as error:
        print(f"loretrack pack: {_one_line(error)}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        print(f"loretrack pack: {_one_line(error)}", file=sys.stderr)
        return 2
    print(
        f"packed {summary['sequences']} sequences ({summary['frames']} frames) "
        f"from {summary['directory']} into {summary['output']}; upload it at "
        f"{summary['url']}"
    )
    return 0
