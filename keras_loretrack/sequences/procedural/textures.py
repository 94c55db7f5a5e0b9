"""The natural images procedural videos are cut from: scikit-image's bundled
images, random regions and tints of them, and the resized patches drawn.

scikit-image is an optional dependency (`pip install keras-loretrack[procedural]`).
"""

import functools
import math

import cv2
import numpy as np

from keras_loretrack.optional import require

COLOR_IMAGES = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
)
GRAY_IMAGES = (
    "brick",
    "camera",
    "coins",
    "grass",
    "gravel",
    "moon",
    "page",
    "text",
    "clock",
    "cell",
)
TEXTURE_NAMES = COLOR_IMAGES + GRAY_IMAGES


def _skimage_data():
    return require(
        "skimage.data", "procedural", "Procedural videos (their natural images)"
    )


@functools.cache
def load_texture(name):
    """One of scikit-image's bundled images as RGB uint8 (grayscale repeated).

    Args:
        name: str. One of `TEXTURE_NAMES`.

    Returns:
        uint8 array (H, W, 3), read-only, cached for the process.
    """
    if name not in TEXTURE_NAMES:
        raise ValueError(f"Unknown texture {name!r}; expected one of {TEXTURE_NAMES}")
    data = _skimage_data()
    loader = getattr(data, name, None)
    if loader is None:
        raise RuntimeError(
            f"scikit-image {data.__name__} has no bundled image {name!r}; "
            "procedural videos need scikit-image >= 0.22"
        )
    image = np.asarray(loader())
    if image.dtype != np.uint8:
        raise RuntimeError(f"skimage.data.{name}() is {image.dtype}, expected uint8")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    image = np.ascontiguousarray(image[:, :, :3])
    image.setflags(write=False)
    return image


@functools.cache
def load_texture_shape(name):
    """(height, width) of a bundled texture."""
    return load_texture(name).shape[:2]


def random_region(rng, texture, aspect, fraction):
    """A random sub-rectangle of a source image, as fractions of its size."""
    source_h, source_w = load_texture_shape(texture)
    side = rng.uniform(*fraction)
    w = min(1.0, side * math.sqrt(aspect) * min(source_h, source_w) / source_w)
    h = min(1.0, side / math.sqrt(aspect) * min(source_h, source_w) / source_h)
    x0, y0 = rng.uniform(0.0, 1.0 - w), rng.uniform(0.0, 1.0 - h)
    return (x0, y0, x0 + w, y0 + h)


def shifted_region(region, shift):
    """`region` moved by `shift` (fractions), kept inside the image."""
    x0, y0, x1, y1 = region
    dx = float(np.clip(shift[0], -x0, 1.0 - x1))
    dy = float(np.clip(shift[1], -y0, 1.0 - y1))
    return (x0 + dx, y0 + dy, x1 + dx, y1 + dy)


def random_tint(rng, texture):
    """RGB gains: strong for grayscale images (they get a colour), mild otherwise."""
    if texture in GRAY_IMAGES:
        return tuple(rng.uniform(0.55, 1.15, 3).tolist())
    return tuple(rng.uniform(0.9, 1.1, 3).tolist())


def cut(texture, region, flip, tint, size):
    """Cuts a region (fractions) out of a texture, resizes it to (w, h), tints it."""
    image = load_texture(texture)
    source_h, source_w = image.shape[:2]
    x0, y0, x1, y1 = region
    c0, r0 = int(math.floor(x0 * source_w)), int(math.floor(y0 * source_h))
    c1 = max(int(math.ceil(x1 * source_w)), c0 + 1)
    r1 = max(int(math.ceil(y1 * source_h)), r0 + 1)
    patch = image[r0:r1, c0:c1]
    if flip:
        patch = patch[:, ::-1]
    w, h = size
    shrink = w < patch.shape[1] and h < patch.shape[0]
    patch = cv2.resize(
        np.ascontiguousarray(patch),
        (w, h),
        interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
    )
    return np.clip(patch * np.asarray(tint, np.float32), 0, 255).astype(np.uint8)
