"""tflite/run_tflite.py, the keras_loretrack-free phone recipe, tracks like Tracker."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from keras_loretrack.tracking import Tracker

pytestmark = pytest.mark.export
SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "tflite" / "run_tflite.py"
FRAMES = 12


@pytest.mark.parametrize("quantization", ["none", "int8"])
def test_standalone_script_gives_the_trackers_boxes(
    quantization, exported, sequences_dir, tmp_path
):
    from keras_loretrack.sequences import Sequence

    sequence = Sequence.from_otb_folder(sequences_dir / "Crossing")
    frames = tmp_path / "img"
    frames.mkdir()
    for path in sequence.frames[:FRAMES]:
        (frames / pathlib.Path(path).name).symlink_to(path)
    model = exported("tflite", quantization)
    init = ",".join(f"{v:.2f}" for v in sequence.init_box)
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            model,
            str(frames),
            "--init",
            init,
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    script_boxes = np.array(
        [[float(v) for v in line.split(",")] for line in result.stdout.split()]
    )
    tracker = Tracker.from_file(model, num_threads=1)
    boxes = [
        tracker.initialize(sequence.frame(0), np.round(sequence.init_box, 2))["box"]
    ]
    boxes += [tracker.track(sequence.frame(i))["box"] for i in range(1, FRAMES)]
    assert script_boxes.shape == (FRAMES, 4)
    np.testing.assert_allclose(script_boxes, np.array(boxes), atol=0.011)


def test_standalone_script_orders_frames_naturally():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_tflite", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    names = ["img10.jpg", "img2.jpg", "img1.jpg"]
    expected = ["img1.jpg", "img2.jpg", "img10.jpg"]
    assert sorted(names, key=script.natural_key) == expected
