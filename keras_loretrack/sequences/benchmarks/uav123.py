"""UAV123: `data_seq/UAV123/<folder>/%06d.jpg` and `anno/UAV123/<seq>.txt`.

Several sequences are segments of one frame folder (bird1_1/2/3 are frames
1-253, 775-1477 and 1573-2437 of `bird1`); the benchmark's table of folders
and frame ranges is `sequences/tables/uav123.json`, as in pytracking.
"""

import functools
import os

from keras_loretrack.sequences.annotations import read_boxes
from keras_loretrack.sequences.benchmarks.files import (
    check_rows,
    numbered_frames,
    read_table,
    require_dir,
)
from keras_loretrack.sequences.registry import Dataset, register_dataset
from keras_loretrack.sequences.sequence import Sequence


@functools.cache
def sequence_table():
    """The 123 sequences: name -> (frame folder, first frame, last frame)."""
    return {
        name: (entry.get("folder", name), entry.get("first", 1), entry["last"])
        for name, entry in read_table("uav123").items()
    }


def _uav123_sequence(root, name):
    folder, first, last = sequence_table()[name]
    gt_path = os.path.join(root, "anno", "UAV123", f"{name}.txt")
    ground_truth = read_boxes(gt_path)
    check_rows(ground_truth, last - first + 1, gt_path)
    image_dir = os.path.join(root, "data_seq", "UAV123", folder)
    require_dir(image_dir, f"UAV123 frame folder of {name!r}")
    return Sequence(
        name=name,
        frames=numbered_frames(image_dir, first, last, 6),
        ground_truth=ground_truth,
        dataset="uav123",
        attributes={"folder": folder, "first_frame": first},
    )


@register_dataset(
    "uav123",
    description="UAV123: data_seq/UAV123/<folder>/%06d.jpg, anno/UAV123/<seq>.txt",
)
def _read_uav123(root, split):
    return Dataset(
        "uav123",
        root,
        split,
        list(sequence_table()),
        lambda n: _uav123_sequence(root, n),
    )
