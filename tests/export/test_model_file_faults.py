"""Corrupt, empty or truncated exported files: one clear error naming the file."""

import os

import cv2
import numpy as np
import pytest

from keras_loretrack.cli.main import main
from keras_loretrack.tracking import Tracker


def damaged(path, tmp_path, how):
    data = open(path, "rb").read()
    target = tmp_path / f"{how}{os.path.splitext(path)[1]}"
    target.write_bytes(
        {"random": os.urandom(3000), "empty": b"", "half": data[: len(data) // 2]}[how]
    )
    return target


@pytest.mark.parametrize(
    "fmt, how, message",
    [
        ("tflite", "random", "is not a TFLite model (no TFL3 identifier"),
        ("tflite", "empty", "is empty, not a TFLite model"),
        ("tflite", "half", "is not a valid TFLite model (truncated or corrupt)"),
        ("onnx", "random", "is not a valid ONNX model"),
        ("onnx", "empty", "is not a valid ONNX model"),
        ("onnx", "half", "is not a valid ONNX model"),
    ],
)
def test_damaged_model_files(exported, tmp_path, fmt, how, message):
    path = damaged(exported(fmt, "none"), tmp_path, how)
    with pytest.raises(ValueError) as error:
        Tracker.from_file(path)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)


def test_the_cli_reports_a_damaged_model_in_one_line(exported, tmp_path, capsys):
    path = damaged(exported("onnx", "none"), tmp_path, "half")
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0001.jpg"), np.zeros((48, 64, 3), np.uint8))
    status = main(
        ["track", "--model", str(path), "--frames", str(frames), "--init", "1,1,5,5"]
    )
    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith(f"loretrack track: {path} is not a valid ONNX model")
    assert error.count("\n") == 1
