"""The command-line flags the training recipes share, turned into a `TrainingConfig`.

The only place in the package that reads an `argparse.Namespace`: recipes parse
their flags, call `training_config` and hand the frozen config on.

Example:
```python
parser = make_parser("Train a tracker.")
parser.add_argument("--preset", default="res128")
add_training_arguments(parser)
args = parser.parse_args()
config = training_config(args)
```
"""

import argparse
import dataclasses

from keras_loretrack.losses import paper_defaults as paper
from keras_loretrack.training.checkpointing import DEFAULT_KEEP
from keras_loretrack.training.config import DEFAULT_DATA, TrainingConfig
from keras_loretrack.training.strategy import STRATEGIES


def non_negative_int(text):
    """An argparse type: an integer >= 0 (argparse reports anything else)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


class DefaultsOnceFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends `(default: X)` only where the help says nothing of a default and
    there is a value to show (not for required flags or `None`)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            "default" in text.lower()
            or action.required
            or action.default
            in (
                None,
                False,
                argparse.SUPPRESS,
            )
        ):
            return text
        return super()._get_help_string(action)


def make_parser(description):
    """An `ArgumentParser` showing each default once, with the recipe's description."""
    return argparse.ArgumentParser(
        description=description, formatter_class=DefaultsOnceFormatter
    )


def add_training_arguments(
    parser,
    epochs=paper.EPOCHS,
    batch_size=paper.BATCH_SIZE,
    samples_per_epoch=paper.SAMPLES_PER_EPOCH,
    data=DEFAULT_DATA,
):
    """Adds the flags every recipe takes to an `argparse.ArgumentParser`.

    Args:
        parser: `argparse.ArgumentParser`.
        epochs: int. Default `--epochs`.
        batch_size: int. Default global `--batch-size`.
        samples_per_epoch: int. Default `--samples-per-epoch`.
        data: sequence of str. The sources used when no `--data` is given
            (shown in the help; pass the same to `training_config`).

    Returns:
        The parser.
    """
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data",
        action="append",
        default=None,
        help="training source NAME[:SPLIT]=VALUE, repeatable (procedural=N, photos=N, "
        f"coco=ROOT, lasot=ROOT, got10k:train=ROOT, ...); default {list(data)}",
    )
    group.add_argument(
        "--ratios", type=float, nargs="+", default=None, help="one per --data"
    )
    group.add_argument(
        "--val-data", action="append", default=None, help="validation sources"
    )
    group.add_argument("--val-samples", type=int, default=256, help="validation pairs")
    group.add_argument(
        "--samples-per-epoch",
        type=int,
        default=samples_per_epoch,
        help="template/search pairs per epoch",
    )
    group.add_argument("--workers", type=int, default=4, help="parallel samples")
    group = parser.add_argument_group("optimisation")
    group.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    group.add_argument(
        "--batch-size", type=int, default=batch_size, help="global batch"
    )
    group.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help=f"head learning rate (default {paper.BASE_LEARNING_RATE:g} · batch / "
        f"{paper.BASE_BATCH_SIZE})",
    )
    group.add_argument(
        "--backbone-multiplier",
        type=float,
        default=paper.BACKBONE_LR_MULTIPLIER,
        help="backbone lr factor",
    )
    group.add_argument(
        "--weight-decay",
        type=float,
        default=paper.WEIGHT_DECAY,
        help="AdamW decoupled decay",
    )
    group.add_argument(
        "--clipnorm",
        type=float,
        default=paper.GLOBAL_CLIPNORM,
        help="global-norm clip (0: off)",
    )
    group.add_argument(
        "--decay-epoch",
        type=int,
        default=None,
        help=f"lr ×{paper.DECAY_FACTOR:g} from (default {paper.DECAY_FRACTION:.0%}%)",
    )
    group.add_argument(
        "--drop-path", type=float, default=None, help="default: the preset's"
    )
    group.add_argument("--seed", type=int, default=0, help="data and init seed")
    group = parser.add_argument_group("run")
    group.add_argument("--output", required=True, help="run folder")
    group.add_argument(
        "--resume", action="store_true", help="continue from the last checkpoint"
    )
    group.add_argument(
        "--keep-checkpoints",
        type=non_negative_int,
        default=DEFAULT_KEEP,
        help=f"latest epoch checkpoints kept, besides the one with the lowest "
        f"val_loss (default {DEFAULT_KEEP}; 0 keeps every epoch, about 1.1 GB each "
        "at ViT-B size)",
    )
    group.add_argument("--jit-compile", action="store_true", help="XLA")
    group.add_argument(
        "--mixed-precision",
        action="store_true",
        help="mixed precision: float16 with loss scaling on GPU, bfloat16 on CPU "
        "and TPU",
    )
    group.add_argument("--strategy", choices=STRATEGIES, default="default")
    group.add_argument("--tpu", default=None, help="TPU name or address")
    group.add_argument(
        "--eval-sequences",
        action="append",
        default=None,
        help="one-pass evaluation sources after training (default procedural:test=8)",
    )
    group.add_argument(
        "--skip-eval", action="store_true", help="no evaluation after training"
    )
    group.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    group = parser.add_argument_group("initialisation")
    group.add_argument(
        "--weights",
        action="store_true",
        help="start from the preset's weights (a preset folder or converted preset)",
    )
    group.add_argument(
        "--mae", default=None, help="MAE ViT checkpoint (.pth) for the backbone"
    )
    return parser


def training_config(args, default_data=DEFAULT_DATA):
    """The `TrainingConfig` of flags parsed with `add_training_arguments`.

    Args:
        args: `argparse.Namespace`. Flags the config does not know (a recipe's
            own, such as `--preset`) are left out.
        default_data: sequence of str. The sources when no `--data` is given.
    """
    values = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(TrainingConfig)
        if hasattr(args, field.name)
    }
    values["data"] = args.data or tuple(default_data)
    values["val_data"] = args.val_data or ()
    values["clipnorm"] = args.clipnorm or None
    values["keep_checkpoints"] = args.keep_checkpoints or None
    if args.eval_sequences is None:
        del values["eval_sequences"]
    return TrainingConfig(**values)
