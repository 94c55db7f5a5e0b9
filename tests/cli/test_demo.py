"""`loretrack demo`: a shipped tracker on procedural clips; videos, boxes, clips out."""

import os

import numpy as np
import pytest

from keras_loretrack.cli.demo import run_demo
from keras_loretrack.cli.main import main
from keras_loretrack.sequences import Sequence
from keras_loretrack.sequences.procedural import procedural_dataset


def test_demo_writes_video_boxes_and_clip_per_clip(tmp_path, capsys):
    status = main(
        ["demo", "--output-dir", str(tmp_path), "--seed", "1", "--clips", "2"]
        + ["--frames", "6"]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "mean SUC" in printed and "fps" in printed
    clips = procedural_dataset(2, seed=1, split="test", num_frames=6)
    assert sorted(os.listdir(tmp_path)) == sorted(
        f"{clip.name}{ext}" for clip in clips for ext in (".mp4", ".txt", "")
    )
    for clip in clips:
        assert (tmp_path / f"{clip.name}.mp4").stat().st_size > 0
        boxes = np.loadtxt(tmp_path / f"{clip.name}.txt", delimiter=",")
        assert boxes.shape == (6, 4)
        np.testing.assert_allclose(boxes[0], clip.ground_truth[0], atol=1e-3)
        written = Sequence.from_otb_folder(tmp_path / clip.name)
        assert len(written) == 6
        visible = np.ones(6, bool) if clip.visible is None else clip.visible
        np.testing.assert_allclose(
            written.ground_truth[visible], clip.ground_truth[visible], atol=1e-3
        )
        assert np.isnan(written.ground_truth[~visible]).all()


def test_demo_prints_a_track_command_that_runs(tmp_path, capsys):
    assert main(["demo", "--output-dir", str(tmp_path), "--frames", "4"]) == 0
    command = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert command[:2] == ["loretrack", "track"]
    output = tmp_path / "tracked.txt"
    assert main(command[1:-2] + ["--output-boxes", str(output)]) == 0
    assert np.loadtxt(output, delimiter=",").shape == (4, 4)


def test_demo_argument_errors_are_one_line(tmp_path, capsys):
    assert main(["demo", "--output-dir", str(tmp_path), "--clips", "0"]) == 2
    error = capsys.readouterr().err
    assert error == "loretrack demo: --clips must be at least 1, got 0\n"
    assert not os.listdir(tmp_path)


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
