"""Metrics on hand-computed cases (the got10k package comparison is separate)."""

import numpy as np
import pytest

from keras_loretrack.evaluation import metrics
from keras_loretrack.evaluation.metrics import MetricRules

GT = np.array([[10.0, 10, 10, 10]] * 4)


def test_iou_and_center_errors_by_hand():
    a = np.array([[0.0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 4, 4]])
    b = np.array([[5.0, 5, 10, 10], [20, 0, 10, 10], [2, 1, 2, 2]])
    np.testing.assert_allclose(metrics.iou(a, b), [25 / 175, 0.0, 4 / 16])
    # Centres xy + (wh - 1) / 2: (4.5, 4.5) vs (9.5, 9.5).
    np.testing.assert_allclose(metrics.center_error(a, b), [np.sqrt(50), 20.0, 1.0])
    np.testing.assert_allclose(
        metrics.normalized_center_error(a, b),
        [np.sqrt(0.5), 2.0, 0.5],
    )


def test_thresholds_are_strict_for_success_and_inclusive_for_precision():
    gt = np.array([[0.0, 0, 10, 10]] * 2)
    # Frame 1: IoU exactly 0.5 (half the box) and centre error 2.5 px.
    half = metrics.sequence_errors([[0, 0, 10, 10], [0, 0, 10, 5]], gt)
    curves = metrics.sequence_curves(half)
    assert half.iou[1] == 0.5
    assert curves["success"][10] == 0.5 and curves["success"][9] == 1.0
    # Frame 1: centre error exactly 20 px counts at the 20 px threshold.
    shifted = metrics.sequence_errors([[0, 0, 10, 10], [20, 0, 10, 10]], gt)
    curves = metrics.sequence_curves(shifted)
    assert curves["precision"][20] == 1.0 and curves["precision"][19] == 0.5
    assert curves["normalized_precision"][-1] == 0.5  # 2.0 > 0.5


def test_first_frame_is_set_to_ground_truth_and_counted():
    errors = metrics.sequence_errors([[500, 500, 3, 3]] + [[10, 10, 10, 10]] * 3, GT)
    np.testing.assert_array_equal(errors.iou, [1, 1, 1, 1])


def test_invalid_frames_count_in_the_denominator():
    gt = GT.copy()
    gt[1] = [10, 10, 0, 10]  # zero width
    gt[2] = np.nan  # no annotation
    errors = metrics.sequence_errors(GT.copy(), gt)
    np.testing.assert_array_equal(errors.valid, [True, False, False, True])
    np.testing.assert_array_equal(errors.iou, [1, -1, -1, 1])
    assert np.isinf(errors.center_error[1:3]).all()
    assert np.isinf(errors.normalized_center_error[1:3]).all()
    curves = metrics.sequence_curves(errors)
    np.testing.assert_allclose(curves["success"][:20], 0.5)
    assert curves["success"][20] == 0.0  # IoU > 1 never
    np.testing.assert_allclose(curves["precision"], 0.5)
    np.testing.assert_allclose(curves["normalized_precision"], 0.5)


def test_invisible_frames_are_invalid():
    visible = np.array([True, True, False, True])
    errors = metrics.sequence_errors(GT.copy(), GT, visible)
    np.testing.assert_array_equal(errors.iou, [1, 1, -1, 1])
    assert metrics.summarize([metrics.sequence_curves(errors)])["op50"] == 75.0


def test_pytracking_quirks_count_invalid_frames_as_hits():
    gt = GT.copy()
    gt[1, 2] = 0  # invalid but not marked invisible
    visible = np.array([True, True, False, True])  # frame 2 invisible
    pred = GT + [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [30, 0, 0, 0]]
    strict = metrics.sequence_errors(pred, gt, visible)
    lasot = metrics.sequence_errors(pred, gt, visible, MetricRules.pytracking("lasot"))
    uav = metrics.sequence_errors(pred, gt, visible, MetricRules.pytracking("uav123"))
    np.testing.assert_array_equal(strict.normalized_center_error[1:3], np.inf)
    np.testing.assert_array_equal(lasot.normalized_center_error[1:3], [-1, np.inf])
    np.testing.assert_array_equal(lasot.center_error[1:3], np.inf)
    np.testing.assert_array_equal(uav.center_error[1:3], [-1, np.inf])
    np.testing.assert_array_equal(uav.iou, strict.iou)
    # Frame 3 is 30 px off: hits are frame 0 (+ frame 1 with the quirk).
    assert metrics.sequence_curves(strict)["normalized_precision"][20] == 0.25
    assert metrics.sequence_curves(lasot)["normalized_precision"][20] == 0.5
    assert metrics.sequence_curves(uav)["precision"][20] == 0.5
    assert metrics.sequence_curves(lasot)["precision"][20] == 0.25


def test_validity_rules():
    gt = GT.copy()
    gt[1, 0] = 0.0  # x == 0: valid for OSTrack, invalid for newer pytracking
    ostrack = metrics.sequence_errors(GT.copy(), gt)
    newer = metrics.sequence_errors(GT.copy(), gt, rules=MetricRules("pytracking"))
    assert ostrack.valid[1] and not newer.valid[1]
    with pytest.raises(ValueError, match="validity must be one of"):
        MetricRules(validity="vot")


def test_zero_size_predictions_take_the_previous_box():
    gt = np.array([[10.0, 10, 10, 10]] * 6)
    gt[4] = np.nan
    pred = np.array(
        [
            [10, 10, 10, 10],
            [0, 0, 0, 5],  # frame 1 -> frame 0's box (the ground truth)
            [12, 10, 10, 10],
            [50, 50, 7, 0],  # frame 3 -> frame 2's box
            [0, 0, 0, 0],  # NaN ground truth: kept (pytracking's rule)
            [0, 0, 10, 0],  # -> frame 4's (kept) zero box
        ],
        dtype=np.float64,
    )
    fixed = metrics.prepare_predictions(pred, gt)
    np.testing.assert_array_equal(fixed[1], gt[0])
    np.testing.assert_array_equal(fixed[3], pred[2])
    np.testing.assert_array_equal(fixed[4], pred[4])
    np.testing.assert_array_equal(fixed[5], pred[4])
    errors = metrics.sequence_errors(pred, gt)
    np.testing.assert_allclose(errors.iou, [1, 1, 80 / 120, 80 / 120, -1, 0])


def test_bad_predictions_raise_clear_errors():
    with pytest.raises(ValueError, match="3 predicted boxes for 4 ground-truth"):
        metrics.sequence_errors(GT[:3], GT, name="seq")
    pred = GT.copy()
    pred[2, 1] = np.nan
    with pytest.raises(ValueError, match="frame 2 is not finite"):
        metrics.sequence_errors(pred, GT)
    pred = GT.copy()
    pred[3, 2] = -1
    with pytest.raises(ValueError, match="frame 3 has a negative size"):
        metrics.sequence_errors(pred, GT)
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        metrics.sequence_errors(np.zeros((4, 3)), GT)


def test_summarize_averages_sequences_then_thresholds():
    good = metrics.sequence_curves(metrics.sequence_errors(GT.copy(), GT))
    bad = metrics.sequence_curves(
        metrics.sequence_errors(
            GT + np.array([[0, 0, 0, 0]] + [[100, 0, 0, 0]] * 3), GT
        )
    )
    scores = metrics.summarize([good, bad])
    # good: IoU 1 on all frames, so S(t) = 1 for t < 1 and 0 at t = 1.
    # bad: only frame 0 (set to the ground truth) counts, S(t) = 0.25 for t < 1.
    np.testing.assert_allclose(scores["curves"]["success"][:20], 0.625)
    assert scores["auc"] == pytest.approx(100 * 0.625 * 20 / 21)
    assert scores["op50"] == scores["op75"] == pytest.approx(62.5)
    assert scores["precision"] == pytest.approx(62.5)
    assert scores["normalized_precision"] == pytest.approx(62.5)
    with pytest.raises(ValueError, match="at least one sequence"):
        metrics.summarize([])


def test_got10k_ious_skip_frame_zero_and_covered_frames():
    gt = np.array([[0.0, 0, 10, 10]] * 4)
    pred = np.array([[50.0, 50, 1, 1], [0, 0, 10, 5], [0, 0, 10, 10], [5, 0, 10, 10]])
    cover = np.array([8, 3, 0, 8])
    ious = metrics.got10k_frame_ious(pred, gt, cover)
    np.testing.assert_allclose(ious, [0.5, 50 / 150])
    scores = metrics.got10k_summary([ious, np.array([1.0])])
    assert scores["ao"] == pytest.approx(100 * (0.5 + 1 / 3 + 1) / 3)
    assert scores["sr50"] == pytest.approx(100 / 3)  # 0.5 is not > 0.5
    assert scores["sr75"] == pytest.approx(100 / 3)
    # Clipping to a 10x5 image: both boxes become the same 10x5 box.
    clipped = metrics.got10k_frame_ious(pred, gt, image_size=(10, 5))
    np.testing.assert_allclose(clipped, [1.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="one label per frame"):
        metrics.got10k_frame_ious(pred, gt, cover[:3])
