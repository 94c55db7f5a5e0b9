"""From the head's maps to an image box: Hann window, decoding, map-back, clipping.

Follows OSTrack's tracker (Ye et al. 2022): the score map is multiplied by a cosine
(Hann) window, the box is decoded at the windowed argmax, scaled from the
normalised crop to image pixels, shifted by the previous centre and clipped to
the image with a 10 px margin.
"""

import numpy as np

from keras_loretrack.layers.center_head import decode_boxes

CLIP_MARGIN = 10


def hann_window(size):
    """The 2D Hann window applied to a `size` x `size` score map.

    `hann1d[k] = 0.5 * (1 - cos(2π k / (size + 1)))` for k = 1..size (nonzero at
    the border, 1 at the centre for odd sizes), and the window is its outer
    product with itself. Computed in float64 and stored as float32 (the
    official float32 computation can differ in the last bit).

    Args:
        size: int. The feature-map side `fs`.

    Returns:
        float32 array (size, size).
    """
    size = int(size)
    if size < 1:
        raise ValueError(f"Hann window size must be >= 1, got {size!r}")
    k = np.arange(1, size + 1, dtype=np.float64)
    hann1d = 0.5 * (1.0 - np.cos(2.0 * np.pi * k / (size + 1)))
    return np.outer(hann1d, hann1d).astype(np.float32)


def decode_box(response, size_map, offset_map):
    """Decodes the normalised box at the argmax of `response`.

    The model's own decoder (`keras_loretrack.layers.center_head.decode_boxes`)
    on numpy maps of one frame.

    Args:
        response: float array (fs, fs). The (windowed) score map.
        size_map: float array (fs, fs, 2). w, h relative to the search crop.
        offset_map: float array (fs, fs, 2). Sub-cell x, y offsets.

    Returns:
        (box, (iy, ix)): float64 array (4,) cx, cy, w, h in [0, 1] crop units,
        and the argmax cell (row, column). Ties go to the first cell in
        row-major order.
    """
    response = np.asarray(response)
    box = decode_boxes(
        response[None, :, :, None],
        np.asarray(size_map)[None],
        np.asarray(offset_map)[None],
        xp=np,
    )[0]
    iy, ix = divmod(int(np.argmax(response)), response.shape[0])
    return box.astype(np.float64), (iy, ix)


def map_box_back(box, previous_box, search_size, resize_factor):
    """Maps a normalised crop box to an image box (x, y, w, h).

    The crop is centred on the previous box's (unrounded) centre and spans
    `search_size / resize_factor` image pixels, so a crop coordinate `c` maps
    to `c * search_size / resize_factor + previous_centre - half_side`.
    Computed in float64 (the official code scales in float32 first; the
    difference is far below a pixel).

    Args:
        box: float array (4,). cx, cy, w, h normalised to the search crop.
        previous_box: float array (4,). The previous x, y, w, h in pixels.
        search_size: int. The search crop side in model pixels.
        resize_factor: float. Model pixels per image pixel of this crop.

    Returns:
        float64 array (4,) x, y, w, h in image pixels.
    """
    scale = search_size / resize_factor
    cx, cy, w, h = np.asarray(box, dtype=np.float64) * scale
    x, y, pw, ph = np.asarray(previous_box, dtype=np.float64)
    half_side = 0.5 * scale
    cx = cx + (x + 0.5 * pw - half_side)
    cy = cy + (y + 0.5 * ph - half_side)
    return np.array([cx - 0.5 * w, cy - 0.5 * h, w, h], dtype=np.float64)


def clip_box(box, height, width, margin=CLIP_MARGIN):
    """Clips an x, y, w, h box to the image, keeping at least `margin` px.

    OSTrack's rule: the left/top edge is clamped to [0, W - margin], the
    right/bottom edge to [margin, W], and w, h to at least `margin`. A box that
    leaves the image therefore stays a `margin`-sized box at the border, and a
    box that shrinks to nothing grows back to `margin` px. In a frame smaller
    than `margin` the margin is the frame's side, so the box stays inside.

    Args:
        box: float array (4,). x, y, w, h in pixels.
        height: int. Image height H.
        width: int. Image width W.
        margin: float. Minimum side and border band in pixels.

    Returns:
        float64 array (4,) x, y, w, h.
    """
    margin = min(margin, width, height)
    x1, y1, w, h = (float(v) for v in box)
    x2, y2 = x1 + w, y1 + h
    x1 = min(max(0.0, x1), width - margin)
    x2 = min(max(margin, x2), width)
    y1 = min(max(0.0, y1), height - margin)
    y2 = min(max(margin, y2), height)
    return np.array(
        [x1, y1, max(margin, x2 - x1), max(margin, y2 - y1)], dtype=np.float64
    )
