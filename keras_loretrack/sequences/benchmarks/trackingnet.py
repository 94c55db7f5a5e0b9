"""TrackingNet: `<split>/anno/<video>.txt` and `<split>/frames/<video>/<i>.jpg`
(frames numbered from 0). The test split annotates only the first frame."""

import os

from keras_loretrack.sequences.annotations import read_boxes
from keras_loretrack.sequences.benchmarks.files import require_dir
from keras_loretrack.sequences.registry import Dataset, register_dataset
from keras_loretrack.sequences.sequence import Sequence, image_files


def _trackingnet_sequence(root, split, name):
    gt_path = os.path.join(root, split, "anno", f"{name}.txt")
    ground_truth = read_boxes(gt_path)
    folder = os.path.join(root, split, "frames", name)
    if len(ground_truth) == 1:
        count = len(image_files(folder))
    else:
        require_dir(folder, f"TrackingNet frame folder of {name!r}")
        count = len(ground_truth)
    return Sequence(
        name=name,
        frames=[os.path.join(folder, f"{i}.jpg") for i in range(count)],
        ground_truth=ground_truth,
        dataset="trackingnet",
    )


@register_dataset(
    "trackingnet",
    splits=("TEST",) + tuple(f"TRAIN_{k}" for k in range(12)),
    default_split="TEST",
    description="TrackingNet: <split>/anno/<vid>.txt, <split>/frames/<vid>/<i>.jpg",
)
def _read_trackingnet(root, split):
    anno_dir = require_dir(os.path.join(root, split, "anno"), "TrackingNet anno folder")
    names = sorted(f[:-4] for f in os.listdir(anno_dir) if f.endswith(".txt"))
    if not names:
        raise FileNotFoundError(f"No annotation files in {anno_dir}")
    return Dataset(
        "trackingnet",
        root,
        split,
        names,
        lambda n: _trackingnet_sequence(root, split, n),
    )
