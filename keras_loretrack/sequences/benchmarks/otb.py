"""OTB-2015 and any folder of sequences in its layout: `<seq>/img/%04d.jpg`
and `<seq>/groundtruth_rect.txt`.

OTB-2015's 100 targets and their frame ranges are pytracking's table, stored
in `sequences/tables/otb.json` (fields left out take the `OtbEntry`
defaults). Special cases: David and BlurCar1/3/4 start late; Diving,
Football1, Freeman3 and Freeman4 end before their folder does; Board has
5-digit and KiteSurf png frames; Tiger1 skips its first 5 frames and boxes;
Human4 is evaluated on its second target; Jogging and Skating2 have two
targets each.
"""

import dataclasses
import functools
import os

from keras_loretrack.sequences.annotations import read_boxes
from keras_loretrack.sequences.benchmarks.files import (
    check_rows,
    numbered_frames,
    read_table,
    require_dir,
    subfolders,
)
from keras_loretrack.sequences.registry import Dataset, register_dataset
from keras_loretrack.sequences.sequence import Sequence


@dataclasses.dataclass(frozen=True)
class OtbEntry:
    """One OTB-2015 target: frames `first + skip .. last` of `folder/img`."""

    folder: str
    last: int
    first: int = 1
    annotation: str = "groundtruth_rect.txt"
    digits: int = 4
    ext: str = "jpg"
    skip: int = 0


@functools.cache
def sequence_table():
    """The 100 OTB-2015 targets: name -> `OtbEntry`."""
    return {
        name: OtbEntry(**{"folder": name, **entry})
        for name, entry in read_table("otb").items()
    }


def _otb_sequence(root, name):
    entry = sequence_table()[name]
    folder = os.path.join(root, entry.folder)
    require_dir(folder, f"OTB sequence folder of {name!r}")
    gt_path = os.path.join(folder, entry.annotation)
    ground_truth = read_boxes(gt_path)
    check_rows(ground_truth, entry.last - entry.first + 1, gt_path)
    frames = numbered_frames(
        os.path.join(folder, "img"),
        entry.first + entry.skip,
        entry.last,
        entry.digits,
        entry.ext,
    )
    return Sequence(
        name=name,
        frames=frames,
        ground_truth=ground_truth[entry.skip :],
        dataset="otb",
    )


@register_dataset(
    "otb",
    description="OTB-2015 (100 targets): <Seq>/img/%04d.jpg + groundtruth_rect.txt",
)
def _read_otb(root, split):
    return Dataset(
        "otb", root, split, list(sequence_table()), lambda n: _otb_sequence(root, n)
    )


@register_dataset(
    "folder",
    description="any folder of OTB-layout sequences: <seq>/img/, groundtruth_rect.txt",
)
def _read_folder(root, split):
    names = [
        n
        for n in subfolders(root)
        if os.path.isdir(os.path.join(root, n, "img"))
        and os.path.isfile(os.path.join(root, n, "groundtruth_rect.txt"))
    ]
    if not names:
        raise FileNotFoundError(
            f"No sequence folders (<seq>/img/ + groundtruth_rect.txt) under {root}"
        )
    return Dataset(
        "folder",
        root,
        split,
        names,
        lambda n: Sequence.from_otb_folder(os.path.join(root, n), dataset="folder"),
    )
