"""What every training recipe shares: its flags, folders, callbacks and resume.

A run writes into one output folder: `checkpoints/` (per-epoch, atomic, see
`checkpointing`), `logs/` (TensorBoard), `preset/` (the trained model) and
`evaluation.json`.
"""

import argparse
import os

from keras_loretrack.data.pipeline import make_training_dataset, make_validation_dataset
from keras_loretrack.training.checkpointing import (
    EpochCheckpoint,
    latest_checkpoint,
    restore_checkpoint,
)
from keras_loretrack.training.optimizers import build_optimizer, scaled_learning_rate
from keras_loretrack.training.scalar_logs import ScalarLogs
from keras_loretrack.training.sources import load_sources
from keras_loretrack.training.strategy import STRATEGIES, is_chief


def add_training_arguments(parser, epochs, batch_size, samples_per_epoch, data):
    """Adds the flags every recipe takes to an `argparse.ArgumentParser`.

    Args:
        parser: `argparse.ArgumentParser`.
        epochs: int. Default `--epochs`.
        batch_size: int. Default global `--batch-size`.
        samples_per_epoch: int. Default `--samples-per-epoch`.
        data: list of str. The sources used when no `--data` is given (shown
            in the help).

    Returns:
        The parser.
    """
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data",
        action="append",
        default=None,
        help="training source NAME[:SPLIT]=VALUE, repeatable (procedural=N, "
        f"coco=ROOT, lasot=ROOT, got10k:train=ROOT, ...); default {data}",
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
        help="head learning rate (default 4e-4 · batch / 128)",
    )
    group.add_argument(
        "--backbone-multiplier", type=float, default=0.1, help="backbone lr factor"
    )
    group.add_argument(
        "--weight-decay", type=float, default=1e-4, help="AdamW decoupled decay"
    )
    group.add_argument(
        "--clipnorm", type=float, default=0.1, help="global-norm clip (0: off)"
    )
    group.add_argument(
        "--decay-epoch", type=int, default=None, help="lr ×0.1 from (default 80%%)"
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
        "--keep-checkpoints", type=int, default=None, help="epoch files kept"
    )
    group.add_argument("--jit-compile", action="store_true", help="XLA")
    group.add_argument(
        "--mixed-precision", action="store_true", help="float16 (TPU: bfloat16)"
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


def optimizer_from_arguments(variables, args, steps):
    """The recipe's AdamW from the optimisation flags of `add_training_arguments`.

    Args:
        variables: the backbone's trainable variables (their lr is scaled by
            `--backbone-multiplier`).
        args: parsed flags.
        steps: int. Steps per epoch.
    """
    return build_optimizer(
        variables,
        learning_rate=args.learning_rate or scaled_learning_rate(args.batch_size),
        epochs=args.epochs,
        steps_per_epoch=steps,
        backbone_multiplier=args.backbone_multiplier,
        weight_decay=args.weight_decay,
        global_clipnorm=args.clipnorm or None,
        decay_epoch=args.decay_epoch,
    )


def prepare_output(output, resume):
    """Creates the run folder; refuses to overwrite a run unless resuming.

    Returns:
        dict of paths: `checkpoints`, `logs`, `preset`, `evaluation`.
    """
    paths = {
        "checkpoints": os.path.join(output, "checkpoints"),
        "logs": os.path.join(output, "logs"),
        "preset": os.path.join(output, "preset"),
        "evaluation": os.path.join(output, "evaluation.json"),
    }
    if latest_checkpoint(paths["checkpoints"]) is not None and not resume:
        raise ValueError(
            f"{output} already holds a run; pass --resume to continue it or "
            "choose another --output"
        )
    os.makedirs(output, exist_ok=True)
    return paths


def training_callbacks(paths, strategy, keep=None, log_every=100):
    """Per-epoch checkpoints and TensorBoard scalar logs (chief only).

    Args:
        paths: dict from `prepare_output`.
        strategy: `tf.distribute.Strategy`. Non-chief workers write nothing.
        keep: int or None. Epoch checkpoints kept.
        log_every: int or None. Also log training metrics every this many
            steps.
    """
    chief = is_chief(strategy)
    return [
        EpochCheckpoint(paths["checkpoints"], keep=keep, write=chief),
        ScalarLogs(paths["logs"], update_freq=log_every, write=chief),
    ]


def resume(model, paths, resume_run):
    """Restores the last checkpoint when resuming.

    Returns:
        int. The `initial_epoch` to pass to the dataset and to `fit`.
    """
    if not resume_run:
        return 0
    return restore_checkpoint(model, paths["checkpoints"])


def fit_from_sources(
    model, geometry, sources, ratios, args, paths, strategy, steps, initial_epoch
):
    """Runs `model.fit` on pairs cropped from `sources` as `geometry` sees them.

    Args:
        model: the compiled `keras.Model` to fit (a `LoReTrack` or a
            `LoReTrackDistiller`).
        geometry: `LoReTrack` whose crop sizes and factors the pairs take (the
            model itself, or the distiller's teacher).
        sources, ratios: from `load_sources`.
        args: the recipe's flags (`add_training_arguments`).
        paths: from `prepare_output`.
        strategy: `tf.distribute.Strategy`.
        steps: int. Steps per epoch.
        initial_epoch: int. From `resume`; the data stream continues there.
    """
    crop = {
        "search_size": geometry.search_size,
        "template_size": geometry.template_size,
        "search_factor": geometry.search_factor,
        "template_factor": geometry.template_factor,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "num_parallel_calls": args.workers,
    }
    data = make_training_dataset(
        sources,
        ratios,
        samples_per_epoch=args.samples_per_epoch,
        initial_epoch=initial_epoch,
        **crop,
    )
    validation = None
    if args.val_data:
        validation = make_validation_dataset(
            load_sources(args.val_data, procedural_split="val")[0],
            num_samples=args.val_samples,
            **crop,
        )
    return model.fit(
        data,
        epochs=args.epochs,
        steps_per_epoch=steps,
        initial_epoch=initial_epoch,
        validation_data=validation,
        callbacks=training_callbacks(paths, strategy, args.keep_checkpoints),
        shuffle=False,  # the pipeline's order is fixed by its seed
        verbose=args.verbose,
    )


def make_parser(description):
    """An `ArgumentParser` showing defaults, with the recipe's description."""
    return argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def start_from_mae(model, checkpoint_path):
    """Loads MAE ViT weights into `model`'s backbone (DESIGN §5 start).

    Args:
        model: `LoReTrack`. Its head keeps its initialisation.
        checkpoint_path: str. `mae_pretrain_vit_base.pth` (read without torch).

    Returns:
        `keras_loretrack.checkpoints.LoadReport`.
    """
    from keras_loretrack.checkpoints import (
        load_official_weights,
        load_torch_checkpoint,
    )

    return load_official_weights(
        model, load_torch_checkpoint(checkpoint_path), strict=True
    )
