"""LaSOT and its extension: `<category>/<category>-<n>/` folders with
`groundtruth.txt`, occlusion and out-of-view labels and `img/%08d.jpg`."""

import os

from keras_loretrack.sequences.annotations import read_boxes
from keras_loretrack.sequences.benchmarks.files import (
    numbered_frames,
    read_labels,
    read_names,
    require_dir,
    subfolders,
)
from keras_loretrack.sequences.registry import Dataset, register_dataset
from keras_loretrack.sequences.sequence import Sequence


def _lasot_sequence(root, name, dataset):
    category, dash, number = name.rpartition("-")
    if not dash or not category or not number.isdigit():
        raise ValueError(f"LaSOT sequence names are '<category>-<n>', got {name!r}")
    folder = os.path.join(root, category, name)
    require_dir(folder, f"LaSOT sequence folder of {name!r}")
    gt_path = os.path.join(folder, "groundtruth.txt")
    ground_truth = read_boxes(gt_path)
    count = len(ground_truth)
    occluded = read_labels(os.path.join(folder, "full_occlusion.txt"), count)
    out_of_view = read_labels(os.path.join(folder, "out_of_view.txt"), count)
    return Sequence(
        name=name,
        frames=numbered_frames(os.path.join(folder, "img"), 1, count, 8),
        ground_truth=ground_truth,
        visible=(occluded == 0) & (out_of_view == 0),
        dataset=dataset,
        attributes={"category": category},
    )


def _lasot_folders(root):
    """Every `<category>/<category>-<n>` folder holding a groundtruth.txt."""
    names = []
    for category in subfolders(root):
        for name in subfolders(os.path.join(root, category)):
            if name.rpartition("-")[0] == category and os.path.isfile(
                os.path.join(root, category, name, "groundtruth.txt")
            ):
                names.append(name)
    if not names:
        raise FileNotFoundError(
            f"No '<category>/<category>-<n>/groundtruth.txt' sequences under {root}"
        )
    return names


@register_dataset(
    "lasot",
    splits=("test", "train", "all"),
    default_split="test",
    description="LaSOT: <cat>/<cat>-<n>/img/%08d.jpg; test split from testing_set.txt",
)
def _read_lasot(root, split):
    if split == "all":
        names = _lasot_folders(root)
    else:
        list_file = "testing_set.txt" if split == "test" else "training_set.txt"
        names = read_names(os.path.join(root, list_file))
    return Dataset(
        "lasot", root, split, names, lambda n: _lasot_sequence(root, n, "lasot")
    )


@register_dataset(
    "lasot_extension_subset",
    description="LaSOT extension (150 sequences), LaSOT's per-sequence layout",
)
def _read_lasot_extension(root, split):
    return Dataset(
        "lasot_extension_subset",
        root,
        split,
        _lasot_folders(root),
        lambda n: _lasot_sequence(root, n, "lasot_extension_subset"),
    )
