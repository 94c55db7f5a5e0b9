"""`pack_submission`: eval's results into the GOT-10k / TrackingNet server zips."""

import os
import zipfile

import numpy as np
import pytest

from keras_loretrack.evaluation import get_dataset, run_evaluation, write_result
from keras_loretrack.evaluation.submission import SubmissionError, pack_submission

GOT10K_TEST = ("GOT-10k_Test_000001", "GOT-10k_Test_000002", "GOT-10k_Test_000003")
TRACKINGNET_TEST = ("vid_a", "vid_b")
COUNTS = (4, 6, 5)


class Drifter:
    """A deterministic tracker: the initial box moved by 1.25 px per frame."""

    def initialize(self, frame, box):
        self.box = np.asarray(box, np.float64)

    def track(self, frame):
        self.box = self.box + [1.25, 0.5, 0.0, 0.0]
        return {"box": self.box.copy(), "score": 0.5}


@pytest.fixture
def got10k_test_root(tmp_path, files):
    root = tmp_path / "GOT10k"
    files.text(root / "test" / "list.txt", "\n".join(GOT10K_TEST) + "\n")
    for name, count in zip(GOT10K_TEST, COUNTS):
        files.text(root / "test" / name / "groundtruth.txt", "10,12,30,20\n")
        for index in range(1, count + 1):
            files.image(root / "test" / name / f"{index:08d}.jpg", index)
    return root


@pytest.fixture
def trackingnet_root(tmp_path, files):
    root = tmp_path / "TrackingNet"
    for name, count in zip(TRACKINGNET_TEST, COUNTS):
        files.text(root / "TEST" / "anno" / f"{name}.txt", "5,6,20,10\n")
        for index in range(count):
            files.image(root / "TEST" / "frames" / name / f"{index}.jpg", index)
    return root


def evaluate(root, dataset, split, results, tracker="drifter"):
    data = get_dataset(dataset, root, split)
    run_evaluation(Drifter, data, results, tracker, data.result_name, progress=False)
    return os.path.join(results, tracker, data.result_name)


def expected_boxes(init, count):
    steps = np.arange(count)[:, None] * [1.25, 0.5, 0.0, 0.0]
    return np.asarray(init, np.float64) + steps


def test_got10k_round_trip(got10k_test_root, tmp_path):
    results = str(tmp_path / "results")
    evaluate(got10k_test_root, "got10k", "test", results)
    output = tmp_path / "out" / "submission.zip"
    summary = pack_submission("got10k", results, got10k_test_root, output)
    assert summary["sequences"] == 3 and summary["frames"] == sum(COUNTS)
    assert summary["directory"].endswith(os.path.join("drifter", "got10k_test"))
    with zipfile.ZipFile(output) as archive:
        names = archive.namelist()
        expected = []
        for name in GOT10K_TEST:
            expected += [
                f"{name}/",
                f"{name}/{name}_001.txt",
                f"{name}/{name}_time.txt",
            ]
        assert names == expected
        for name, count in zip(GOT10K_TEST, COUNTS):
            text = archive.read(f"{name}/{name}_001.txt").decode()
            lines = text.splitlines()
            assert len(lines) == count
            assert lines[0] == "10.0000,12.0000,30.0000,20.0000"
            assert lines[2] == "12.5000,13.0000,30.0000,20.0000"
            times = archive.read(f"{name}/{name}_time.txt").decode().splitlines()
            assert len(times) == count and all(float(t) >= 0 for t in times)
            assert all(len(t.split(".")[1]) == 8 for t in times)
    # The same results pack to the same bytes; the folder path works too.
    again = tmp_path / "again.zip"
    pack_submission("got10k", summary["directory"], got10k_test_root, again)
    assert again.read_bytes() == output.read_bytes()


def test_trackingnet_round_trip(trackingnet_root, tmp_path):
    results = str(tmp_path / "results")
    evaluate(trackingnet_root, "trackingnet", "TEST", results)
    output = tmp_path / "tn.zip"
    summary = pack_submission("trackingnet", results, trackingnet_root, output)
    assert summary["sequences"] == 2
    with zipfile.ZipFile(output) as archive:
        assert archive.namelist() == ["vid_a.txt", "vid_b.txt"]
        for name, count in zip(TRACKINGNET_TEST, COUNTS):
            boxes = np.loadtxt(archive.open(f"{name}.txt"), delimiter=",")
            np.testing.assert_allclose(boxes, expected_boxes((5, 6, 20, 10), count))


@pytest.fixture
def got10k_results(got10k_test_root, tmp_path):
    """(results root, tracker folder) of a finished GOT-10k test run."""
    results = str(tmp_path / "results")
    return results, evaluate(got10k_test_root, "got10k", "test", results)


def refused(root, results, match, output=None, error=SubmissionError, **kwargs):
    output = output or os.path.join(os.path.dirname(results), "refused.zip")
    with open(output, "wb") as f:
        f.write(b"previous")
    with pytest.raises(error, match=match) as info:
        pack_submission("got10k", results, root, output, **kwargs)
    assert "\n" not in str(info.value)
    with open(output, "rb") as f:
        assert f.read() == b"previous"  # untouched
    assert not [f for f in os.listdir(os.path.dirname(output)) if ".partial-" in f]


def test_refuses_a_missing_sequence(got10k_test_root, got10k_results):
    results, folder = got10k_results
    os.remove(os.path.join(folder, GOT10K_TEST[1], f"{GOT10K_TEST[1]}_001.txt"))
    refused(got10k_test_root, results, rf"^{GOT10K_TEST[1]}: no result")


def test_refuses_an_unfinished_sequence(got10k_test_root, got10k_results):
    results, folder = got10k_results
    seq = os.path.join(folder, GOT10K_TEST[2])
    os.remove(os.path.join(seq, f"{GOT10K_TEST[2]}_001.txt"))
    with open(os.path.join(seq, ".partial-abc.txt"), "w") as f:
        f.write("1,2")
    refused(got10k_test_root, results, rf"^{GOT10K_TEST[2]}: unfinished result")


def test_refuses_a_partial_result(got10k_test_root, got10k_results):
    # What `loretrack eval --max-frames 3` leaves: 3 rows for 6 frames.
    results, folder = got10k_results
    name = GOT10K_TEST[1]
    write_result(
        folder, name, expected_boxes((10, 12, 30, 20), 3), np.ones(3), None, "got10k"
    )
    refused(
        got10k_test_root, results, rf"^{name}: partial result, 3 boxes for 6 frames"
    )


def test_refuses_nan(got10k_test_root, got10k_results):
    results, folder = got10k_results
    name = GOT10K_TEST[0]
    boxes = expected_boxes((10, 12, 30, 20), 4)
    boxes[2, 1] = np.nan
    write_result(folder, name, boxes, np.ones(4), layout="got10k")
    refused(got10k_test_root, results, rf"^{name}: box of frame 2 is not finite")


def test_refuses_missing_or_short_times(got10k_test_root, got10k_results):
    results, folder = got10k_results
    name = GOT10K_TEST[0]
    times = os.path.join(folder, name, f"{name}_time.txt")
    with open(times, "w") as f:
        f.write("0.1\n0.1\n")
    refused(got10k_test_root, results, rf"^{name}: .*expected 4 values")
    os.remove(times)
    refused(got10k_test_root, results, rf"^{name}: no time file")


def test_refuses_to_write_into_the_results(got10k_test_root, got10k_results):
    results, folder = got10k_results
    refused(
        got10k_test_root,
        results,
        "inside the results",
        output=os.path.join(folder, "sub.zip"),
        error=ValueError,
    )


def test_picks_the_tracker(got10k_test_root, got10k_results, tmp_path):
    results, _ = got10k_results
    evaluate(got10k_test_root, "got10k", "test", results, tracker="other")
    refused(
        got10k_test_root, results, "Several trackers .*drifter, other", error=ValueError
    )
    output = tmp_path / "picked.zip"
    summary = pack_submission(
        "got10k", results, got10k_test_root, output, tracker_name="other"
    )
    assert summary["directory"].endswith(os.path.join("other", "got10k_test"))
    refused(
        got10k_test_root,
        results,
        "No got10k_test results of tracker 'nobody'",
        error=FileNotFoundError,
        tracker_name="nobody",
    )
    with pytest.raises(ValueError, match="must be a .zip"):
        pack_submission("got10k", results, got10k_test_root, tmp_path / "x.tar")
