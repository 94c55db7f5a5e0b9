"""Analysis: report scores, table, JSON and plots for several trackers."""

import json

import cv2
import numpy as np
import pytest

from keras_loretrack.evaluation import Sequence, analysis, get_dataset, metrics
from keras_loretrack.evaluation.results import tracker_dir, write_result


def blank_frame(index):
    return np.zeros((8, 8, 3), np.uint8)


@pytest.fixture
def sequences(rng, files):
    made = []
    for k in range(3):
        gt = files.random_boxes(rng, 10 + k, (200, 150))
        gt[5] = np.nan if k == 0 else gt[5]
        made.append(Sequence(f"s{k}", blank_frame, gt, num_frames=10 + k))
    return made


@pytest.fixture
def results_dir(tmp_path, sequences, rng):
    """Results of "exact" (the ground truth) and "drifting" (x + 3 px per frame)."""
    for sequence in sequences:
        gt = np.nan_to_num(sequence.ground_truth, nan=1.0)
        drift = gt + np.arange(len(gt))[:, None] * [3.0, 0, 0, 0]
        times = np.full(len(gt), 0.02)
        for name, boxes in (("exact", gt), ("drifting", drift)):
            directory = tracker_dir(tmp_path, name, "fake")
            write_result(directory, sequence.name, boxes, times)
    return tmp_path


def test_report_scores_and_outputs(results_dir, sequences, tmp_path):
    report = analysis.compute_report(results_dir, "fake", sequences)
    assert list(report["trackers"]) == ["drifting", "exact"]
    exact = report["trackers"]["exact"]
    # s0 has an unannotated frame: 1 of its 10 frames can never succeed.
    assert exact["precision"] == pytest.approx(100 * (0.9 + 1 + 1) / 3)
    assert exact["auc"] == pytest.approx(100 * (0.9 + 1 + 1) / 3 * 20 / 21)
    assert exact["fps"] == pytest.approx(50.0)
    drifting = report["trackers"]["drifting"]
    expected = metrics.summarize(
        [
            metrics.sequence_curves(
                metrics.sequence_errors(
                    np.nan_to_num(s.ground_truth, nan=1.0)
                    + np.arange(len(s))[:, None] * [3.0, 0, 0, 0],
                    s.ground_truth,
                )
            )
            for s in sequences
        ]
    )
    for key in ("auc", "precision", "normalized_precision", "op50", "op75"):
        assert drifting[key] == pytest.approx(expected[key])
    assert drifting["auc"] < exact["auc"]
    assert set(drifting["sequences"]) == {"s0", "s1", "s2"}

    table = analysis.format_table(report)
    assert "| Tracker" in table and "SUC (AUC)" in table and "P_norm" in table
    assert f"{exact['auc']:.2f}" in table.splitlines()[-1]

    paths = analysis.write_report(report, tmp_path / "_analysis_fake")
    with open(paths["json"]) as f:
        assert json.load(f) == report
    assert [p.rsplit("/", 1)[1] for p in paths["plots"]] == [
        "success.png",
        "precision.png",
        "normalized_precision.png",
    ]
    for path in paths["plots"]:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert cv2.imread(path).shape == (480, 640, 3)
    # The analysis folder is not mistaken for a tracker.
    assert analysis.find_trackers(results_dir, "fake") == ["drifting", "exact"]


def test_missing_results(results_dir, sequences):
    (results_dir / "drifting" / "fake" / "s1.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"drifting: 1 missing, e.g. \['s1'\]"):
        analysis.compute_report(results_dir, "fake", sequences)
    report = analysis.compute_report(
        results_dir,
        "fake",
        sequences,
        trackers=["exact", "drifting"],
        allow_missing=True,
    )
    assert report["sequences"] == ["s0", "s2"]
    assert list(report["trackers"]) == ["exact", "drifting"]
    with pytest.raises(FileNotFoundError, match="No tracker results"):
        analysis.compute_report(results_dir, "other", sequences)


def test_withheld_ground_truth_is_refused(tmp_path, got10k_root):
    test = get_dataset("got10k", got10k_root)
    write_result(
        tracker_dir(tmp_path, "t", test.result_name),
        test.sequence_names[0],
        [[1, 2, 3, 4]] * 5,
        layout="got10k",
    )
    with pytest.raises(ValueError, match="withheld"):
        analysis.compute_report(tmp_path, test.result_name, test)


def test_got10k_val_report_has_ao(tmp_path, got10k_root):
    val = get_dataset("got10k", got10k_root, "val")
    for sequence in val:
        write_result(
            tracker_dir(tmp_path, "exact", val.result_name),
            sequence.name,
            sequence.ground_truth,
            layout="got10k",
        )
    report = analysis.compute_report(tmp_path, val.result_name, val)
    scores = report["trackers"]["exact"]
    # Result files keep 4 decimals: IoUs within 1e-5 of 1.
    assert scores["ao"] == pytest.approx(100, abs=1e-3)
    assert scores["sr50"] == scores["sr75"] == 100
    assert scores["fps"] is None
    assert "AO" in analysis.format_table(report)
