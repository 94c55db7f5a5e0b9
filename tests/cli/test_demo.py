"""`loretrack demo`: the shipped student on procedural clips, videos and boxes out."""

import os

import numpy as np
import pytest

from keras_loretrack.cli.demo import run_demo
from keras_loretrack.cli.main import main
from keras_loretrack.sequences.procedural import procedural_dataset


def test_demo_writes_video_and_boxes_per_clip(tmp_path, capsys):
    status = main(
        ["demo", "--output-dir", str(tmp_path), "--seed", "1", "--clips", "2"]
        + ["--frames", "6"]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "mean SUC" in printed and "fps" in printed
    clips = procedural_dataset(2, seed=1, split="test", num_frames=6)
    assert sorted(os.listdir(tmp_path)) == sorted(
        f"{clip.name}.{ext}" for clip in clips for ext in ("mp4", "txt")
    )
    for clip in clips:
        assert (tmp_path / f"{clip.name}.mp4").stat().st_size > 0
        boxes = np.loadtxt(tmp_path / f"{clip.name}.txt", delimiter=",")
        assert boxes.shape == (6, 4)
        np.testing.assert_allclose(boxes[0], clip.ground_truth[0], atol=1e-3)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"frames": 1}, "--frames must be at least 2, got 1"),
        ({"clips": 0}, "--clips must be at least 1, got 0"),
        ({"seed": -1}, "--seed must be >= 0, got -1"),
    ],
)
def test_demo_rejects_bad_arguments(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        run_demo(str(tmp_path), **arguments)
