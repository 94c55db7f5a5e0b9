"""Procedural datasets: sequences by seed, splits with disjoint seed ranges,
and writing a sequence to disk in OTB layout.

Seeds of `procedural_dataset` splits are disjoint: "train" uses seeds
[0, 1e8), "val" [1e8, 2e8), "test" [2e8, 3e8).
"""

import os

import cv2
import numpy as np
from tqdm import tqdm

from keras_loretrack.atomic_files import atomic_output
from keras_loretrack.sequences.annotations import write_boxes
from keras_loretrack.sequences.procedural.video import ProceduralVideo

SPLIT_SEED_RANGES = {
    "train": range(0, 100_000_000),
    "val": range(100_000_000, 200_000_000),
    "test": range(200_000_000, 300_000_000),
}


def make_sequence(seed, name=None, **config):
    """One procedural video as a `Sequence`.

    Args:
        seed: int. The video's seed.
        name: str or None. Sequence name (default `procedural-<seed>`).
        **config: other `ProceduralVideo` fields.
    """
    return ProceduralVideo(seed=seed, **config).to_sequence(name=name)


def procedural_dataset(num_sequences, seed=0, split="train", **config):
    """A list of procedural sequences with seeds from a split's own range.

    Sequence `i` has seed `SPLIT_SEED_RANGES[split].start + seed + i`, so the
    splits never share a video.

    Args:
        num_sequences: int. How many sequences.
        seed: int. Offset of the first sequence within the split's seed range.
        split: str. "train", "val" or "test".
        **config: other `ProceduralVideo` fields.

    Returns:
        list of `Sequence`.
    """
    return [
        make_sequence(s, **config)
        for s in split_seeds(num_sequences, seed, split, "procedural")
    ]


def split_seeds(num_sequences, seed, split, kind):
    """The seeds of sequences `seed .. seed + num_sequences - 1` of a split.

    Args:
        num_sequences: int. How many sequences.
        seed: int. Offset of the first sequence within the split's seed range.
        split: str. "train", "val" or "test".
        kind: str. What the sequences are (named in errors).

    Returns:
        range of int.
    """
    if split not in SPLIT_SEED_RANGES:
        raise ValueError(
            f"Unknown {kind} split {split!r}; expected one of "
            f"{sorted(SPLIT_SEED_RANGES)}"
        )
    seeds = SPLIT_SEED_RANGES[split]
    if num_sequences < 0 or seed < 0 or seed + num_sequences > len(seeds):
        raise ValueError(
            f"Split {split!r} holds seeds 0..{len(seeds) - 1}; got seed={seed} "
            f"and num_sequences={num_sequences}"
        )
    return range(seeds.start + seed, seeds.start + seed + num_sequences)


def write_sequence(sequence, folder, quality=95, invisible_as_nan=True):
    """Writes a sequence in OTB layout: `img/%04d.jpg` and `groundtruth_rect.txt`.

    The OTB layout has no visibility labels; by default frames whose target is
    not visible get NaN boxes (the UAV123 convention), which keeps them out of
    the metrics when read back. Frames already written are kept (resume).

    Args:
        sequence: `Sequence`. Usually from `make_sequence`.
        folder: str. Output folder (created).
        quality: int. JPEG quality.
        invisible_as_nan: bool. Write NaN rows for frames with `visible` False.

    Returns:
        str, the folder.
    """
    folder = os.fspath(folder)
    image_dir = os.path.join(folder, "img")
    os.makedirs(image_dir, exist_ok=True)
    for index in tqdm(range(len(sequence)), desc=sequence.name, leave=False):
        path = os.path.join(image_dir, f"{index + 1:04d}.jpg")
        if os.path.isfile(path):
            continue
        bgr = cv2.cvtColor(sequence.frame(index), cv2.COLOR_RGB2BGR)
        ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError(f"Could not encode frame {index} of {sequence.name}")
        with atomic_output(path) as tmp, open(tmp, "wb") as f:
            f.write(encoded.tobytes())
    boxes = sequence.ground_truth.copy()
    if invisible_as_nan and sequence.visible is not None:
        boxes[~sequence.visible] = np.nan
    write_boxes(os.path.join(folder, "groundtruth_rect.txt"), boxes)
    return folder
