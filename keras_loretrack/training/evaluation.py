"""One-pass evaluation of a freshly trained model, for the recipes' last step."""

from tqdm import tqdm

from keras_loretrack.evaluation.metrics import (
    sequence_curves,
    sequence_errors,
    summarize,
)
from keras_loretrack.evaluation.runner import track_sequence
from keras_loretrack.tracking.tracker import Tracker


def one_pass_evaluation(model, sequences, jit_compile=False, progress=True):
    """Tracks every sequence with `model` and summarises success and precision.

    Args:
        model: `LoReTrack`.
        sequences: iterable of `Sequence`.
        jit_compile: bool. Compile the tracker's forward with XLA.
        progress: bool. Show a progress bar over sequences.

    Returns:
        dict: `auc`, `precision`, `normalized_precision`, `op50`, `op75`
        (percent, DESIGN §7) and `sequences` (how many).
    """
    tracker = Tracker.from_model(model, jit_compile=jit_compile)
    curves = []
    for sequence in tqdm(list(sequences), desc="one-pass", disable=not progress):
        boxes = track_sequence(tracker, sequence)["boxes"]
        errors = sequence_errors(
            boxes, sequence.ground_truth, sequence.visible, name=sequence.name
        )
        curves.append(sequence_curves(errors))
    summary = {k: v for k, v in summarize(curves).items() if k != "curves"}
    summary["sequences"] = len(curves)
    return summary
