"""Training checkpoints under faults: bounded on disk, resumable past damage."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_loretrack.training import EpochCheckpoint, restore_checkpoint

RECIPES = os.path.join(os.path.dirname(__file__), "..", "..", "recipes")


def model(width=3):
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(width)])
    net.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return net


def fit(net, directory, epochs, initial_epoch=0, keep=2, val=True):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = rng.normal(size=(16, net.output_shape[-1])).astype("float32")
    net.fit(
        x,
        y,
        epochs=epochs,
        initial_epoch=initial_epoch,
        batch_size=8,
        verbose=0,
        shuffle=False,
        validation_data=(x, y) if val else None,
        callbacks=[EpochCheckpoint(directory, keep=keep)],
    )


def weight_files(directory):
    return sorted(f for f in os.listdir(directory) if f.endswith(".weights.h5"))


def test_six_epochs_keep_the_last_two_and_the_best_and_resume(tmp_path, monkeypatch):
    directory = tmp_path / "checkpoints"
    losses = iter([0.5, 0.1, 0.7, 0.8, 0.9, 0.95])

    def on_epoch_end(self, epoch, logs=None):
        original(self, epoch, {**(logs or {}), "val_loss": next(losses)})

    original = EpochCheckpoint.on_epoch_end
    monkeypatch.setattr(EpochCheckpoint, "on_epoch_end", on_epoch_end)
    fit(model(), directory, epochs=6)
    assert weight_files(directory) == [
        "epoch-0002.weights.h5",
        "epoch-0005.weights.h5",
        "epoch-0006.weights.h5",
    ]
    assert restore_checkpoint(model(), directory) == 6


def test_keep_none_keeps_every_epoch(tmp_path):
    fit(model(), tmp_path, epochs=4, keep=None, val=False)
    assert len(weight_files(tmp_path)) == 4


def test_a_damaged_last_checkpoint_falls_back_to_the_previous(tmp_path, capsys):
    net = model()
    fit(net, tmp_path, epochs=3, keep=None, val=False)
    last = tmp_path / "epoch-0003.weights.h5"
    last.write_bytes(last.read_bytes()[:500])
    fresh = model()
    assert restore_checkpoint(fresh, tmp_path) == 2
    error = capsys.readouterr().err
    assert f"Checkpoint {last} is damaged" in error
    assert "Resuming from epoch 2" in error


def test_every_checkpoint_damaged_is_an_error(tmp_path):
    fit(model(), tmp_path, epochs=2, keep=None, val=False)
    for name in weight_files(tmp_path):
        (tmp_path / name).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="Every checkpoint in .* is damaged"):
        restore_checkpoint(model(), tmp_path)


def test_resuming_another_architecture_names_the_checkpoint(tmp_path):
    fit(model(width=3), tmp_path, epochs=1, val=False)
    with pytest.raises(ValueError) as error:
        restore_checkpoint(model(width=5), tmp_path)
    message = str(error.value)
    assert "epoch-0001.weights.h5 does not fit this model" in message
    assert "resume with the preset and options the run was started with" in message


def test_a_damaged_pointer_file_still_resumes_from_the_epoch_files(tmp_path):
    fit(model(), tmp_path, epochs=2, keep=None, val=False)
    (tmp_path / "checkpoint.json").write_text("{not json")
    assert restore_checkpoint(model(), tmp_path) == 2


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--keep-checkpoints", "-1"], "--keep-checkpoints: must be >= 0, got -1"),
        (["--strategy", "gpu9"], "--strategy: invalid choice: 'gpu9'"),
        (["--epochs", "two"], "--epochs: invalid int value: 'two'"),
    ],
)
def test_recipe_argument_errors_are_one_line(tmp_path, flags, message):
    result = subprocess.run(
        [sys.executable, os.path.join(RECIPES, "train_baseline.py")]
        + ["--preset", "mini_student", "--output", str(tmp_path / "run")]
        + flags,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()
