"""Metrics against the independent `got10k` package on the same boxes.

The OTB experiment of got10k computes success (IoU > t at 21 thresholds) and
precision (centre error <= 0..50 px) over all frames, with the first box set to
the ground truth: the same definitions as pytracking on sequences whose frames
are all valid. It has no invalid-frame or zero-size rules (it would score an
invalid frame IoU 0, not -1) and divides by `union + eps`, so the comparison
feeds valid ground truth and predictions with w, h > 0. Its GOT-10k experiment
(val split) computes AO and SR0.5 over frames 1.. with cover > 0, both boxes
clipped to the image, which `got10k_frame_ious(..., image_size=...)` mirrors.
"""

import numpy as np
import pytest

from keras_loretrack.evaluation import analysis, get_dataset, metrics
from keras_loretrack.evaluation.results import write_result

experiments = pytest.importorskip("got10k.experiments")

# OTB-2015 names without got10k special cases (frame ranges, two targets).
OTB_NAMES = ("Basketball", "Biker", "Bird1", "Car4")


def _predictions(rng, gt, files):
    """Noisy boxes, some far off, some large, all with w, h > 0."""
    pred = gt + rng.normal(0, 4, gt.shape)
    pred[:, 2:] = np.abs(pred[:, 2:]) + 1
    lost = rng.random(len(gt)) < 0.2
    pred[lost] = files.random_boxes(rng, int(lost.sum()), (400, 300))
    return pred


def test_otb_scores_match_got10k(tmp_path, rng, files):
    from got10k.datasets import OTB

    root, results = tmp_path / "OTB", tmp_path / "results"
    names = OTB._OTB__version_dict[2015]
    for name in names:
        (root / name).mkdir(parents=True)
    curves = []
    for name in OTB_NAMES:
        count = int(rng.integers(30, 80))
        gt = np.round(files.random_boxes(rng, count, (200, 150)), 1)
        files.boxes(root / name / "groundtruth_rect.txt", gt)
        for index in range(1, count + 1):
            (root / name / "img" / f"{index:04d}.jpg").parent.mkdir(exist_ok=True)
            (root / name / "img" / f"{index:04d}.jpg").touch()  # got10k only lists
        pred = _predictions(rng, gt, files)
        write_result(results / "OTB2015" / "noisy", name, pred)
        stored = np.loadtxt(
            results / "OTB2015" / "noisy" / f"{name}.txt", delimiter=","
        )
        curves.append(metrics.sequence_curves(metrics.sequence_errors(stored, gt)))
    experiment = experiments.ExperimentOTB(
        str(root), 2015, str(results), str(tmp_path / "reports")
    )
    reference = experiment.report(["noisy"])["noisy"]
    for name, sequence_curves in zip(OTB_NAMES, curves):
        expected = reference["seq_wise"][name]
        np.testing.assert_allclose(
            sequence_curves["success"], expected["success_curve"], atol=1e-12
        )
        np.testing.assert_allclose(
            sequence_curves["precision"], expected["precision_curve"], atol=1e-12
        )
    scores = metrics.summarize(curves)
    overall = reference["overall"]
    assert 0.2 < overall["success_score"] < 0.9  # a non-trivial case
    assert scores["auc"] == pytest.approx(100 * overall["success_score"], abs=1e-9)
    assert scores["precision"] == pytest.approx(
        100 * overall["precision_score"], abs=1e-9
    )
    assert scores["op50"] == pytest.approx(100 * overall["success_rate"], abs=1e-9)


def test_got10k_val_scores_match_got10k(tmp_path, rng, files, got10k_root):
    dataset = get_dataset("got10k", got10k_root, "val")
    results = tmp_path / "results"
    for sequence in dataset:
        pred = _predictions(rng, sequence.ground_truth, files)
        pred[2, :2] = [-20, 70]  # partly outside the 100x80 image: clipped
        write_result(
            results / "GOT-10k" / "noisy",
            sequence.name,
            pred,
            times=np.full(len(pred), 0.01),
            layout="got10k",
        )
    experiment = experiments.ExperimentGOT10k(
        str(got10k_root), "val", str(results), str(tmp_path / "reports")
    )
    reference = experiment.report(["noisy"])["noisy"]
    # The analysis reads the same files: got10k's results/GOT-10k/<tracker>/
    # is our results/<tracker>/<dataset>/ with tracker "GOT-10k".
    report = analysis.compute_report(
        results, "noisy", dataset, trackers=["GOT-10k"], layout="got10k"
    )["trackers"]["GOT-10k"]
    assert 10 < report["ao"] < 90
    assert report["ao"] == pytest.approx(100 * reference["overall"]["ao"], abs=1e-9)
    assert report["sr50"] == pytest.approx(100 * reference["overall"]["sr"], abs=1e-9)
    for name, expected in reference["seq_wise"].items():
        assert report["sequences"][name]["ao"] == pytest.approx(
            100 * expected["ao"], abs=1e-9
        )
