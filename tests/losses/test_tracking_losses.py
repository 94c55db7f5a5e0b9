import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_loretrack.losses import (
    center_heatmap,
    focal_loss,
    gaussian_radius,
    tracking_loss,
)

# --- Independent NumPy references, written from OSTrack's formulas (Ye et al. 2022).


def np_radius(width, height, min_overlap=0.7):
    roots = []
    for a, b, c in (
        (1.0, height + width, width * height * (1 - min_overlap) / (1 + min_overlap)),
        (4.0, 2 * (height + width), (1 - min_overlap) * width * height),
        (
            4 * min_overlap,
            -2 * min_overlap * (height + width),
            (min_overlap - 1) * width * height,
        ),
    ):
        roots.append((b + math.sqrt(b * b - 4 * a * c)) / 2)
    return min(roots)


def np_heatmap(box, fs):
    """Draws one Gaussian by window pasting, as CenterNet's draw_gaussian does."""
    x1, y1, x2, y2 = (float(v) * fs for v in box)
    radius = int(max(np_radius(x2 - x1, y2 - y1), 0.0))
    cx, cy = int(np.round((x1 + x2) / 2)), int(np.round((y1 + y2) / 2))
    sigma = (2 * radius + 1) / 6
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    window = np.exp(-(offsets[None] ** 2 + offsets[:, None] ** 2) / (2 * sigma**2))
    heatmap = np.zeros((fs, fs))
    left, right = min(cx, radius), min(fs - cx, radius + 1)
    top, bottom = min(cy, radius), min(fs - cy, radius + 1)
    patch = window[radius - top : radius + bottom, radius - left : radius + right]
    if patch.size:
        heatmap[cy - top : cy + bottom, cx - left : cx + right] = patch
    return heatmap


def np_focal(heatmap, score):
    score = np.clip(score.reshape(heatmap.shape).astype(np.float64), 1e-4, 1 - 1e-4)
    positive = heatmap == 1
    pos = np.log(score[positive]) * (1 - score[positive]) ** 2
    neg = (
        np.log(1 - score[~positive])
        * score[~positive] ** 2
        * (1 - heatmap[~positive]) ** 4
    )
    return -(pos.sum() + neg.sum()) / max(positive.sum(), 1)


def np_giou(a, b):
    """Per-row GIoU and IoU of (x1, y1, x2, y2) boxes, one box at a time."""
    gious, ious = [], []
    for p, q in zip(a.astype(np.float64), b.astype(np.float64)):
        iw = max(min(p[2], q[2]) - max(p[0], q[0]), 0)
        ih = max(min(p[3], q[3]) - max(p[1], q[1]), 0)
        inter = iw * ih
        union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
        hull = (max(p[2], q[2]) - min(p[0], q[0])) * (max(p[3], q[3]) - min(p[1], q[1]))
        ious.append(inter / union)
        gious.append(inter / union - (hull - union) / hull)
    return np.array(gious), np.array(ious)


def random_boxes(rng, batch):
    center = rng.uniform(0.15, 0.85, (batch, 2))
    size = rng.uniform(0.03, 0.6, (batch, 2))
    return np.concatenate([center - size / 2, center + size / 2], -1).astype("float32")


def test_radius_matches_reference():
    rng = np.random.default_rng(0)
    w, h = rng.uniform(0.1, 30, 50), rng.uniform(0.1, 30, 50)
    got = keras.ops.convert_to_numpy(
        gaussian_radius(w.astype("float32"), h.astype("float32"))
    )
    want = [np_radius(a, b) for a, b in zip(w, h)]
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("fs", [8, 16, 24])
def test_heatmap_matches_window_pasting(fs):
    rng = np.random.default_rng(fs)
    boxes = random_boxes(rng, 64)
    # Edge boxes clip; on power-of-two grids a centre can sit exactly on .5 cells,
    # which rounds half to even (as torch.round).
    if fs & (fs - 1) == 0:
        boxes[0] = np.array([2.5, 2.5, 3.5, 4.5]) / fs
    boxes[1] = np.array([fs - 3, 1, fs + 0.2, 5]) / fs
    boxes[2] = np.array([0.0, 0.0, 0.6, 0.6])
    got = keras.ops.convert_to_numpy(center_heatmap(boxes, fs))
    want = np.stack([np_heatmap(b, fs) for b in boxes])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert np.all(got.reshape(len(boxes), -1).max(-1) == 1.0)


def test_heatmap_rounds_half_to_even():
    boxes = np.array([[2, 2, 3, 5], [3, 3, 4, 6]], "float32") / 8
    heatmap = keras.ops.convert_to_numpy(center_heatmap(boxes, 8))
    peaks = [np.unravel_index(np.argmax(h), h.shape) for h in heatmap]
    assert peaks == [(4, 2), (4, 4)]


def test_heatmap_radius_and_sigma_facts():
    # A 12x12-cell box on a 24 grid: radius int(0.2735 * 12) = 3, sigma 7/6.
    fs = 24
    box = np.array([[6, 6, 18, 18]], "float32") / fs
    heatmap = keras.ops.convert_to_numpy(center_heatmap(box, fs))[0]
    assert heatmap[12, 12] == 1.0
    np.testing.assert_allclose(
        heatmap[12, 15], math.exp(-9 / (2 * (7 / 6) ** 2)), rtol=1e-6
    )
    assert heatmap[12, 16] == 0.0 and heatmap[16, 12] == 0.0


def test_focal_loss_matches_reference():
    rng = np.random.default_rng(1)
    boxes = random_boxes(rng, 6)
    heatmap = keras.ops.convert_to_numpy(center_heatmap(boxes, 16))
    score = rng.uniform(0.0, 1.0, (6, 16, 16, 1)).astype("float32")
    got = float(focal_loss(heatmap, score))
    np.testing.assert_allclose(got, np_focal(heatmap, score), rtol=1e-5)


def test_focal_loss_without_peaks_is_negative_part():
    heatmap = np.zeros((2, 4, 4), "float32")
    score = np.full((2, 4, 4, 1), 0.5, "float32")
    np.testing.assert_allclose(
        float(focal_loss(heatmap, score)), -32 * math.log(0.5) * 0.25, rtol=1e-6
    )


def test_focal_loss_finite_for_saturated_half_precision_scores():
    heatmap = keras.ops.convert_to_numpy(
        center_heatmap(random_boxes(np.random.default_rng(2), 2), 8)
    )
    score = np.ones((2, 8, 8, 1), "float16")
    assert np.isfinite(float(focal_loss(heatmap, score)))


def test_tracking_loss_matches_reference():
    rng = np.random.default_rng(3)
    batch, fs = 5, 16
    gt = random_boxes(rng, batch)
    gt[0] = [-0.1, 0.2, 0.5, 1.2]  # clipped to the crop for GIoU / L1
    pred = np.concatenate(
        [rng.uniform(0.2, 0.8, (batch, 2)), rng.uniform(0.05, 0.5, (batch, 2))], -1
    ).astype("float32")
    outputs = {
        "score_map": rng.uniform(0, 1, (batch, fs, fs, 1)).astype("float32"),
        "boxes": pred,
    }
    got = {k: float(v) for k, v in tracking_loss(gt, outputs).items()}

    heatmap = np.stack([np_heatmap(b, fs) for b in gt])
    focal = np_focal(heatmap, outputs["score_map"])
    pred_xyxy = np.concatenate(
        [pred[:, :2] - pred[:, 2:] / 2, pred[:, :2] + pred[:, 2:] / 2], -1
    )
    target = np.clip(gt, 0, 1)
    giou, iou = np_giou(pred_xyxy, target)
    l1 = np.abs(pred_xyxy - target).mean()
    want = {
        "focal": focal,
        "giou": (1 - giou).mean(),
        "l1": l1,
        "iou": iou.mean(),
        "loss": focal + 2 * (1 - giou).mean() + 5 * l1,
    }
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-5, err_msg=key)
    weighted = tracking_loss(
        gt, outputs, focal_weight=0.5, giou_weight=0.0, l1_weight=1.0
    )
    np.testing.assert_allclose(float(weighted["loss"]), 0.5 * focal + l1, rtol=1e-5)


def test_tracking_loss_gradients_reach_maps_through_decoded_box():
    from keras_loretrack.layers import decode_boxes

    rng = np.random.default_rng(4)
    score = tf.Variable(rng.uniform(0.1, 0.9, (2, 8, 8, 1)).astype("float32"))
    size = tf.Variable(rng.uniform(0.1, 0.5, (2, 8, 8, 2)).astype("float32"))
    offset = tf.Variable(rng.uniform(0, 1, (2, 8, 8, 2)).astype("float32"))
    with tf.GradientTape() as tape:
        outputs = {"score_map": score, "boxes": decode_boxes(score, size, offset)}
        loss = tracking_loss(random_boxes(rng, 2), outputs)["loss"]
    grads = tape.gradient(loss, [score, size, offset])
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)
    # Only the argmax cell of each sample carries box gradients.
    assert np.count_nonzero(np.abs(grads[1].numpy()).sum(-1)) == 2


def test_tracking_loss_rejects_missing_outputs():
    with pytest.raises(ValueError, match="needs the model output 'boxes'"):
        tracking_loss(
            np.zeros((1, 4), "float32"), {"score_map": np.zeros((1, 4, 4, 1))}
        )
    with pytest.raises(ValueError, match=r"score_map must be \(B, fs, fs, 1\)"):
        tracking_loss(
            np.zeros((1, 4), "float32"),
            {"score_map": np.zeros((1, 4, 5, 1)), "boxes": np.zeros((1, 4))},
        )
