"""Fixtures writing fake benchmark trees (`files`, `rng`, `got10k_root`).

Loaded by `tests/conftest.py` as a pytest plugin, so every test folder sees them.
"""

import os

import cv2
import numpy as np
import pytest


def write_image(path, value=0, size=(6, 8)):
    """Writes a tiny image file whose red channel encodes `value` (0..12)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = np.zeros(tuple(size) + (3,), np.uint8)
    image[..., 2] = 20 * value
    assert cv2.imwrite(str(path), image)


def image_value(frame):
    """The `value` a frame written by `write_image` encodes (JPEG-tolerant)."""
    return int(round(float(frame[..., 0].mean()) / 20))


def write_text(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def write_box_lines(path, boxes, separator=","):
    write_text(path, "".join(separator.join(f"{v:g}" for v in b) + "\n" for b in boxes))


def random_boxes(rng, count, size=(100, 80)):
    """Valid x, y, w, h boxes inside an image of `size` = (width, height)."""
    width, height = size
    w = rng.uniform(5, width / 2, count)
    h = rng.uniform(5, height / 2, count)
    return np.stack(
        [rng.uniform(0, width - w), rng.uniform(0, height - h), w, h], axis=1
    )


class Files:
    """Helpers writing fake dataset trees."""

    image = staticmethod(write_image)
    value = staticmethod(image_value)
    text = staticmethod(write_text)
    boxes = staticmethod(write_box_lines)
    random_boxes = staticmethod(random_boxes)


@pytest.fixture
def files():
    return Files


@pytest.fixture
def rng():
    return np.random.default_rng(0)


GOT10K_VAL = ("GOT-10k_Val_000001", "GOT-10k_Val_000002")


@pytest.fixture
def got10k_root(tmp_path, rng):
    """A fake GOT-10k tree: a val split of 2 sequences, a test split of 1."""
    root = tmp_path / "GOT10k"
    write_text(root / "val" / "list.txt", "\n".join(GOT10K_VAL) + "\n")
    for k, name in enumerate(GOT10K_VAL):
        folder = root / "val" / name
        count = 6 + 3 * k
        write_box_lines(folder / "groundtruth.txt", random_boxes(rng, count))
        cover = rng.integers(0, 9, count)
        cover[:2] = 8
        cover[3] = 0
        for label, values in (
            ("cover", cover),
            ("absence", (cover == 0).astype(int)),
            ("cut_by_image", np.zeros(count, int)),
        ):
            write_text(folder / f"{label}.label", "\n".join(map(str, values)) + "\n")
        write_text(
            folder / "meta_info.ini",
            "[METAINFO]\nurl: https://example.org/v?a=%20b\nresolution: (100, 80)\n",
        )
        for index in range(1, count + 1):
            write_image(folder / f"{index:08d}.jpg", index)
    test = root / "test" / "GOT-10k_Test_000001"
    write_text(root / "test" / "list.txt", "GOT-10k_Test_000001\n")
    write_text(test / "groundtruth.txt", "10,12,30,20\n")
    for index in range(1, 6):
        write_image(test / f"{index:08d}.jpg", index)
    return root
