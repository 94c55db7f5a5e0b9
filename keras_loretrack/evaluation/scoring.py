"""Track, then score: one-pass tracking of sequences and their SUC, P and P_norm.

Example:
```python
scores = evaluate_tracker(Tracker.from_preset("res128"), sequences)
scores["overall"]["auc"]  # SUC in percent
[(s["name"], s["auc"]) for s in scores["sequences"]]
```
"""

import numpy as np
from tqdm import tqdm

from keras_loretrack.evaluation.metrics import (
    sequence_curves,
    sequence_errors,
    summarize,
)
from keras_loretrack.evaluation.runner import track_sequence


def _scores(summary):
    return {k: v for k, v in summary.items() if k != "curves"}


def evaluate_tracker(
    tracker,
    sequences,
    *,
    rules=None,
    warm_up=True,
    jit_compile=False,
    progress=False,
):
    """Tracks every sequence once and scores it against its ground truth.

    Args:
        tracker: a tracker (`initialize(frame, box)` and `track(frame)`), or a
            `LoReTrack` model, tracked with `Tracker.from_model`.
        sequences: iterable of `Sequence`.
        rules: `MetricRules` or None (the default rules).
        warm_up: bool. Track frame 1 of the first sequence once before timing,
            so that graph building does not count in the speed.
        jit_compile: bool. Compile the forward of a model with XLA (ignored
            for a tracker).
        progress: bool. Show a progress bar over sequences.

    Returns:
        dict:
        - `sequences`: per sequence, in input order: `name`, `frames`,
          `seconds` (tracker time on frames 1..N-1), `auc` (SUC),
          `precision`, `normalized_precision`, `op50`, `op75` (percent) and the
          tracking result `boxes` (N, 4), `scores` (N,), `times` (N,);
        - `overall`: `auc`, `precision`, `normalized_precision`, `op50`,
          `op75` (percent, curves averaged over sequences), `sequences`
          (count), `frames` and `seconds` (summed) and `fps` (frames after
          the first of each sequence per second of tracker time).
    """
    if not hasattr(tracker, "track"):
        from keras_loretrack.tracking.tracker import Tracker

        tracker = Tracker.from_model(tracker, jit_compile=jit_compile)
    sequences = list(sequences)
    if not sequences:
        raise ValueError("evaluate_tracker needs at least one sequence, got none")
    first = sequences[0]
    if warm_up and len(first) > 1:
        tracker.initialize(first.frame(0), first.init_box)
        tracker.track(first.frame(1))
    per_sequence, curves = [], []
    for sequence in tqdm(sequences, desc="one-pass", disable=not progress):
        result = track_sequence(tracker, sequence)
        errors = sequence_errors(
            result["boxes"],
            sequence.ground_truth,
            sequence.visible,
            rules=rules,
            name=sequence.name,
        )
        curves.append(sequence_curves(errors))
        per_sequence.append(
            {
                "name": sequence.name,
                "frames": len(sequence),
                "seconds": float(np.sum(result["times"][1:])),
                **_scores(summarize(curves[-1:])),
                **result,
            }
        )
    frames = sum(s["frames"] for s in per_sequence)
    seconds = sum(s["seconds"] for s in per_sequence)
    tracked = frames - len(per_sequence)
    overall = _scores(summarize(curves))
    overall.update(
        sequences=len(per_sequence),
        frames=frames,
        seconds=seconds,
        fps=tracked / seconds if seconds > 0 else float("nan"),
    )
    return {"sequences": per_sequence, "overall": overall}
