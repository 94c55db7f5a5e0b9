"""Need for Speed (30 fps): `<seq>/30/<seq>/%05d.jpg` and `<seq>/30/<seq>.txt`
rows `id xmin ymin xmax ymax frame lost occluded ...`."""

import os

import numpy as np

from keras_loretrack.sequences.benchmarks.files import (
    check_rows,
    require_file,
    subfolders,
)
from keras_loretrack.sequences.registry import Dataset, register_dataset
from keras_loretrack.sequences.sequence import Sequence, image_files


def _read_nfs_boxes(path):
    """Reads NfS rows `id xmin ymin xmax ymax frame lost occluded ...` as x,y,w,h."""
    require_file(path, "Annotation file")
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                box = [float(v) for v in fields[1:5]]
            except ValueError:
                box = []
            if len(box) != 4:
                raise ValueError(
                    f"{path}, line {number}: expected 'id xmin ymin xmax ymax ...' "
                    f"(NfS format), got {line.strip()!r}"
                )
            rows.append(box)
    if not rows:
        raise ValueError(f"Annotation file {path} holds no boxes")
    boxes = np.asarray(rows, dtype=np.float64)
    boxes[:, 2:] -= boxes[:, :2]
    return boxes


def _nfs_sequence(root, name):
    base = os.path.join(root, name, "30")
    gt_path = os.path.join(base, f"{name}.txt")
    ground_truth = _read_nfs_boxes(gt_path)
    frames = image_files(os.path.join(base, name))
    # Some 30 fps folders carry the 240 fps annotation (8 rows per frame), and
    # some differ from the frame count by one: the NfS toolkit's own fix-ups.
    if (
        len(ground_truth) != len(frames)
        and abs(len(ground_truth) / len(frames) - 8) < 1
    ):
        ground_truth = ground_truth[::8]
    if 0 < abs(len(ground_truth) - len(frames)) <= 1:
        count = min(len(ground_truth), len(frames))
        ground_truth, frames = ground_truth[:count], frames[:count]
    check_rows(ground_truth, len(frames), gt_path)
    return Sequence(name=name, frames=frames, ground_truth=ground_truth, dataset="nfs")


@register_dataset(
    "nfs",
    description="NfS (30 fps): <seq>/30/<seq>/%05d.jpg + <seq>/30/<seq>.txt",
)
def _read_nfs(root, split):
    names = [
        n
        for n in subfolders(root)
        if os.path.isfile(os.path.join(root, n, "30", f"{n}.txt"))
    ]
    if not names:
        raise FileNotFoundError(f"No '<seq>/30/<seq>.txt' NfS sequences under {root}")
    return Dataset("nfs", root, split, names, lambda n: _nfs_sequence(root, n))
