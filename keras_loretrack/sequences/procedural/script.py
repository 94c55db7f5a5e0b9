"""A procedural video's script: every random choice, drawn once from the seed.

The background, the target and its look-alike distractors, the occluders
crossing its path, camera drift, light and shake all come from one `numpy`
Generator seeded by the video's seed, in a fixed order, so a seed names one
video exactly. The visible fraction of the target per frame is computed here
too, from the shapes alone.
"""

import dataclasses
import math

import numpy as np

from keras_loretrack.sequences.procedural.motion import (
    box_sizes,
    camera_shake,
    crossing,
    light_gain,
    smooth_wave,
    trajectory,
)
from keras_loretrack.sequences.procedural.sprites import Sprite, random_shape
from keras_loretrack.sequences.procedural.textures import (
    TEXTURE_NAMES,
    random_region,
    random_tint,
    shifted_region,
)

_VISIBILITY_GRID = 32


@dataclasses.dataclass(frozen=True)
class Script:
    """Everything a video draws at random; rendering only reads it."""

    background: str
    background_region: tuple
    background_flip: bool
    background_tint: tuple
    margin: int
    drift: np.ndarray
    target: Sprite
    distractors: tuple
    occluders: tuple
    gain: np.ndarray
    shake: np.ndarray
    visible_fraction: np.ndarray


def draw_script(video):
    """All random choices of `video` (a `ProceduralVideo`)."""
    rng = np.random.default_rng([int(video.seed), 0x7EC])
    n = video.num_frames
    height, width = video.image_size
    diag = math.sqrt(height * width)

    sources = rng.permutation(len(TEXTURE_NAMES))
    background, target_source = TEXTURE_NAMES[sources[0]], sources[1]
    other_sources = [TEXTURE_NAMES[i] for i in sources[2:]]

    margin = int(math.ceil(2.0 * video.camera_drift * max(height, width))) + 2
    drift = np.stack(
        [
            smooth_wave(rng, n, (0.5 * n + 20, 2.0 * n + 40))[0]
            * 2.0
            * video.camera_drift
            * size
            for size in (width, height)
        ],
        axis=1,
    )
    bg_aspect = (width + 2 * margin) / (height + 2 * margin)
    background_region = random_region(rng, background, bg_aspect, (0.5, 1.0))

    size0 = rng.uniform(*video.object_size) * diag
    aspect0 = math.exp(rng.uniform(-video.aspect_range, video.aspect_range))
    speed = video.speed * rng.uniform(0.3, 1.0)
    out_of_view = rng.random() < video.out_of_view_probability
    target_sizes = box_sizes(rng, video, size0, aspect0)
    bound = target_sizes.max(0) if out_of_view else np.zeros(2)
    target_centers = trajectory(rng, video, size0, speed, bound)
    target_texture = TEXTURE_NAMES[target_source]
    target_region = random_region(rng, target_texture, aspect0, (0.15, 0.6))
    target = Sprite(
        target_texture,
        target_region,
        bool(rng.random() < 0.5),
        random_tint(rng, target_texture),
        random_shape(rng, video.irregularity, (2.0, 4.0)),
        target_centers,
        target_sizes,
    )

    distractors = _distractors(rng, video, target, size0, aspect0, speed)
    occluders = _occluders(rng, video, target, size0, other_sources)
    gain = light_gain(rng, video)
    shake = camera_shake(rng, video)

    return Script(
        background=background,
        background_region=background_region,
        background_flip=bool(rng.random() < 0.5),
        background_tint=random_tint(rng, background),
        margin=margin,
        drift=drift,
        target=target,
        distractors=tuple(distractors),
        occluders=tuple(occluders),
        gain=gain,
        shake=shake,
        visible_fraction=visible_fraction(video, target, occluders),
    )


def _distractors(rng, video, target, size0, aspect0, speed):
    """Look-alikes: patches of the target's image next to its region."""
    x0, y0, x1, y1 = target.region
    distractors = []
    count = rng.integers(video.num_distractors[0], video.num_distractors[1] + 1)
    for _ in range(count):
        size = size0 * rng.uniform(0.7, 1.3)
        aspect = aspect0 * math.exp(rng.uniform(-0.2, 0.2))
        shift = rng.uniform(-0.5, 0.5, 2) * np.array([x1 - x0, y1 - y0])
        distractors.append(
            Sprite(
                target.texture,
                shifted_region(target.region, shift),
                bool(rng.random() < 0.5),
                target.tint,
                random_shape(rng, video.irregularity, (2.0, 4.0)),
                trajectory(rng, video, size, speed * rng.uniform(0.5, 1.5), None),
                box_sizes(rng, video, size, aspect),
            )
        )
    return distractors


def _occluders(rng, video, target, size0, sources):
    """Blocky patches of other images crossing the target's path."""
    occluders = []
    count = rng.integers(video.num_occluders[0], video.num_occluders[1] + 1)
    for _ in range(count):
        texture = sources[rng.integers(len(sources))]
        size = size0 * rng.uniform(1.0, 2.5)
        aspect = math.exp(rng.uniform(-0.8, 0.8))
        wh = np.array([size * math.sqrt(aspect), size / math.sqrt(aspect)])
        occluders.append(
            Sprite(
                texture,
                random_region(rng, texture, aspect, (0.15, 0.6)),
                bool(rng.random() < 0.5),
                random_tint(rng, texture),
                random_shape(rng, 0.5 * video.irregularity, (3.0, 6.0)),
                crossing(rng, video, target, wh, size0),
                np.tile(wh, (video.num_frames, 1)),
            )
        )
    return occluders


def visible_fraction(video, target, occluders):
    """Fraction of the target's area inside the frame and not occluded (N,)."""
    height, width = video.image_size
    umin, umax, vmin, vmax = target.shape.bounds
    g = (np.arange(_VISIBILITY_GRID) + 0.5) / _VISIBILITY_GRID
    gu, gv = np.meshgrid(umin + g * (umax - umin), vmin + g * (vmax - vmin))
    inside = target.shape.signed_margin(gu, gv) >= 0.0
    gu, gv = gu[inside], gv[inside]
    fractions = np.empty(video.num_frames)
    for start in range(0, video.num_frames, 256):
        index = np.arange(start, min(start + 256, video.num_frames))
        ex, ey, ax, ay = (a[:, None] for a in target.ellipse(index))
        x, y = ex + ax * gu, ey + ay * gv
        seen = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        for occluder in occluders:
            near = _boxes_overlap(target.boxes()[index], occluder.outer_boxes(index))
            if near.any():
                seen[near] &= ~occluder.inside(x[near], y[near], index[near])
        fractions[index] = seen.mean(axis=1)
    return fractions


def _boxes_overlap(a, b):
    """Whether boxes x, y, w, h (..., 4) intersect, elementwise."""
    return (
        (a[..., 0] < b[..., 0] + b[..., 2])
        & (b[..., 0] < a[..., 0] + a[..., 2])
        & (a[..., 1] < b[..., 1] + b[..., 3])
        & (b[..., 1] < a[..., 1] + a[..., 3])
    )
