"""Drawing a procedural video's frames from its script, one at a time.

Sprites are composited with soft masks (0.5 exactly on the contour) over the
drifting background, blurred along their motion, then the whole frame gets
the light gain, camera shake and sensor noise of the script.
"""

import functools
import math

import cv2
import numpy as np

from keras_loretrack.sequences.procedural.motion import velocity
from keras_loretrack.sequences.procedural.textures import cut

_MAX_TEXTURE_SIDE = 640
_NOISE_PAD = 32  # each frame's noise is a shifted window of one noise tile


def render_frame(video, index):
    """Frame `index` of `video` as RGB uint8 (H, W, 3)."""
    script = video.script
    textures = video_textures(video)
    height, width = video.image_size
    dx, dy = script.drift[index]
    canvas = cv2.getRectSubPix(
        textures["background"],
        (width, height),
        (
            script.margin + dx + (width - 1) / 2.0,
            script.margin + dy + (height - 1) / 2.0,
        ),
    ).astype(np.float32)
    sprites = (
        [(s, t) for s, t in zip(script.distractors, textures["distractors"])]
        + [(script.target, textures["target"])]
        + [(s, t) for s, t in zip(script.occluders, textures["occluders"])]
    )
    for sprite, texture in sprites:
        _draw(canvas, sprite, texture, index, video.motion_blur)
    canvas *= script.gain[index].astype(np.float32)
    length, angle = script.shake[index]
    if length > 0:
        canvas = cv2.filter2D(canvas, -1, line_kernel(length, angle))
    if video.noise > 0:
        tile = textures["noise"]
        offset_rng = np.random.default_rng([int(video.seed), 0x401, index])
        dy, dx = offset_rng.integers(0, _NOISE_PAD + 1, 2)
        canvas += tile[dy : dy + height, dx : dx + width]
    np.clip(canvas, 0.0, 255.0, out=canvas)
    return np.rint(canvas, out=canvas).astype(np.uint8)


def object_alpha(video, index, occluded=False):
    """The target's soft mask in frame `index` (H, W) float32 in [0, 1].

    With `occluded`, multiplied by the occluders' transparency.
    """
    image_size = video.image_size
    alpha = np.zeros(image_size, np.float32)
    roi = _roi(video.script.target, index, 0, image_size)
    if roi is not None:
        x0, y0, x1, y1 = roi
        alpha[y0:y1, x0:x1] = _soft_alpha(video.script.target, index, roi)
    if occluded:
        for occluder in video.script.occluders:
            roi = _roi(occluder, index, 0, image_size)
            if roi is not None:
                x0, y0, x1, y1 = roi
                alpha[y0:y1, x0:x1] *= 1.0 - _soft_alpha(occluder, index, roi)
    return alpha


@functools.lru_cache(maxsize=32)
def video_textures(video):
    """The video's resized texture images (a small per-process cache)."""
    script = video.script
    height, width = video.image_size
    return {
        "background": cut(
            script.background,
            script.background_region,
            script.background_flip,
            script.background_tint,
            (width + 2 * script.margin, height + 2 * script.margin),
        ),
        "target": cut(
            script.target.texture,
            script.target.region,
            script.target.flip,
            script.target.tint,
            _texture_size(script.target),
        ),
        "distractors": [
            cut(s.texture, s.region, s.flip, s.tint, _texture_size(s))
            for s in script.distractors
        ],
        "occluders": [
            cut(s.texture, s.region, s.flip, s.tint, _texture_size(s))
            for s in script.occluders
        ],
        "noise": video.noise
        * np.random.default_rng([int(video.seed), 0x401]).standard_normal(
            (height + _NOISE_PAD, width + _NOISE_PAD, 3), np.float32
        ),
    }


def _texture_size(sprite):
    umin, umax, vmin, vmax = sprite.shape.bounds
    ax = sprite.sizes[:, 0].max() / (umax - umin)
    ay = sprite.sizes[:, 1].max() / (vmax - vmin)
    return (
        int(np.clip(math.ceil(2.0 * ax), 8, _MAX_TEXTURE_SIDE)),
        int(np.clip(math.ceil(2.0 * ay), 8, _MAX_TEXTURE_SIDE)),
    )


def _roi(sprite, index, pad, image_size):
    """Pixel box (x0, y0, x1, y1) around the sprite in the frame, or None."""
    height, width = image_size
    ex, ey, ax, ay = sprite.ellipse(index)
    x0 = max(int(math.floor(ex - ax)) - pad - 1, 0)
    y0 = max(int(math.floor(ey - ay)) - pad - 1, 0)
    x1 = min(int(math.ceil(ex + ax)) + pad + 1, width)
    y1 = min(int(math.ceil(ey + ay)) + pad + 1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _soft_alpha(sprite, index, roi, edge=1.5):
    """Soft mask on the ROI's pixel centres; 0.5 exactly on the contour."""
    x0, y0, x1, y1 = roi
    ex, ey, ax, ay = sprite.ellipse(index)
    x = (np.arange(x0, x1) + 0.5 - ex) / ax
    y = (np.arange(y0, y1) + 0.5 - ey) / ay
    u, v = np.meshgrid(x, y)
    margin = sprite.shape.signed_margin(u, v) * math.sqrt(ax * ay)
    return np.clip(0.5 + margin / edge, 0.0, 1.0).astype(np.float32)


def _draw(canvas, sprite, texture, index, motion_blur):
    """Composites one sprite onto the float canvas, blurred along its motion."""
    motion = velocity(sprite.centers, index)
    blur = motion_blur * float(np.hypot(*motion))
    pad = int(math.ceil(blur)) + 1 if blur >= 1.5 else 0
    roi = _roi(sprite, index, pad, canvas.shape[:2])
    if roi is None:
        return
    x0, y0, x1, y1 = roi
    alpha = _soft_alpha(sprite, index, roi)
    ex, ey, ax, ay = sprite.ellipse(index)
    tex_h, tex_w = texture.shape[:2]
    sx, sy = 2.0 * ax / tex_w, 2.0 * ay / tex_h
    matrix = np.array(
        [
            [sx, 0.0, 0.5 * sx - 0.5 + ex - ax - x0],
            [0.0, sy, 0.5 * sy - 0.5 + ey - ay - y0],
        ]
    )
    color = cv2.warpAffine(
        texture,
        matrix,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    ).astype(np.float32)
    premultiplied = color * alpha[:, :, None]
    if pad:
        kernel = line_kernel(blur, math.atan2(motion[1], motion[0]))
        premultiplied = cv2.filter2D(premultiplied, -1, kernel)
        alpha = cv2.filter2D(alpha, -1, kernel)
    region = canvas[y0:y1, x0:x1]
    region *= 1.0 - alpha[:, :, None]
    region += premultiplied


def line_kernel(length, angle):
    """A normalised line kernel of the given length (px) and angle (radians)."""
    size = int(math.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = (size - 1) / 2.0
    dx, dy = 0.5 * (length - 1) * math.cos(angle), 0.5 * (length - 1) * math.sin(angle)
    shift = 4
    scale = 1 << shift
    cv2.line(
        kernel,
        (int(round((c - dx) * scale)), int(round((c - dy) * scale))),
        (int(round((c + dx) * scale)), int(round((c + dy) * scale))),
        1.0,
        thickness=1,
        lineType=cv2.LINE_AA,
        shift=shift,
    )
    total = kernel.sum()
    if total <= 0:
        kernel[int(c), int(c)] = 1.0
        total = 1.0
    return kernel / total
