"""The miniature replication's training runs, each in its own folder.

A run folder holds `preset/` (the trained model) and `history.json` (per-epoch
training and validation metrics); `history.json` is written last, so a run
with it is finished and skipped. The teacher's folder also holds
`teacher_targets.npz`: the frozen teacher's distillation targets on every
training pair, computed once, since the pairs are fixed crops. A process
training a run holds an exclusive lock on its `.lock` file (released by the
kernel if the process dies), so several processes can work through one plan
side by side, each taking the runs nobody holds.

Differences from the paper, forced by the budget: no MAE start, so the
backbone trains at the head's learning rate, and a clip norm of 1.0 (0.1 suits
fine-tuning from MAE, not training from scratch).
"""

import contextlib
import fcntl
import json
import os
import time

import keras
import numpy as np
from tqdm import tqdm

from keras_loretrack.atomic_files import atomic_output, write_json
from keras_loretrack.data.crops import CropGeometry
from keras_loretrack.losses import paper_defaults as paper
from keras_loretrack.models.loretrack import LoReTrack
from keras_loretrack.models.loretrack_distiller import LoReTrackDistiller
from keras_loretrack.training.miniature.budgets import VARIANTS
from keras_loretrack.training.miniature.disc_mask import (
    teacher_energy,
    threshold_for_share,
)
from keras_loretrack.training.miniature.pairs import pair_dataset
from keras_loretrack.training.optimizers import build_optimizer

CLIPNORM = 1.0


def run_done(run_dir):
    """Whether the run in `run_dir` finished (its `history.json` exists)."""
    return os.path.isfile(os.path.join(run_dir, "history.json"))


def read_history(run_dir):
    """The run's `history.json`."""
    with open(os.path.join(run_dir, "history.json"), encoding="utf-8") as f:
        return json.load(f)


@contextlib.contextmanager
def claimed(run_dir):
    """Yields True when this process holds the run and it is not finished yet.

    False when the run is finished or another process is training it.
    """
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield not run_done(run_dir)


@contextlib.contextmanager
def _exclusive(path):
    """Holds an exclusive lock on `path` + `.lock`, waiting for other holders."""
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def make_optimizer(model, budget, learning_rate, steps):
    """OSTrack's AdamW and step decay, backbone at the head's rate, clip 1.0."""
    return build_optimizer(
        model.backbone.trainable_variables,
        learning_rate=learning_rate,
        epochs=budget.epochs,
        steps_per_epoch=steps // budget.epochs,
        backbone_multiplier=1.0,
        weight_decay=paper.WEIGHT_DECAY,
        global_clipnorm=CLIPNORM,
    )


def fit_run(
    model,
    trained,
    *,
    pairs,
    geometry,
    budget,
    steps,
    seed,
    run_dir,
    label,
    notes=None,
    teacher_targets=None,
):
    """Fits `model` on the shared pairs and writes the run folder.

    Args:
        model: compiled `LoReTrack` or `LoReTrackDistiller`.
        trained: `LoReTrack`. What is saved (the model, or the student).
        pairs: from `load_pairs`.
        geometry: `CropGeometry` the batches are resized to.
        budget: `Budget`.
        steps: int. Optimizer steps, split into `budget.epochs`.
        seed: int. Order of the shuffled training stream.
        run_dir: str. The run folder.
        label: str. Shown in the log.
        notes: dict or None. Extra entries of `history.json`.
        teacher_targets: dict or None. Precomputed teacher targets of the
            training pairs (distillers only).
    """
    epochs = budget.epochs
    start = time.perf_counter()
    print(f"[{label}] {steps} steps of {budget.batch_size}", flush=True)
    history = model.fit(
        pair_dataset(
            pairs["train"],
            budget.batch_size,
            geometry,
            seed=seed,
            teacher_targets=teacher_targets,
        ),
        epochs=epochs,
        steps_per_epoch=steps // epochs,
        validation_data=pair_dataset(pairs["val"], budget.batch_size, geometry),
        verbose=2,
    )
    seconds = time.perf_counter() - start
    trained.save_to_preset(os.path.join(run_dir, "preset"))
    write_json(
        os.path.join(run_dir, "history.json"),
        {
            "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
            "train_seconds": seconds,
            "steps": steps,
            "batch_size": budget.batch_size,
            **(notes or {}),
        },
    )


def train_teacher(preset, *, budget, pairs, learning_rate, run_dir):
    """Trains the teacher on the tracking losses (skipped when finished or held)."""
    with claimed(run_dir) as mine:
        if mine:
            _train_teacher(preset, budget, pairs, learning_rate, run_dir)


def _train_teacher(preset, budget, pairs, learning_rate, run_dir):
    keras.utils.set_random_seed(0)
    model = LoReTrack.from_preset(preset, load_weights=False)
    steps = budget.teacher_steps
    model.compile(optimizer=make_optimizer(model, budget, learning_rate, steps))
    fit_run(
        model,
        model,
        pairs=pairs,
        geometry=CropGeometry.of(model),
        budget=budget,
        steps=steps,
        seed=0,
        run_dir=run_dir,
        label="teacher",
    )


def adopt_teacher(preset, *, budget, pairs, run_dir):
    """Takes an already trained teacher instead of training one.

    The preset (a name or folder) is saved as the run's model; its metrics on
    the shared validation pairs are the run's one-epoch history
    (`train_seconds` 0, `adopted` names the preset). Skipped when finished.
    """
    with claimed(run_dir) as mine:
        if not mine:
            return
        model = LoReTrack.from_preset(preset)
        model.compile()
        metrics = model.evaluate(
            pair_dataset(pairs["val"], budget.batch_size, CropGeometry.of(model)),
            return_dict=True,
            verbose=0,
        )
        model.save_to_preset(os.path.join(run_dir, "preset"))
        write_json(
            os.path.join(run_dir, "history.json"),
            {
                "history": {f"val_{k}": [float(v)] for k, v in metrics.items()},
                "train_seconds": 0.0,
                "adopted": preset,
            },
        )


def teacher_targets(distiller, train_pairs, path, batch_size=64):
    """The frozen teacher's distillation targets on every training pair.

    Computed once per teacher (last block's q, k, v and the final search
    features, float16) and stored atomically at `path`; a process that finds
    another computing them waits. Returns the arrays `distiller` reads, one
    row per pair, for `pair_dataset(teacher_targets=...)`.
    """
    with _exclusive(path):
        if not os.path.isfile(path):
            full = LoReTrackDistiller(distiller.student, distiller.teacher)
            geometry = CropGeometry.of(distiller.teacher)
            parts = {name: [] for name in full.teacher_target_names}
            batches = pair_dataset(train_pairs, batch_size, geometry)
            for inputs, _ in tqdm(batches, desc="teacher targets", unit="batch"):
                for name, value in full.teacher_targets(inputs).items():
                    parts[name].append(np.asarray(value, np.float16))
            with atomic_output(path) as temporary, open(temporary, "wb") as f:
                np.savez(f, **{k: np.concatenate(v) for k, v in parts.items()})
    with np.load(path) as stored:
        return {name: stored[name] for name in distiller.teacher_target_names}


def train_student(
    preset, variant, seed, *, teacher_preset, budget, pairs, learning_rate, run_dir
):
    """Trains one student variant from scratch (skipped when finished or held).

    The plain student gets the shared crops resized to its size; the distilled
    variants get them at the teacher's size, which the distiller resizes, and
    read the teacher's targets from `teacher_targets.npz` beside
    `teacher_preset` (computed by the first run that needs them). A
    variant's `mask_share` becomes the Disc-KD threshold that share of the
    teacher's search tokens reaches on the first 512 training pairs.
    """
    with claimed(run_dir) as mine:
        if mine:
            _train_student(
                preset,
                variant,
                seed,
                teacher_preset,
                budget,
                pairs,
                learning_rate,
                run_dir,
            )


def _train_student(
    preset, variant, seed, teacher_preset, budget, pairs, learning_rate, run_dir
):
    keras.utils.set_random_seed(seed)
    student = LoReTrack.from_preset(preset, load_weights=False)
    options = VARIANTS[variant]
    notes = {}
    targets = None
    if options is None:
        model, sized = student, student
    else:
        teacher = LoReTrack.from_preset(teacher_preset)
        options = dict(options)
        share = options.pop("mask_share", None)
        if share is not None:
            energy = teacher_energy(teacher, pairs["train"])
            options["disc_threshold"] = threshold_for_share(energy, share)
            notes = {"mask_share": share, "disc_threshold": options["disc_threshold"]}
        model, sized = LoReTrackDistiller(student, teacher, **options), teacher
        targets = teacher_targets(
            model,
            pairs["train"],
            os.path.join(os.path.dirname(teacher_preset), "teacher_targets.npz"),
        )
    steps = budget.student_steps
    model.compile(optimizer=make_optimizer(student, budget, learning_rate, steps))
    fit_run(
        model,
        student,
        pairs=pairs,
        geometry=CropGeometry.of(sized),
        budget=budget,
        steps=steps,
        seed=seed,
        run_dir=run_dir,
        label=f"{variant} seed {seed}",
        notes=notes,
        teacher_targets=targets,
    )


def save_untrained(preset, run_dir):
    """An untrained student as a finished run: the chance level of tracking."""
    if run_done(run_dir):
        return
    keras.utils.set_random_seed(0)
    LoReTrack.from_preset(preset, load_weights=False).save_to_preset(
        os.path.join(run_dir, "preset")
    )
    write_json(
        os.path.join(run_dir, "history.json"),
        {"history": {"val_iou": [float("nan")]}, "train_seconds": 0.0},
    )
