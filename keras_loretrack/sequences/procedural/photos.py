"""Still photographs as one-frame tracking sequences, for static-image pairs.

OSTrack (Ye et al. 2022) trains on COCO by cutting template and search from
one photograph around one object, with the search crop jittered and both
augmented. Without annotated photographs at hand, the target here is an
object-like box in one of scikit-image's bundled natural images: the box,
among a few random candidates, whose colours differ most from the ring around
it. Each sequence rescales its photograph (and tints grayscale ones), so
targets come at many sizes relative to the frame. The same seed ranges as
procedural videos keep the splits disjoint.
"""

import cv2
import numpy as np

from keras_loretrack.sequences.procedural.dataset import split_seeds
from keras_loretrack.sequences.procedural.textures import (
    TEXTURE_NAMES,
    load_texture,
    random_tint,
)
from keras_loretrack.sequences.sequence import Sequence

CANDIDATES = 8


def _ring_contrast(image, box):
    """Colour distance between a box and the ring of half its size around it."""
    x, y, w, h = box
    height, width = image.shape[:2]
    x0, y0 = max(0, int(x - w / 2)), max(0, int(y - h / 2))
    x1, y1 = min(width, int(x + 1.5 * w)), min(height, int(y + 1.5 * h))
    outer = image[y0:y1, x0:x1].reshape(-1, 3)
    inner = image[int(y) : int(y + h), int(x) : int(x + w)].reshape(-1, 3)
    if len(outer) <= len(inner):
        return 0.0
    ring_mean = (outer.sum(0) - inner.sum(0)) / (len(outer) - len(inner))
    return float(np.linalg.norm(inner.mean(0) - ring_mean) + inner.std(0).mean())


def _photo(seed, image_side):
    """The sequence's photograph (rescaled, tinted, maybe flipped) and its rng."""
    rng = np.random.default_rng(seed)
    texture = TEXTURE_NAMES[int(rng.integers(len(TEXTURE_NAMES)))]
    source = load_texture(texture)
    scale = rng.uniform(*image_side) / max(source.shape[:2])
    size = (
        max(32, round(source.shape[1] * scale)),
        max(32, round(source.shape[0] * scale)),
    )
    image = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
    tint = np.asarray(random_tint(rng, texture), np.float32)
    image = np.clip(image * tint, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        image = np.ascontiguousarray(image[:, ::-1])
    return image, texture, rng


def make_photo_sequence(seed, name=None, image_side=(240, 720), box_side=(0.06, 0.3)):
    """One still photograph with an object-like target box, as a `Sequence`.

    The photograph is rendered again from the seed whenever the frame is read,
    so a list of many sequences holds only their boxes.

    Args:
        seed: int. Decides the photograph, its size and tint, and the box.
        name: str or None. Sequence name (default `photo-<seed>`).
        image_side: (int, int). Range of the rescaled photograph's longer side.
        box_side: (float, float). Range of the box's geometric-mean side as a
            fraction of the photograph's shorter side.

    Returns:
        `Sequence` of one frame (RGB uint8) and one box (x, y, w, h).
    """
    if not 0 < box_side[0] <= box_side[1] < 1:
        raise ValueError(f"box_side must satisfy 0 < low <= high < 1, got {box_side}")
    if not 32 <= image_side[0] <= image_side[1]:
        raise ValueError(f"image_side must satisfy 32 <= low <= high, got {image_side}")
    image, texture, rng = _photo(seed, image_side)
    height, width = image.shape[:2]
    boxes = []
    for _ in range(CANDIDATES):
        side = rng.uniform(*box_side) * min(height, width)
        aspect = float(np.exp(rng.uniform(np.log(1 / 3), np.log(3))))
        w = min(side * np.sqrt(aspect), width - 2.0)
        h = min(side / np.sqrt(aspect), height - 2.0)
        boxes.append((rng.uniform(0, width - w), rng.uniform(0, height - h), w, h))
    pixels = image.astype(np.float32)
    box = max(boxes, key=lambda b: _ring_contrast(pixels, b))

    def frame(index):
        return _photo(seed, image_side)[0]

    return Sequence(
        name=name or f"photo-{seed}",
        frames=frame,
        num_frames=1,
        ground_truth=np.asarray([box]),
        visible=np.asarray([True]),
        dataset="photos",
        attributes={"photo": texture},
    )


def photo_dataset(num_sequences, seed=0, split="train", **config):
    """Still-photo sequences with seeds from a split's own range.

    Sequence `i` has seed `SPLIT_SEED_RANGES[split].start + seed + i`, as
    `procedural_dataset` numbers its videos.

    Args:
        num_sequences: int. How many sequences.
        seed: int. Offset of the first sequence within the split's seed range.
        split: str. "train", "val" or "test".
        **config: other `make_photo_sequence` arguments.

    Returns:
        list of `Sequence`, each of one frame.
    """
    return [
        make_photo_sequence(s, **config)
        for s in split_seeds(num_sequences, seed, split, "photo")
    ]
