"""Result files: layouts, round trips, atomic writes, errors."""

import os

import numpy as np
import pytest

from keras_loretrack.evaluation import results


def test_pytracking_layout_round_trip(tmp_path, rng):
    directory = results.tracker_dir(tmp_path, "res128", "lasot_test")
    boxes = np.round(rng.uniform(0, 100, (5, 4)), 4)
    times = rng.uniform(0.01, 0.1, 5)
    scores = np.array([np.nan, 0.9, 0.8, 0.1, 0.5])
    paths = results.write_result(directory, "cat-1", boxes, times, scores)
    assert paths.boxes == os.path.join(tmp_path, "res128", "lasot_test", "cat-1.txt")
    assert os.path.basename(paths.times) == "cat-1_time.txt"
    assert os.path.basename(paths.scores) == "cat-1_score.txt"
    assert sorted(os.listdir(directory)) == [
        "cat-1.txt",
        "cat-1_score.txt",
        "cat-1_time.txt",
    ]  # no temporary file left
    with open(paths.boxes) as f:
        assert f.readline().count(",") == 3
    read = results.read_result(directory, "cat-1")
    np.testing.assert_allclose(read["boxes"], boxes, rtol=0, atol=1e-9)
    np.testing.assert_allclose(read["times"], times, atol=1e-8)
    np.testing.assert_allclose(read["scores"], scores, atol=1e-6)
    assert results.has_result(directory, "cat-1")
    assert not results.has_result(directory, "cat-2")


def test_got10k_submission_layout(tmp_path):
    assert results.layout_for("got10k_test") == "got10k"
    assert results.layout_for("lasot_test") == "pytracking"
    directory = results.tracker_dir(tmp_path, "res128", "got10k_test")
    boxes = [[1, 2, 3, 4], [2, 3, 4, 5]]
    results.write_result(
        directory, "GOT-10k_Test_000001", boxes, [0.5, 0.25], [np.nan, 1.0], "got10k"
    )
    folder = os.path.join(directory, "GOT-10k_Test_000001")
    assert sorted(os.listdir(folder)) == [
        "GOT-10k_Test_000001_001.txt",
        "GOT-10k_Test_000001_time.txt",
    ]
    read = results.read_result(directory, "GOT-10k_Test_000001", "got10k")
    np.testing.assert_array_equal(read["boxes"], boxes)
    np.testing.assert_array_equal(read["times"], [0.5, 0.25])
    assert read["scores"] is None


def test_result_errors(tmp_path):
    directory = tmp_path / "t" / "d"
    with pytest.raises(FileNotFoundError, match=r"Result file not found: .*seq.txt"):
        results.read_result(directory, "seq")
    with pytest.raises(ValueError, match=r"times must have shape \(2,\)"):
        results.write_result(directory, "seq", [[1, 2, 3, 4]] * 2, times=[1.0])
    with pytest.raises(ValueError, match="layout must be one of"):
        results.result_paths(directory, "seq", "vot")
    with pytest.raises(ValueError, match="plain file name"):
        results.tracker_dir(tmp_path, "a/b", "otb")
    results.write_result(directory, "seq", [[1, 2, 3, 4]] * 2)
    (directory / "seq_time.txt").write_text("0.1\n0.2\n0.3\n")
    with pytest.raises(ValueError, match=r"seq_time.txt: expected 2 values"):
        results.read_result(directory, "seq")
