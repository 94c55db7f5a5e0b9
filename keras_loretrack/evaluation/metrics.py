"""One-pass evaluation metrics (the pytracking / OSTrack definitions).

Per frame: IoU of x, y, w, h boxes (continuous), centre error in pixels with
centres at `xy + 0.5 * (wh - 1)`, and the centre error normalised per axis by
the ground-truth w, h. Per sequence: the success curve S(t) = fraction of
frames with IoU > t at 21 thresholds t = 0, 0.05, ..., 1, the precision curve
(centre error <= 0..50 px) and the normalised precision curve (<= 0..0.5).
Denominators are all frames. Over a dataset: curves are averaged over
sequences; SUC (AUC) is the mean of the success curve, P its precision at
20 px, P_norm at 0.20, OP50 / OP75 the success at 0.5 / 0.75, all in percent.

GOT-10k: AO is the mean IoU over all frames of all sequences (frame 0 and
frames with cover 0 excluded), SR0.5 / SR0.75 the fraction with IoU > 0.5 /
0.75 (the GOT-10k toolkit's definitions).

Example:
```python
errors = sequence_errors(predicted, ground_truth, visible)
curves = sequence_curves(errors)
scores = summarize([curves])          # {"auc": ..., "precision": ..., ...}
```
"""

import dataclasses

import numpy as np

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_THRESHOLDS = np.arange(51, dtype=np.float64)
NORMALIZED_PRECISION_THRESHOLDS = np.arange(51, dtype=np.float64) / 100.0
PRECISION_INDEX = 20  # 20 px, and 0.20 for the normalised curve
OP50_INDEX = 10  # IoU > 0.5
OP75_INDEX = 15  # IoU > 0.75
VALIDITY_RULES = ("ostrack", "pytracking")


@dataclasses.dataclass(frozen=True)
class MetricRules:
    """How invalid frames count; the defaults are the pytracking / OSTrack rules.

    pytracking's analysis code, which produced the published numbers, has two
    quirks that `MetricRules.pytracking(dataset)` reproduces: an invalid
    frame's normalised centre error counts as a hit (-1 instead of +inf), and
    on UAV123 its centre error does too. In both, frames that the dataset
    marks invisible (LaSOT's occlusion / out-of-view labels) stay misses, as
    pytracking does on LaSOT.

    Args:
        validity: str. "ostrack": a frame is valid when gt w > 0 and h > 0
            (and the target is visible). "pytracking": newer pytracking's
            rule, which also requires gt x > 0 and y > 0.
        invalid_normalized_hit: bool. Invalid (not invisible) frames count as
            normalised-precision hits at every threshold.
        invalid_center_hit: bool. Invalid (not invisible) frames count as
            precision hits at every threshold.
    """

    validity: str = "ostrack"
    invalid_normalized_hit: bool = False
    invalid_center_hit: bool = False

    def __post_init__(self):
        if self.validity not in VALIDITY_RULES:
            raise ValueError(
                f"validity must be one of {VALIDITY_RULES}, got {self.validity!r}"
            )

    @classmethod
    def pytracking(cls, dataset, validity="ostrack"):
        """The rules pytracking's `extract_results` applies on `dataset`."""
        return cls(
            validity=validity,
            invalid_normalized_hit=True,
            invalid_center_hit=dataset == "uav123",
        )


@dataclasses.dataclass(frozen=True)
class SequenceErrors:
    """Per-frame errors of one sequence (invalid frames already marked).

    Attributes:
        iou: float64 (N,). IoU, -1 on invalid frames.
        center_error: float64 (N,). Pixels; +inf (or -1, see `MetricRules`)
            on invalid frames.
        normalized_center_error: float64 (N,). Likewise.
        valid: bool (N,). The frames that count as valid.
    """

    iou: np.ndarray
    center_error: np.ndarray
    normalized_center_error: np.ndarray
    valid: np.ndarray


def _as_boxes(boxes, what):
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{what} must have shape (N, 4), got {boxes.shape}")
    return boxes


def iou(boxes1, boxes2):
    """Continuous IoU of x, y, w, h boxes, row by row.

    Args:
        boxes1: float array (N, 4).
        boxes2: float array (N, 4).

    Returns:
        float64 (N,). NaN where both boxes have zero area.
    """
    a = _as_boxes(boxes1, "boxes1")
    b = _as_boxes(boxes2, "boxes2")
    left = np.maximum(a[:, 0], b[:, 0])
    top = np.maximum(a[:, 1], b[:, 1])
    right = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    bottom = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    intersection = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        return intersection / union


def box_centers(boxes):
    """Centres `xy + 0.5 * (wh - 1)` of x, y, w, h boxes (pixel-centre convention)."""
    boxes = _as_boxes(boxes, "boxes")
    return boxes[:, :2] + 0.5 * (boxes[:, 2:] - 1.0)


def center_error(predicted, ground_truth):
    """L2 distance in pixels between box centres, row by row."""
    delta = box_centers(predicted) - box_centers(ground_truth)
    return np.sqrt(np.sum(delta**2, axis=1))


def normalized_center_error(predicted, ground_truth):
    """Centre distance with each axis divided by the ground-truth w, h."""
    gt = _as_boxes(ground_truth, "ground_truth")
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (box_centers(predicted) - box_centers(gt)) / gt[:, 2:]
        return np.sqrt(np.sum(delta**2, axis=1))


def valid_frames(ground_truth, visible=None, validity="ostrack"):
    """Frames that count: gt w > 0 and h > 0 (and x, y > 0 for "pytracking")."""
    gt = _as_boxes(ground_truth, "ground_truth")
    if validity not in VALIDITY_RULES:
        raise ValueError(f"validity must be one of {VALIDITY_RULES}, got {validity!r}")
    with np.errstate(invalid="ignore"):
        valid = (gt[:, 2] > 0) & (gt[:, 3] > 0)
        if validity == "pytracking":
            valid &= (gt[:, 0] > 0) & (gt[:, 1] > 0)
    if visible is not None:
        visible = np.asarray(visible, dtype=bool)
        if visible.shape != valid.shape:
            raise ValueError(
                f"visible must have shape {valid.shape}, got {visible.shape}"
            )
        valid &= visible
    return valid


def prepare_predictions(predicted, ground_truth, name="sequence"):
    """Checks predictions and applies the first-frame and zero-size rules.

    The first box is set to the ground truth. A box with w or h equal to 0
    then takes the previous (already corrected) box, except on frames whose
    ground truth is NaN (pytracking's rule). pytracking replaces zero sizes
    before setting the first box; the orders differ only for a result file
    whose first box is not the initial box and whose second is zero-size.

    Raises:
        ValueError: length mismatch, NaN or infinite values, negative w or h.
    """
    pred = _as_boxes(predicted, f"{name}: predicted boxes").copy()
    gt = _as_boxes(ground_truth, f"{name}: ground truth")
    if len(pred) != len(gt):
        raise ValueError(
            f"{name}: {len(pred)} predicted boxes for {len(gt)} ground-truth "
            "frames; a result file needs one box per frame"
        )
    if len(pred) == 0:
        raise ValueError(f"{name}: no frames to evaluate")
    bad = ~np.isfinite(pred).all(axis=1)
    if bad.any():
        frame = int(np.argmax(bad))
        raise ValueError(
            f"{name}: predicted box of frame {frame} is not finite: "
            f"{pred[frame].tolist()}"
        )
    negative = (pred[:, 2:] < 0).any(axis=1)
    if negative.any():
        frame = int(np.argmax(negative))
        raise ValueError(
            f"{name}: predicted box of frame {frame} has a negative size: "
            f"{pred[frame].tolist()}"
        )
    pred[0] = gt[0]
    replace = (pred[:, 2:] == 0).any(axis=1) & ~np.isnan(gt).any(axis=1)
    replace[0] = False
    source = np.where(replace, 0, np.arange(len(pred)))
    return pred[np.maximum.accumulate(source)]


def sequence_errors(predicted, ground_truth, visible=None, rules=None, name="sequence"):
    """Per-frame IoU, centre error and normalised centre error of one sequence.

    Args:
        predicted: float array (N, 4). Tracker boxes x, y, w, h.
        ground_truth: float array (N, 4). NaN rows where unannotated.
        visible: bool array (N,) or None. The dataset's visibility labels.
        rules: `MetricRules` or None (the pytracking / OSTrack rules).
        name: str. Named in error messages.

    Returns:
        `SequenceErrors`.
    """
    rules = rules or MetricRules()
    pred = prepare_predictions(predicted, ground_truth, name)
    gt = np.asarray(ground_truth, dtype=np.float64)
    valid = valid_frames(gt, visible, rules.validity)
    overlap = iou(pred, gt)
    error = center_error(pred, gt)
    normalized = normalized_center_error(pred, gt)
    overlap[~valid] = -1.0
    error[~valid] = np.inf
    normalized[~valid] = np.inf
    not_invisible = ~valid
    if visible is not None:
        not_invisible &= np.asarray(visible, dtype=bool)
    if rules.invalid_normalized_hit:
        normalized[not_invisible] = -1.0
    if rules.invalid_center_hit:
        error[not_invisible] = -1.0
    return SequenceErrors(overlap, error, normalized, valid)


def sequence_curves(errors):
    """Success, precision and normalised precision curves of one sequence.

    Args:
        errors: `SequenceErrors`.

    Returns:
        dict of float64 arrays: "success" (21,) over `SUCCESS_THRESHOLDS`,
        "precision" (51,) over `PRECISION_THRESHOLDS`, "normalized_precision"
        (51,) over `NORMALIZED_PRECISION_THRESHOLDS`. Each is a fraction of all
        frames.
    """
    return {
        "success": np.mean(errors.iou[:, None] > SUCCESS_THRESHOLDS[None], axis=0),
        "precision": np.mean(
            errors.center_error[:, None] <= PRECISION_THRESHOLDS[None], axis=0
        ),
        "normalized_precision": np.mean(
            errors.normalized_center_error[:, None]
            <= NORMALIZED_PRECISION_THRESHOLDS[None],
            axis=0,
        ),
    }


def summarize(curves):
    """Dataset scores from per-sequence curves (mean over sequences).

    Args:
        curves: list of dicts from `sequence_curves`.

    Returns:
        dict with "auc", "precision", "normalized_precision", "op50", "op75"
        (percent) and "curves": the mean curves (fractions).
    """
    if not curves:
        raise ValueError("summarize needs the curves of at least one sequence")
    mean = {
        key: np.mean([c[key] for c in curves], axis=0)
        for key in ("success", "precision", "normalized_precision")
    }
    success = mean["success"]
    return {
        "auc": 100.0 * float(np.mean(success)),
        "precision": 100.0 * float(mean["precision"][PRECISION_INDEX]),
        "normalized_precision": 100.0
        * float(mean["normalized_precision"][PRECISION_INDEX]),
        "op50": 100.0 * float(success[OP50_INDEX]),
        "op75": 100.0 * float(success[OP75_INDEX]),
        "curves": mean,
    }


def _clip_to_image(boxes, width, height):
    """The GOT-10k toolkit's bound: x, y into the image, w, h to its edge."""
    boxes = boxes.copy()
    boxes[:, 0] = np.clip(boxes[:, 0], 0, width)
    boxes[:, 1] = np.clip(boxes[:, 1], 0, height)
    boxes[:, 2] = np.clip(boxes[:, 2], 0, width - boxes[:, 0])
    boxes[:, 3] = np.clip(boxes[:, 3], 0, height - boxes[:, 1])
    return boxes


def got10k_frame_ious(
    predicted, ground_truth, cover=None, image_size=None, name="sequence"
):
    """The IoUs of one sequence that enter GOT-10k's AO and SR.

    Args:
        predicted: float array (N, 4).
        ground_truth: float array (N, 4).
        cover: int array (N,) or None. GOT-10k's cover labels (0: absent).
        image_size: (width, height) or None. When given, both boxes are
            clipped to the image first, as the GOT-10k toolkit does.
        name: str. Named in error messages.

    Returns:
        float64 array: IoUs of frames 1..N-1 whose cover is > 0.
    """
    pred = _as_boxes(predicted, f"{name}: predicted boxes")
    gt = _as_boxes(ground_truth, f"{name}: ground truth")
    if len(pred) != len(gt):
        raise ValueError(
            f"{name}: {len(pred)} predicted boxes for {len(gt)} ground-truth frames"
        )
    if not np.isfinite(pred).all():
        frame = int(np.argmax(~np.isfinite(pred).all(axis=1)))
        raise ValueError(f"{name}: predicted box of frame {frame} is not finite")
    pred, gt = pred[1:], gt[1:]
    if image_size is not None:
        width, height = image_size
        pred = _clip_to_image(pred, width, height)
        gt = _clip_to_image(gt, width, height)
    overlap = np.nan_to_num(iou(pred, gt), nan=0.0)
    if cover is not None:
        cover = np.asarray(cover)
        if cover.shape != (len(gt) + 1,):
            raise ValueError(
                f"{name}: cover must have one label per frame ({len(gt) + 1}), "
                f"got shape {cover.shape}"
            )
        overlap = overlap[cover[1:] > 0]
    return overlap


def got10k_summary(frame_ious):
    """AO, SR0.5 and SR0.75 (percent) over the pooled frames of all sequences.

    Args:
        frame_ious: list of arrays from `got10k_frame_ious`.
    """
    pooled = np.concatenate([np.asarray(f, dtype=np.float64) for f in frame_ious])
    if pooled.size == 0:
        raise ValueError("GOT-10k scores need at least one evaluated frame")
    return {
        "ao": 100.0 * float(np.mean(pooled)),
        "sr50": 100.0 * float(np.mean(pooled > 0.5)),
        "sr75": 100.0 * float(np.mean(pooled > 0.75)),
    }
