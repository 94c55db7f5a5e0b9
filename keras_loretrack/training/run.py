"""A training run's folder: created once, checkpointed every epoch, resumed.

A run writes into one output folder: `checkpoints/` (per-epoch, atomic, see
`checkpointing`), `logs/` (TensorBoard), `preset/` (the trained model) and
`evaluation.json`.
"""

import os

from keras_loretrack.training.checkpointing import (
    DEFAULT_KEEP,
    EpochCheckpoint,
    latest_checkpoint,
    restore_checkpoint,
)
from keras_loretrack.training.scalar_logs import ScalarLogs
from keras_loretrack.training.strategy import is_chief


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


def training_callbacks(paths, strategy, keep=DEFAULT_KEEP, log_every=100):
    """Per-epoch checkpoints and TensorBoard scalar logs (chief only).

    Args:
        paths: dict from `prepare_output`.
        strategy: `tf.distribute.Strategy`. Non-chief workers write nothing.
        keep: int or None. Latest epoch checkpoints kept besides the best by
            `val_loss` (None: all).
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
