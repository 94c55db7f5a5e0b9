"""OSTrack's tracking losses: CenterNet focal loss, GIoU and L1 (Ye et al. 2022).

Ground truth is the target box in the search crop, normalised (x1, y1, x2, y2).
The score map is trained against a Gaussian heatmap on the feat_sz grid built the
way OSTrack builds it: centre cell = round(box centre · fs) (round half to even,
as `torch.round`), integer radius from CornerNet's `gaussian_radius` in its
original form (the one OSTrack ships: each root is `(b + sqrt(b² - 4ac)) / 2`)
at min_overlap 0.7 on the box size in cells, σ = (2r + 1) / 6, and the Gaussian
kept only within r cells of the centre on each axis (peak value exactly 1).
A centre that rounds onto the grid's far edge (fs) draws the part of its
Gaussian that falls on the grid, as OSTrack's `draw_gaussian` does.
"""

from keras import ops

from keras_loretrack.losses.paper_defaults import FOCAL_WEIGHT, GIOU_WEIGHT, L1_WEIGHT
from keras_loretrack.losses.replicas import share_of_total_count

SCORE_CLIP = 1e-4


def gaussian_radius(width, height, min_overlap=0.7):
    """CornerNet's Gaussian radius for boxes of `width` × `height` cells.

    The original CornerNet formula (as used by OSTrack): the smallest of three
    quadratic roots, each `(b + sqrt(b² - 4ac)) / 2`.

    Args:
        width: tensor. Box widths in heatmap cells.
        height: tensor. Box heights in heatmap cells.
        min_overlap: float. IoU a box shifted by the radius must keep.

    Returns:
        Tensor of float radii, same shape as `width` (not yet truncated).
    """
    b1 = height + width
    c1 = width * height * (1.0 - min_overlap) / (1.0 + min_overlap)
    r1 = (b1 + ops.sqrt(b1 * b1 - 4.0 * c1)) / 2.0
    b2 = 2.0 * (height + width)
    c2 = (1.0 - min_overlap) * width * height
    r2 = (b2 + ops.sqrt(b2 * b2 - 16.0 * c2)) / 2.0
    a3 = 4.0 * min_overlap
    b3 = -2.0 * min_overlap * (height + width)
    c3 = (min_overlap - 1.0) * width * height
    r3 = (b3 + ops.sqrt(b3 * b3 - 4.0 * a3 * c3)) / 2.0
    return ops.minimum(r1, ops.minimum(r2, r3))


def center_heatmap(boxes, feature_size, min_overlap=0.7):
    """Gaussian centre heatmaps (B, fs, fs) for normalised (x1, y1, x2, y2) boxes.

    Args:
        boxes: tensor (B, 4). Boxes in the search crop, normalised to [0, 1].
        feature_size: int. Side fs of the score map.
        min_overlap: float. CornerNet's overlap for the radius.

    Returns:
        float32 tensor (B, fs, fs); the centre cell holds exactly 1.
    """
    boxes = ops.cast(boxes, "float32") * float(feature_size)
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    center_x = ops.round((boxes[:, 0] + boxes[:, 2]) / 2.0)
    center_y = ops.round((boxes[:, 1] + boxes[:, 3]) / 2.0)
    radius = ops.floor(ops.maximum(gaussian_radius(width, height, min_overlap), 0.0))
    sigma = (2.0 * radius + 1.0) / 6.0
    grid = ops.arange(feature_size, dtype="float32")
    dx = grid[None, None, :] - center_x[:, None, None]
    dy = grid[None, :, None] - center_y[:, None, None]
    radius = radius[:, None, None]
    gaussian = ops.exp(-(dx * dx + dy * dy) / (2.0 * sigma[:, None, None] ** 2))
    inside = ops.logical_and(ops.abs(dx) <= radius, ops.abs(dy) <= radius)
    return ops.where(inside, gaussian, ops.zeros_like(gaussian))


def focal_loss(heatmap, score_map, alpha=2.0, beta=4.0):
    """CenterNet's focal loss, normalised by the number of peaks in the batch.

    `-[Σ_pos log p (1-p)^α + Σ_neg log(1-p) p^α (1-y)^β] / max(N_pos, 1)`; a
    cell is positive where the heatmap is exactly 1. Under tf.distribute N_pos
    counts the global batch (`share_of_total_count`), so that the update does
    not depend on how the batch is split over devices (a centre outside the
    grid has no peak, so replicas' counts differ).

    Args:
        heatmap: tensor (B, fs, fs). Targets from `center_heatmap`.
        score_map: tensor (B, fs, fs, 1) or (B, fs, fs). Predicted scores in
            (0, 1); clipped again to [1e-4, 1 - 1e-4] in float32 so that
            low-precision maps stay finite.
        alpha: float. Focusing exponent.
        beta: float. Down-weighting exponent of near-centre negatives.

    Returns:
        Scalar float32 tensor.
    """
    score = ops.cast(ops.reshape(score_map, ops.shape(heatmap)), "float32")
    score = ops.clip(score, SCORE_CLIP, 1.0 - SCORE_CLIP)
    heatmap = ops.cast(heatmap, "float32")
    positive = ops.cast(ops.equal(heatmap, 1.0), "float32")
    negative = 1.0 - positive
    positive_loss = ops.log(score) * ops.power(1.0 - score, alpha) * positive
    negative_loss = (
        ops.log(1.0 - score)
        * ops.power(score, alpha)
        * ops.power(1.0 - heatmap, beta)
        * negative
    )
    num_positive = share_of_total_count(ops.sum(positive))
    return -(ops.sum(positive_loss) + ops.sum(negative_loss)) / num_positive


def box_cxcywh_to_xyxy(boxes):
    """(cx, cy, w, h) → (x1, y1, x2, y2) on the last axis."""
    center, size = boxes[..., :2], boxes[..., 2:]
    return ops.concatenate([center - size / 2.0, center + size / 2.0], axis=-1)


def generalized_iou(boxes1, boxes2):
    """Element-wise GIoU and IoU of (x1, y1, x2, y2) boxes.

    Args:
        boxes1: tensor (B, 4).
        boxes2: tensor (B, 4).

    Returns:
        Tuple `(giou, iou)`, each (B,).
    """
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    overlap = ops.maximum(
        ops.minimum(boxes1[:, 2:], boxes2[:, 2:])
        - ops.maximum(boxes1[:, :2], boxes2[:, :2]),
        0.0,
    )
    intersection = overlap[:, 0] * overlap[:, 1]
    union = area1 + area2 - intersection
    iou = intersection / ops.maximum(union, 1e-12)
    hull = ops.maximum(
        ops.maximum(boxes1[:, 2:], boxes2[:, 2:])
        - ops.minimum(boxes1[:, :2], boxes2[:, :2]),
        0.0,
    )
    hull_area = ops.maximum(hull[:, 0] * hull[:, 1], 1e-12)
    return iou - (hull_area - union) / hull_area, iou


def tracking_loss(
    box,
    outputs,
    focal_weight=FOCAL_WEIGHT,
    giou_weight=GIOU_WEIGHT,
    l1_weight=L1_WEIGHT,
):
    """OSTrack's training loss: focal + 2·GIoU + 5·L1 by default.

    The score map is compared with the Gaussian heatmap of the ground truth as
    given; GIoU and L1 compare the box decoded at the raw (unwindowed) score
    argmax with the ground truth clipped to [0, 1] (L1 is the mean over the four
    coordinates and the batch).

    Args:
        box: tensor (B, 4). Ground truth (x1, y1, x2, y2) normalised to the
            search crop.
        outputs: dict. The model's outputs: `score_map` (B, fs, fs, 1) and
            `boxes` (B, 4) normalised (cx, cy, w, h).
        focal_weight: float. Weight of the focal loss.
        giou_weight: float. Weight of the GIoU loss.
        l1_weight: float. Weight of the L1 loss.

    Returns:
        dict of scalar float32 tensors: `focal`, `giou` (mean 1 - GIoU), `l1`,
        `iou` (mean IoU, for logging) and `loss` (the weighted sum).

    Example:
    ```python
    outputs = model({"template": z, "search": x}, training=True)
    losses = tracking_loss(box, outputs)
    losses["loss"]
    ```
    """
    for key in ("score_map", "boxes"):
        if key not in outputs:
            raise ValueError(
                f"tracking_loss needs the model output {key!r}, got outputs "
                f"{sorted(outputs)}"
            )
    score_map = outputs["score_map"]
    if len(score_map.shape) != 4 or score_map.shape[1] != score_map.shape[2]:
        raise ValueError(
            f"score_map must be (B, fs, fs, 1), got shape {tuple(score_map.shape)}"
        )
    box = ops.cast(box, "float32")
    heatmap = center_heatmap(box, score_map.shape[1])
    focal = focal_loss(heatmap, score_map)
    predicted = box_cxcywh_to_xyxy(ops.cast(outputs["boxes"], "float32"))
    target = ops.clip(box, 0.0, 1.0)
    giou, iou = generalized_iou(predicted, target)
    giou = ops.mean(1.0 - giou)
    l1 = ops.mean(ops.abs(predicted - target))
    return {
        "focal": focal,
        "giou": giou,
        "l1": l1,
        "iou": ops.mean(iou),
        "loss": focal_weight * focal + giou_weight * giou + l1_weight * l1,
    }
