"""The `loretrack` command: one sub-command per module of this package."""

import argparse
import importlib
import os
import re
import sys

from keras_loretrack.optional import MissingExtraError
from keras_loretrack.version import __version__

# TensorFlow's start-up chatter is noise on a command line; users can opt back in.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Each module defines `add_parser(subparsers)`, which registers its sub-command
# and sets `func` to a `run(args) -> int`.
COMMANDS = (
    "convert",
    "track",
    "evaluate",
    "analyze",
    "pack",
    "export",
    "bench",
    "demo",
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="loretrack",
        description="LoReTrack: low-resolution transformer tracking in Keras.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"keras_loretrack.cli.{name}").add_parser(subparsers)
    return parser


# Flags whose value may start with "-" (a box left of or above the frame):
# `--init -10,5,30,30` would otherwise read as an unknown flag.
NEGATIVE_VALUE_FLAGS = ("--init",)
NEGATIVE = re.compile(r"-[0-9.]")


def join_negative_values(argv):
    """Rewrites `--init -10,...` as `--init=-10,...` so argparse takes the value."""
    joined = []
    for argument in argv:
        if joined and joined[-1] in NEGATIVE_VALUE_FLAGS and NEGATIVE.match(argument):
            joined[-1] = f"{joined[-1]}={argument}"
        else:
            joined.append(argument)
    return joined


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(join_negative_values(argv))
    try:
        return args.func(args)
    except MissingExtraError as error:
        print(f"loretrack {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
