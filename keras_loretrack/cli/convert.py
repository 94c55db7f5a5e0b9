"""`loretrack convert`: an official PyTorch checkpoint → a Keras preset directory."""

import sys

DESCRIPTION = """\
Convert an official OSTrack / LoReTrack tracker checkpoint (`.pth.tar`, key `net`) or
MAE ViT-B weights (`mae_pretrain_vit_base.pth`, key `model`) into a preset directory
that `LoReTrack.from_preset(DIR)` loads. PyTorch is not needed. Before writing, the
converted model and a float64 NumPy reference run on the same random crops and the
largest difference per output is printed; the preset is written only if they agree.
"""


def add_parser(subparsers):
    """Registers the `convert` sub-command."""
    parser = subparsers.add_parser(
        "convert",
        help="convert an official PyTorch checkpoint into a preset directory",
        description=DESCRIPTION,
    )
    parser.add_argument("checkpoint", help="the .pth / .pth.tar file")
    parser.add_argument(
        "--preset",
        required=True,
        help="architecture to build: res384, res256, res192, res128, res96 "
        "(LoReTrack), ostrack256 / ostrack384 (OSTrack CE checkpoints), or a preset "
        "directory; position tables are re-gridded to its resolution",
    )
    parser.add_argument("--output", required=True, help="preset directory to write")
    parser.add_argument(
        "--no-validate",
        dest="validate",
        action="store_false",
        help="skip the comparison with the NumPy reference",
    )
    parser.add_argument(
        "--atol",
        type=float,
        default=1e-4,
        help="largest accepted difference of the head outputs (default 1e-4)",
    )
    parser.add_argument(
        "--allow-missing",
        dest="strict",
        action="store_false",
        help="convert even if the checkpoint lacks keys the model needs",
    )
    parser.set_defaults(func=run)
    return parser


def run(args):
    """Runs the conversion; returns the process exit status."""
    from keras_loretrack.checkpoints import CheckpointError, convert_checkpoint
    from keras_loretrack.models.preset_io import check_preset_destination

    try:
        check_preset_destination(args.output)
    except OSError as error:
        print(f"loretrack convert: {error}", file=sys.stderr)
        return 2
    try:
        convert_checkpoint(
            args.checkpoint,
            args.preset,
            args.output,
            validate=args.validate,
            atol=args.atol,
            strict=args.strict,
        )
    except (CheckpointError, FileNotFoundError) as error:
        print(f"loretrack convert: {error}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as error:
        print(f"loretrack convert: {error}", file=sys.stderr)
        return 1
    return 0
