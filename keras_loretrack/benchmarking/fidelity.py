"""How closely each engine follows the Keras float32 model.

Open loop: the maps of every engine on the same real crop pairs, and the box
the tracker decodes from them. Closed loop: the IoU of each tracker's boxes,
running on its own previous boxes, against the reference tracker's and against
the ground truth.
"""

import numpy as np

from keras_loretrack.benchmarking.engine_table import REFERENCE
from keras_loretrack.evaluation.metrics import iou
from keras_loretrack.tracking import postprocess
from keras_loretrack.tracking.engines import MAP_NAMES

FIDELITY_PAIRS = 32


def crop_box(maps, window):
    """The tracker's box in search-crop units (x, y, w, h) from one engine call."""
    (cx, cy, w, h), _ = postprocess.decode_box(
        window * maps["score_map"][0, :, :, 0],
        maps["size_map"][0],
        maps["offset_map"][0],
    )
    return np.array([cx - 0.5 * w, cy - 0.5 * h, w, h])


def map_fidelity(engines, pairs):
    """Open-loop fidelity to the reference engine on the same crops.

    Returns:
        dict engine → {"max_diff": {map: largest |engine - reference|},
        "crop_iou": mean IoU of the boxes decoded (Hann window, argmax,
        offset, size) from the engine's and the reference's maps}.
    """
    reference = [engines[REFERENCE](p["template"], p["search"]) for p in pairs]
    window = postprocess.hann_window(engines[REFERENCE].feature_size)
    expected_boxes = np.array([crop_box(maps, window) for maps in reference])
    fidelity = {}
    for name, engine in engines.items():
        worst = dict.fromkeys(MAP_NAMES, 0.0)
        boxes = []
        for pair, expected in zip(pairs, reference):
            out = engine(pair["template"], pair["search"])
            boxes.append(crop_box(out, window))
            for key in MAP_NAMES:
                diff = float(np.abs(out[key] - expected[key]).max())
                worst[key] = max(worst[key], diff)
        crop_iou = float(np.mean(iou(np.array(boxes), expected_boxes)))
        fidelity[name] = {"max_diff": worst, "crop_iou": crop_iou}
    return fidelity


def mean_iou(boxes, reference):
    """Mean IoU over every frame after the first of every sequence."""
    values = [iou(boxes[s][1:], reference[s][1:]) for s in reference]
    return float(np.nanmean(np.concatenate(values)))


def sequence_ious(boxes, reference, sequences):
    """Per sequence: mean IoU against the reference tracker's boxes and against
    the ground truth (frames after the first; ground truth where it is valid)."""
    result = {}
    for sequence in sequences:
        tracked = boxes[sequence.name]
        count = len(tracked)
        truth = np.empty(0)
        if len(sequence.ground_truth) >= count:  # not just the first frame's box
            valid = sequence.valid_mask()[1:count]
            truth = iou(tracked[1:], sequence.ground_truth[1:count])[valid]
        result[sequence.name] = {
            "reference": float(
                np.nanmean(iou(tracked[1:], reference[sequence.name][1:]))
            ),
            "ground_truth": float(np.nanmean(truth)) if truth.size else None,
        }
    return result
