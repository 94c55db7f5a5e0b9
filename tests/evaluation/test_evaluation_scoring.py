"""evaluate_tracker: one-pass tracking scored per sequence and overall."""

import numpy as np
import pytest

from keras_loretrack.evaluation import (
    Sequence,
    evaluate_tracker,
    sequence_curves,
    sequence_errors,
    summarize,
    track_sequence,
)


def blank_frame(index):
    return np.full((8, 8, 3), index % 256, np.uint8)


def moving_boxes(count, start):
    return np.array([[start + 2.0 * i, 10.0, 20.0, 15.0] for i in range(count)])


class LaggingTracker:
    """Returns the ground truth of the previous frame (a known, imperfect score)."""

    def __init__(self, truths):
        self.truths = {tuple(t[0]): t for t in truths}

    def initialize(self, frame, box):
        self.truth, self.index = self.truths[tuple(box)], 0

    def track(self, frame):
        self.index += 1
        return {"box": self.truth[self.index - 1], "score": 0.5}


def test_scores_match_the_metrics_and_the_runner():
    truths = [moving_boxes(6, 0.0), moving_boxes(9, 40.0)]
    sequences = [
        Sequence(f"s{k}", blank_frame, truth, num_frames=len(truth))
        for k, truth in enumerate(truths)
    ]
    scores = evaluate_tracker(LaggingTracker(truths), sequences)
    curves = []
    for sequence, scored in zip(sequences, scores["sequences"]):
        boxes = track_sequence(LaggingTracker(truths), sequence)["boxes"]
        np.testing.assert_array_equal(scored["boxes"], boxes)
        curves.append(sequence_curves(sequence_errors(boxes, sequence.ground_truth)))
        alone = summarize(curves[-1:])
        assert scored["name"] == sequence.name
        assert scored["frames"] == len(sequence)
        assert scored["auc"] == pytest.approx(alone["auc"])
        assert scored["normalized_precision"] == pytest.approx(
            alone["normalized_precision"]
        )
        assert np.isnan(scored["scores"][0]) and scored["scores"][1] == 0.5
    overall = summarize(curves)
    assert 0 < scores["overall"]["auc"] < 100
    for key in ("auc", "precision", "normalized_precision", "op50", "op75"):
        assert scores["overall"][key] == pytest.approx(overall[key])
    assert scores["overall"]["sequences"] == 2
    assert scores["overall"]["frames"] == 15
    assert scores["overall"]["fps"] > 0


def test_needs_sequences():
    with pytest.raises(ValueError, match="at least one sequence"):
        evaluate_tracker(LaggingTracker([]), [])
