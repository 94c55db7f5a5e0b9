"""Evaluation under faults: partial results are never taken for complete ones."""

import cv2
import numpy as np
import pytest

from keras_loretrack.cli.main import main
from keras_loretrack.evaluation import run_evaluation, write_result
from keras_loretrack.evaluation.results import has_result
from keras_loretrack.sequences import Sequence
from tests.presets import TINY_TEST


class StillTracker:
    """Reports the initial box on every frame."""

    def initialize(self, frame, box):
        self.box = np.asarray(box, np.float64)
        return {"box": self.box}

    def track(self, frame):
        return {"box": self.box, "score": 1.0}


def sequence(name, frames=6):
    return Sequence(
        name=name,
        frames=lambda i: np.zeros((20, 30, 3), np.uint8),
        num_frames=frames,
        ground_truth=np.tile([[2.0, 3.0, 10.0, 8.0]], (frames, 1)),
    )


def test_a_partial_result_is_tracked_again(tmp_path):
    directory = tmp_path / "t" / "d"
    write_result(directory, "a", np.tile([[2.0, 3, 10, 8]], (3, 1)))
    write_result(directory, "b", np.tile([[2.0, 3, 10, 8]], (6, 1)))
    assert has_result(directory, "a") and not has_result(directory, "a", num_frames=6)
    summary = run_evaluation(
        StillTracker, [sequence("a"), sequence("b")], tmp_path, "t", "d", progress=False
    )
    assert summary["incomplete"] == ["a"] and summary["tracked"] == ["a"]
    assert summary["skipped"] == ["b"]
    assert has_result(directory, "a", num_frames=6)


def test_a_complete_result_survives_a_shorter_run(tmp_path):
    directory = tmp_path / "t" / "d"
    write_result(directory, "a", np.tile([[1.0, 1, 5, 5]], (6, 1)))
    before = (directory / "a.txt").read_bytes()
    summary = run_evaluation(
        StillTracker, [sequence("a", frames=3)], tmp_path, "t", "d", progress=False
    )
    assert summary["skipped"] == ["a"] and not summary["tracked"]
    assert (directory / "a.txt").read_bytes() == before


def write_clip(folder, frames=4):
    """One OTB-layout sequence `seq` under `folder`."""
    root = folder / "seq"
    (root / "img").mkdir(parents=True)
    for i in range(frames):
        image = np.zeros((48, 64, 3), np.uint8)
        cv2.rectangle(image, (20, 15), (35, 30), (255, 255, 255), -1)
        cv2.imwrite(str(root / "img" / f"{i + 1:04d}.jpg"), image)
    (root / "groundtruth_rect.txt").write_text("20,15,15,15\n" * frames)


def test_eval_says_it_retracks_partial_results(tmp_path, capsys):
    write_clip(tmp_path / "clips")
    argv = ["eval", "--preset", TINY_TEST, "--no-weights", "--dataset", "folder"]
    argv += ["--root", str(tmp_path / "clips"), "--results", str(tmp_path / "r")]
    argv += ["--tracker-name", "t", "--no-progress"]
    assert main(argv + ["--max-frames", "2"]) == 0
    capsys.readouterr()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "tracked again 1 results that held fewer boxes than frames" in out
    assert "tracked 1 sequences (4 frames" in out


@pytest.mark.parametrize(
    "argv_tail, message",
    [
        (["--workers", "0"], "--workers must be >= 1, got 0"),
        (["--max-frames", "0"], "--max-frames must be >= 1, got 0"),
        (["--shard", "3/2"], "shard"),
    ],
)
def test_eval_argument_errors_are_one_line(tmp_path, capsys, argv_tail, message):
    write_clip(tmp_path / "clips")
    argv = ["eval", "--preset", TINY_TEST, "--no-weights", "--dataset", "folder"]
    argv += ["--root", str(tmp_path / "clips"), "--results", str(tmp_path / "r")]
    assert main(argv + argv_tail) == 2
    error = capsys.readouterr().err
    assert error.startswith("loretrack eval: ") and error.count("\n") == 1
    assert message in error
    assert not (tmp_path / "r").exists()
