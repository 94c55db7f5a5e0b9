"""The `loretrack` command: one sub-command per module of this package."""

import argparse
import importlib
import os
import sys

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
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"keras_loretrack.cli.{name}").add_parser(subparsers)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
