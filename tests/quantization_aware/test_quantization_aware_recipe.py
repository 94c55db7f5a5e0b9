"""`recipes/quantization_aware.py` end to end on a tiny preset with weights."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tests.quantization_aware.conftest import tiny_model

pytestmark = pytest.mark.export
pytest.importorskip("ai_edge_litert")
pytest.importorskip("onnxruntime")

REPO = pathlib.Path(__file__).resolve().parents[2]


def run_recipe(*arguments):
    return subprocess.run(
        [sys.executable, str(REPO / "recipes" / "quantization_aware.py"), *arguments],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2"),
        timeout=300,
        check=False,
    )


def test_the_recipe_fine_tunes_saves_and_exports(tmp_path):
    from keras_loretrack.quantization_aware import RANGES_FILE
    from keras_loretrack.tracking import Tracker

    tiny_model().save_to_preset(tmp_path / "tiny")
    output = tmp_path / "run"

    result = run_recipe(
        f"--preset={tmp_path / 'tiny'}",
        "--data=procedural=2",
        "--batch-size=2",
        "--samples-per-epoch=4",
        "--workers=1",
        "--skip-eval",
        "--verbose=2",
        "--weight-bits=7",
        "--attention-probabilities",
        "--no-distillation",
        "--export=onnx:int8",
        f"--output={output}",
    )

    assert result.returncode == 0, result.stderr[-3000:]
    ranges = json.loads((output / "preset" / RANGES_FILE).read_text())
    assert ranges["weight_bits"] == 7
    assert ranges["attention_probabilities"] is True
    assert {layer["batches"] for layer in ranges["layers"].values()} <= {2, 4}
    tracker = Tracker.from_file(output / "model_int8.onnx")
    tracker.initialize(np.zeros((120, 160, 3), np.uint8), (60, 40, 30, 30))
    assert len(tracker.track(np.zeros((120, 160, 3), np.uint8))["box"]) == 4


def test_a_bad_export_target_stops_before_training(tmp_path):
    result = run_recipe(
        "--preset=mini_student", "--export=onnx:int8-mixed", f"--output={tmp_path}"
    )

    assert result.returncode == 2
    assert "argument --export: Export target must be one of" in result.stderr
    assert "got 'onnx:int8-mixed'" in result.stderr
    assert not os.listdir(tmp_path)
