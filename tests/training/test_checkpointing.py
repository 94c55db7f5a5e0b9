import json
import os

import keras
import numpy as np
import pytest

from keras_loretrack import LoReTrack
from keras_loretrack.data.crops import CropGeometry
from keras_loretrack.data.pipeline import make_training_dataset
from keras_loretrack.models.loretrack_distiller import LoReTrackDistiller
from keras_loretrack.sequences.procedural import procedural_dataset
from keras_loretrack.training import (
    EpochCheckpoint,
    build_optimizer,
    latest_checkpoint,
    restore_checkpoint,
)
from tests.presets import TINY_TEST

EPOCHS, STEPS, BATCH = 3, 2, 2


class Killed(Exception):
    pass


class KillAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise Killed(f"killed after epoch {self.epoch}")


@pytest.fixture(scope="module")
def sequences():
    return procedural_dataset(2, num_frames=12, image_size=(96, 128))


def build(seed):
    keras.utils.set_random_seed(seed)
    teacher = LoReTrack.from_preset(TINY_TEST, load_weights=False)
    student = LoReTrack.from_preset(
        TINY_TEST,
        load_weights=False,
        search_size=32,
        template_size=16,
        drop_path_rate=0.3,
    )
    distiller = LoReTrackDistiller(student, teacher)
    distiller.compile(
        optimizer=build_optimizer(
            student.backbone.trainable_variables,
            1e-3,
            epochs=EPOCHS,
            steps_per_epoch=STEPS,
            decay_epoch=2,
        ),
        run_eagerly=True,  # tracing would dominate these few tiny steps
    )
    return distiller


def train(model, sequences, initial_epoch, callbacks):
    data = make_training_dataset(
        [sequences],
        geometry=CropGeometry(64, 32, 5.0, 2.0),
        batch_size=BATCH,
        samples_per_epoch=STEPS * BATCH,
        seed=3,
        initial_epoch=initial_epoch,
        num_parallel_calls=1,
    )
    model.fit(
        data,
        epochs=EPOCHS,
        steps_per_epoch=STEPS,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        shuffle=False,
        verbose=0,
    )


def test_killed_and_resumed_run_equals_uninterrupted_run(tmp_path, sequences):
    uninterrupted = build(seed=0)
    train(uninterrupted, sequences, 0, [])

    directory = tmp_path / "checkpoints"
    killed = build(seed=0)
    with pytest.raises(Killed):
        train(killed, sequences, 0, [EpochCheckpoint(directory), KillAfterEpoch(2)])
    state = json.loads((directory / "checkpoint.json").read_text())
    assert state["epoch"] == 2 and state["weights"] == "epoch-0002.weights.h5"
    # One drop-path generator per block, teacher and student.
    assert len(state["generator_states"]) == 4
    # A write torn by the kill leaves only a temporary file behind.
    (directory / ".tmp-epoch-0003.weights.h5").write_bytes(b"torn")

    resumed = build(seed=123)
    initial_epoch = restore_checkpoint(resumed, directory)
    assert initial_epoch == 2
    assert int(resumed.optimizer.iterations) == 2 * STEPS
    assert not (directory / ".tmp-epoch-0003.weights.h5").exists()
    train(resumed, sequences, initial_epoch, [EpochCheckpoint(directory)])

    assert latest_checkpoint(directory)["epoch"] == EPOCHS
    assert int(resumed.optimizer.iterations) == EPOCHS * STEPS
    for a, b in zip(uninterrupted.student.weights, resumed.student.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)
    for a, b in zip(uninterrupted.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)


def test_keep_and_empty_directory(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    assert restore_checkpoint(model, tmp_path / "none") == 0
    model.fit(
        np.ones((4, 2)),
        np.ones((4, 1)),
        epochs=3,
        verbose=0,
        callbacks=[EpochCheckpoint(tmp_path, keep=1)],
    )
    assert sorted(os.listdir(tmp_path)) == [
        "checkpoint.json",
        "epoch-0003.json",
        "epoch-0003.weights.h5",
    ]
    with pytest.raises(ValueError, match="keep must be None or >= 1, got 0"):
        EpochCheckpoint(tmp_path, keep=0)


def test_mismatched_checkpoints_raise(tmp_path):
    model = LoReTrack.from_preset(TINY_TEST, load_weights=False)
    model.compile(optimizer="adam")
    callback = EpochCheckpoint(tmp_path)
    callback.set_model(model)
    callback.on_epoch_end(0, {"loss": 1.0})
    # Keras only warns when an optimizer state does not fit; resuming must not.
    with pytest.raises(ValueError, match="does not fit this model.*Skipping"):
        restore_checkpoint(model, tmp_path)

    state = json.loads((tmp_path / "checkpoint.json").read_text())
    del state["generator_states"][0]
    (tmp_path / "checkpoint.json").write_text(json.dumps(state))
    fresh = LoReTrack.from_preset(TINY_TEST, load_weights=False)
    fresh.compile(optimizer=None)
    with pytest.raises(ValueError, match="holds 1 random generator states"):
        restore_checkpoint(fresh, tmp_path)

    os.remove(tmp_path / "epoch-0001.weights.h5")
    with pytest.raises(FileNotFoundError, match="names epoch-0001.weights.h5"):
        latest_checkpoint(tmp_path)
