"""GOT-10k: `<split>/list.txt`, `<split>/<seq>/%08d.jpg`, `groundtruth.txt`,
absence and cover labels, `meta_info.ini`. The test split annotates only the
first frame."""

import configparser
import os
import re

from keras_loretrack.sequences.annotations import read_boxes
from keras_loretrack.sequences.benchmarks.files import (
    numbered_frames,
    read_labels,
    read_names,
    require_dir,
)
from keras_loretrack.sequences.registry import Dataset, register_dataset
from keras_loretrack.sequences.sequence import Sequence, image_files


def _got10k_resolution(path):
    """(width, height) from meta_info.ini, or None when absent."""
    if not os.path.isfile(path):
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as error:
        raise ValueError(f"Malformed meta info file {path}: {error}") from None
    for section in parser.sections():
        if parser.has_option(section, "resolution"):
            text = parser.get(section, "resolution")
            numbers = re.findall(r"\d+", text)
            if len(numbers) != 2:
                raise ValueError(
                    f"{path}: resolution must be '(width, height)', got {text!r}"
                )
            return int(numbers[0]), int(numbers[1])
    return None


def _got10k_sequence(root, split, name):
    folder = os.path.join(root, split, name)
    require_dir(folder, f"GOT-10k sequence folder of {name!r}")
    gt_path = os.path.join(folder, "groundtruth.txt")
    ground_truth = read_boxes(gt_path)
    attributes = {}
    resolution = _got10k_resolution(os.path.join(folder, "meta_info.ini"))
    if resolution is not None:
        attributes["resolution"] = resolution
    if split == "test":
        frames = image_files(folder)
        if len(ground_truth) != 1:
            raise ValueError(
                f"{gt_path}: the GOT-10k test split annotates only the first "
                f"frame, got {len(ground_truth)} boxes"
            )
        visible = None
    else:
        count = len(ground_truth)
        frames = numbered_frames(folder, 1, count, 8)
        absence = read_labels(os.path.join(folder, "absence.label"), count)
        cover = read_labels(os.path.join(folder, "cover.label"), count)
        attributes["cover"] = cover
        visible = (absence == 0) & (cover > 0)
    return Sequence(
        name=name,
        frames=frames,
        ground_truth=ground_truth,
        visible=visible,
        dataset="got10k",
        attributes=attributes,
    )


@register_dataset(
    "got10k",
    splits=("test", "val", "train"),
    default_split="test",
    description="GOT-10k: <split>/list.txt, <seq>/%08d.jpg, absence/cover labels",
)
def _read_got10k(root, split):
    names = read_names(os.path.join(root, split, "list.txt"))
    return Dataset(
        "got10k", root, split, names, lambda n: _got10k_sequence(root, split, n)
    )
