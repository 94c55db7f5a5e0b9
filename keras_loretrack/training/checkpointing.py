"""Per-epoch training checkpoints, written atomically, and resuming from them.

After epoch e (1-based count of finished epochs) `EpochCheckpoint` writes
`epoch-{e:04d}.weights.h5` (the model's weights and its optimizer's state:
step counter, moments, loss scale) through a temporary file renamed into place,
then `epoch-{e:04d}.json` and `checkpoint.json` (naming the newest), the same
way; the JSON also holds the random generators' states (drop-path), which Keras'
weight files leave out. A run killed at any moment thus leaves either the
previous or the new checkpoint, never a torn one, and `restore_checkpoint`
continues from the last finished epoch; if that file was damaged afterwards
(disk error, a copy cut short), it falls back to the newest intact epoch and
says so. By default the last 2 epochs are kept, plus the one with the lowest
`val_loss`: a ViT-B checkpoint with its AdamW moments is about 1.1 GB.
The learning-rate schedule counts optimizer steps, so it resumes too;
the data pipeline resumes from `initial_epoch`
(`make_training_dataset(initial_epoch=...)`).
"""

import contextlib
import glob
import json
import os
import sys
import warnings

import keras
import numpy as np

STATE_FILE = "checkpoint.json"
WEIGHTS_PATTERN = "epoch-{epoch:04d}.weights.h5"
EPOCH_STATE_PATTERN = "epoch-{epoch:04d}.json"
DEFAULT_KEEP = 2
TEMP_PREFIX = ".tmp-"


def _write_json_atomically(path, payload):
    temporary = os.path.join(
        os.path.dirname(path), TEMP_PREFIX + os.path.basename(path)
    )
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def _generator_states(model):
    """Variables outside `model.weights` (random generator states), in order."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def latest_checkpoint(directory):
    """The last finished checkpoint in `directory`.

    Returns:
        dict with `epoch` (finished epochs), `weights` (path) and `logs`, or
        None when the directory holds no checkpoint.
    """
    state_path = os.path.join(os.fspath(directory), STATE_FILE)
    if not os.path.isfile(state_path):
        return None
    with open(state_path, encoding="utf-8") as f:
        state = json.load(f)
    weights = os.path.join(os.fspath(directory), state["weights"])
    if not os.path.isfile(weights):
        raise FileNotFoundError(
            f"{state_path} names {state['weights']}, which is missing from {directory}"
        )
    return {
        "epoch": int(state["epoch"]),
        "weights": weights,
        "logs": state["logs"],
        "generator_states": state.get("generator_states", []),
    }


def epoch_checkpoints(directory):
    """Every epoch checkpoint with its state file, newest first (same dicts)."""
    states = []
    for path in glob.glob(os.path.join(os.fspath(directory), "epoch-*.json")):
        try:
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
        except (OSError, json.JSONDecodeError):
            continue
        weights = os.path.join(os.fspath(directory), state.get("weights", ""))
        if os.path.isfile(weights):
            states.append(
                {
                    "epoch": int(state["epoch"]),
                    "weights": weights,
                    "logs": state.get("logs", {}),
                    "generator_states": state.get("generator_states", []),
                }
            )
    return sorted(states, key=lambda state: -state["epoch"])


def _is_damaged(path):
    """Whether an HDF5 weights file cannot be read to its end."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            f.visititems(
                lambda _, item: item[()] if isinstance(item, h5py.Dataset) else None
            )
    except (OSError, RuntimeError, KeyError, ValueError):
        return True
    return False


def restore_checkpoint(model, directory):
    """Loads the last checkpoint of `directory` into a compiled `model`.

    The optimizer is built first so that its state (step counter, moments) is
    restored with the weights.

    Args:
        model: compiled `keras.Model`, built like the one that was saved.
        directory: str. Checkpoint directory.

    Returns:
        int. The epoch to continue from (`fit(initial_epoch=...)`); 0 when
        there is no checkpoint.
    """
    try:
        newest = latest_checkpoint(directory)
    except (OSError, json.JSONDecodeError, KeyError):
        newest = None
    # The pointer file's state stands for its epoch (it is the one written
    # last, and the only one in runs written before per-epoch state files).
    candidates = epoch_checkpoints(directory)
    if newest is not None:
        candidates = [newest] + [c for c in candidates if c["epoch"] != newest["epoch"]]
    if not candidates:
        if os.path.isfile(os.path.join(os.fspath(directory), STATE_FILE)):
            raise ValueError(f"No intact checkpoint left in {directory}")
        return 0
    if model.optimizer is not None and not model.optimizer.built:
        # Its variables belong to the strategy the model was compiled under.
        strategy = getattr(model, "distribute_strategy", None)
        with strategy.scope() if strategy else contextlib.nullcontext():
            model.optimizer.build(model.trainable_variables)
    for state in candidates:
        if not _is_damaged(state["weights"]):
            break
        print(
            f"Checkpoint {state['weights']} is damaged (unreadable); trying the "
            "previous epoch",
            file=sys.stderr,
        )
    else:
        raise ValueError(f"Every checkpoint in {directory} is damaged")
    if state is not candidates[0]:
        print(f"Resuming from epoch {state['epoch']}", file=sys.stderr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(state["weights"])
        except ValueError as error:
            raise ValueError(
                f"Checkpoint {state['weights']} does not fit this model; resume "
                "with the preset and options the run was started with "
                f"({str(error).splitlines()[0]})"
            ) from None
    skipped = [str(w.message) for w in caught if "Skipping" in str(w.message)]
    if skipped:
        raise ValueError(
            f"Checkpoint {state['weights']} does not fit this model; resume with "
            f"the preset and options the run was started with ({skipped[0]})"
        )
    variables = _generator_states(model)
    saved = state["generator_states"]
    if len(saved) != len(variables):
        raise ValueError(
            f"Checkpoint {state['weights']} holds {len(saved)} random generator "
            f"states, the model has {len(variables)}: is it the same architecture?"
        )
    for variable, entry in zip(variables, saved):
        value = np.asarray(entry["value"], dtype=variable.dtype)
        if value.shape != tuple(variable.shape):
            raise ValueError(
                f"Random generator state {entry['path']!r} has shape {value.shape}, "
                f"the model's {variable.path!r} {tuple(variable.shape)}"
            )
        variable.assign(value)
    for stale in glob.glob(os.path.join(os.fspath(directory), TEMP_PREFIX + "*")):
        os.remove(stale)
    return state["epoch"]


class EpochCheckpoint(keras.callbacks.Callback):
    """Writes an atomic checkpoint after every epoch.

    Args:
        directory: str. Where checkpoints go (created if missing).
        keep: int or None. How many of the latest epochs to keep, besides the
            one with the lowest `val_loss` (None: all).
        write: bool. Whether this process writes (False on non-chief workers of a
            multi-worker run).
    """

    def __init__(self, directory, keep=DEFAULT_KEEP, write=True):
        super().__init__()
        if keep is not None and keep < 1:
            raise ValueError(f"keep must be None or >= 1, got {keep!r}")
        self.directory = os.fspath(directory)
        self.keep = keep
        self.write = write

    def on_epoch_end(self, epoch, logs=None):
        if not self.write:
            return
        os.makedirs(self.directory, exist_ok=True)
        name = WEIGHTS_PATTERN.format(epoch=epoch + 1)
        temporary = os.path.join(self.directory, TEMP_PREFIX + name)
        self.model.save_weights(temporary)
        os.replace(temporary, os.path.join(self.directory, name))
        state = {
            "epoch": epoch + 1,
            "weights": name,
            "logs": {k: float(v) for k, v in (logs or {}).items()},
            "generator_states": [
                {
                    "path": v.path,
                    "value": keras.ops.convert_to_numpy(v.value).tolist(),
                }
                for v in _generator_states(self.model)
            ],
        }
        _write_json_atomically(
            os.path.join(self.directory, EPOCH_STATE_PATTERN.format(epoch=epoch + 1)),
            state,
        )
        _write_json_atomically(os.path.join(self.directory, STATE_FILE), state)
        if self.keep is not None:
            self._prune()

    def _prune(self):
        """Deletes epochs beyond the last `keep`, sparing the best `val_loss`."""
        states = epoch_checkpoints(self.directory)
        kept = {s["epoch"] for s in states[: self.keep]}
        scored = [s for s in states if "val_loss" in s["logs"]]
        if scored:
            kept.add(min(scored, key=lambda s: s["logs"]["val_loss"])["epoch"])
        for state in states:
            if state["epoch"] not in kept:
                os.remove(state["weights"])
                os.remove(
                    os.path.join(
                        self.directory,
                        EPOCH_STATE_PATTERN.format(epoch=state["epoch"]),
                    )
                )
