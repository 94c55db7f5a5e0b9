"""Procedural tracking videos made from scikit-image's bundled natural images.

An object (a patch of a natural image under a soft, irregular mask) moves
smoothly over a drifting natural-image background, changes scale and aspect,
passes under occluders, shares the scene with look-alike distractors cut from
the same image, and goes through motion blur, camera shake, light changes and
sensor noise. Everything is drawn from one `numpy` Generator seeded by the
video's seed, so a seed names one video exactly; frames are rendered lazily
with OpenCV, one at a time.

Ground truth is exact: each sprite's mask is an analytic shape, so the box of
its 0.5 contour is known in closed form. The box is the FULL object box (also
where the object is partly occluded or leaves the frame); `visible` is False
where less than `visible_threshold` of the object's area can be seen.

Seeds of `procedural_dataset` splits are disjoint: "train" uses seeds
[0, 1e8), "val" [1e8, 2e8), "test" [2e8, 3e8).

scikit-image is an optional dependency (`pip install keras-loretrack[procedural]`).
"""

import dataclasses
import functools
import math
import os

import cv2
import numpy as np
from tqdm import tqdm

from keras_loretrack.atomic_files import atomic_output
from keras_loretrack.evaluation.annotations import write_boxes
from keras_loretrack.evaluation.sequence import Sequence

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

SPLIT_SEED_RANGES = {
    "train": range(0, 100_000_000),
    "val": range(100_000_000, 200_000_000),
    "test": range(200_000_000, 300_000_000),
}

_NUM_HARMONICS = 4
_VISIBILITY_GRID = 32
_MAX_TEXTURE_SIDE = 640
_NOISE_PAD = 32  # each frame's noise is a shifted window of one noise tile


def _skimage_data():
    try:
        import skimage.data
    except ImportError as error:
        raise ImportError(
            "Procedural videos need scikit-image for their bundled natural images: "
            "pip install 'keras-loretrack[procedural]' (or scikit-image)"
        ) from error
    return skimage.data


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


def _reflect(values, low, high):
    """Folds values into [low, high] by mirroring at the ends (a bounce)."""
    span = high - low
    if span <= 0:
        return np.full_like(values, low)
    folded = np.mod(values - low, 2.0 * span)
    return low + np.where(folded > span, 2.0 * span - folded, folded)


def _smooth_wave(rng, num_frames, periods, num_terms=3):
    """A smooth random curve starting at 0 with max |value| <= 1.

    Returns the curve (N,) and the bound of its derivative per frame.
    """
    t = np.arange(num_frames, dtype=np.float64)
    omegas = 2.0 * np.pi / rng.uniform(periods[0], periods[1], num_terms)
    phases = rng.uniform(0.0, 2.0 * np.pi, num_terms)
    weights = rng.uniform(0.2, 1.0, num_terms)
    weights /= 2.0 * weights.sum()
    curve = (weights * (np.sin(t[:, None] * omegas + phases) - np.sin(phases))).sum(1)
    return curve, float((weights * omegas).sum())


@dataclasses.dataclass(frozen=True)
class _Shape:
    """A star-shaped soft mask: superellipse norm `rho_p <= r(theta)`."""

    power: float
    amplitudes: tuple
    phases: tuple

    def radius(self, u, v):
        """r(theta) of the direction (u, v), scaled to max 1."""
        return self._raw_radius(u, v) / self.max_radius

    def _raw_radius(self, u, v):
        """1 + sum_k a_k cos(k theta + phi_k), k = 2, 3, ..., theta = atan2(v, u).

        Uses powers of the unit complex number e^(i theta) instead of angles.
        """
        z = np.asarray(u) + 1j * np.asarray(v)
        magnitude = np.abs(z)
        z = np.where(magnitude > 0, z / np.where(magnitude > 0, magnitude, 1.0), 1.0)
        r = np.ones(z.shape)
        z_power = z
        for amplitude, phase in zip(self.amplitudes, self.phases):
            z_power = z_power * z
            r += amplitude * (z_power * complex(math.cos(phase), math.sin(phase))).real
        return r

    @functools.cached_property
    def max_radius(self):
        theta = np.linspace(0.0, 2.0 * np.pi, 8192, endpoint=False)
        return float(self._raw_radius(np.cos(theta), np.sin(theta)).max())

    def norm(self, u, v):
        p = self.power
        return (np.abs(u) ** p + np.abs(v) ** p) ** (1.0 / p)

    def signed_margin(self, u, v):
        """r(theta) - rho_p: positive inside, zero on the 0.5 contour."""
        return self.radius(u, v) - self.norm(u, v)

    @functools.cached_property
    def bounds(self):
        """Tight box of the contour in shape coordinates: (umin, umax, vmin, vmax)."""
        theta = np.linspace(0.0, 2.0 * np.pi, 8192, endpoint=False)
        c, s = np.cos(theta), np.sin(theta)
        scale = self.radius(c, s) / self.norm(c, s)
        u, v = c * scale, s * scale
        return float(u.min()), float(u.max()), float(v.min()), float(v.max())


def _random_shape(rng, irregularity, power_range):
    k = np.arange(2, 2 + _NUM_HARMONICS)
    # sum of amplitudes <= irregularity < 1 keeps r(theta) > 0 (star-shaped).
    amplitudes = irregularity * rng.uniform(0.0, 1.0, _NUM_HARMONICS) / k
    amplitudes /= (1.0 / k).sum()
    phases = rng.uniform(0.0, 2.0 * np.pi, _NUM_HARMONICS)
    power = float(rng.uniform(*power_range))
    return _Shape(power, tuple(amplitudes.tolist()), tuple(phases.tolist()))


@dataclasses.dataclass(frozen=True, eq=False)
class _Sprite:
    """One moving patch: texture source, mask shape and per-frame box."""

    texture: str
    region: tuple  # (x0, y0, x1, y1) in the source image, fractions
    flip: bool
    tint: tuple
    shape: _Shape
    centers: np.ndarray = dataclasses.field(repr=False)  # (N, 2) box centre
    sizes: np.ndarray = dataclasses.field(repr=False)  # (N, 2) box w, h

    def ellipse(self, index):
        """Shape frame at a frame: centre (ex, ey) and half axes (ax, ay)."""
        umin, umax, vmin, vmax = self.shape.bounds
        w, h = self.sizes[index].T
        ax, ay = w / (umax - umin), h / (vmax - vmin)
        cx, cy = self.centers[index].T
        return cx - ax * (umin + umax) / 2.0, cy - ay * (vmin + vmax) / 2.0, ax, ay

    def boxes(self):
        """Ground-truth boxes x, y, w, h (N, 4)."""
        return np.concatenate([self.centers - self.sizes / 2.0, self.sizes], axis=1)

    def inside(self, x, y, index):
        """Whether points (frame coordinates) lie inside the 0.5 contour.

        `index` may be an array of frames (M,) with points shaped (M, P).
        """
        ex, ey, ax, ay = (np.asarray(a)[..., None] for a in self.ellipse(index))
        return self.shape.signed_margin((x - ex) / ax, (y - ey) / ay) >= 0.0


@dataclasses.dataclass(frozen=True)
class _Script:
    background: str
    background_region: tuple
    background_flip: bool
    background_tint: tuple
    margin: int
    drift: np.ndarray
    target: _Sprite
    distractors: tuple
    occluders: tuple
    gain: np.ndarray
    shake: np.ndarray
    visible_fraction: np.ndarray


@dataclasses.dataclass(frozen=True)
class ProceduralVideo:
    """A procedural tracking video, fully determined by its fields.

    Args:
        seed: int. Seed of every random choice (>= 0).
        num_frames: int. Length of the video.
        image_size: (height, width). Frame size in pixels.
        object_size: (low, high). Initial sqrt(w·h) of the object relative to
            sqrt(H·W).
        speed: float. Maximal object speed in object sizes per frame (each
            video draws its own between 0.3x and 1x of this).
        scale_change: float. Bound of |log scale| over the video.
        aspect_change: float. Bound of |log aspect-ratio change| over the video.
        num_distractors: (low, high). Number of look-alike patches (inclusive).
        num_occluders: (low, high). Number of occluders crossing the object.
        irregularity: float in [0, 0.9]. Largest relative dent of the mask's
            radius from a (super)ellipse.
        motion_blur: float. Exposure as a fraction of a frame: blur length is
            speed times this.
        shake_probability: float. Chance that a frame has camera-shake blur.
        light_change: float. Amplitude of the log brightness change.
        camera_drift: float. Background drift amplitude relative to the image.
        noise: float. Standard deviation of Gaussian sensor noise (grey levels).
        out_of_view_probability: float. Chance that the object may leave the frame.
        visible_threshold: float. Minimal visible fraction of the object's area
            for `visible` to be True.

    Example:
    ```python
    video = ProceduralVideo(seed=3, num_frames=50, image_size=(120, 160))
    frame = video.frame(10)            # (120, 160, 3) uint8
    x, y, w, h = video.ground_truth[10]
    sequence = video.to_sequence()
    ```
    """

    seed: int
    num_frames: int = 100
    image_size: tuple = (240, 320)
    object_size: tuple = (0.08, 0.25)
    speed: float = 0.15
    scale_change: float = 0.4
    aspect_change: float = 0.15
    num_distractors: tuple = (0, 2)
    num_occluders: tuple = (0, 2)
    irregularity: float = 0.5
    motion_blur: float = 0.5
    shake_probability: float = 0.03
    light_change: float = 0.25
    camera_drift: float = 0.05
    noise: float = 2.0
    out_of_view_probability: float = 0.1
    visible_threshold: float = 0.05

    def __post_init__(self):
        for name in ("image_size", "object_size", "num_distractors", "num_occluders"):
            value = getattr(self, name)
            if not (isinstance(value, (tuple, list)) and len(value) == 2):
                raise ValueError(f"{name} must be a pair, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        if not (isinstance(self.seed, (int, np.integer)) and self.seed >= 0):
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames!r}")
        if min(self.image_size) < 16:
            raise ValueError(
                f"image_size must be at least 16x16, got {self.image_size}"
            )
        low, high = self.object_size
        if not 0.0 < low <= high < 1.0:
            raise ValueError(
                f"object_size must satisfy 0 < low <= high < 1, got {self.object_size}"
            )
        for name in ("num_distractors", "num_occluders"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(
                    f"{name} must satisfy 0 <= low <= high, got {(low, high)}"
                )
        for name in (
            "speed",
            "scale_change",
            "aspect_change",
            "irregularity",
            "motion_blur",
            "light_change",
            "camera_drift",
            "noise",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in (
            "shake_probability",
            "out_of_view_probability",
            "visible_threshold",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"{name} must be in [0, 1], got {getattr(self, name)!r}"
                )
        if self.irregularity > 0.9:
            raise ValueError(f"irregularity must be <= 0.9, got {self.irregularity!r}")

    # === Script: every random draw, made once ===

    @functools.cached_property
    def script(self):
        """All random choices of the video (textures, trajectories, effects)."""
        rng = np.random.default_rng([int(self.seed), 0x7EC])
        n = self.num_frames
        height, width = self.image_size
        diag = math.sqrt(height * width)

        sources = rng.permutation(len(TEXTURE_NAMES))
        background, target_source = TEXTURE_NAMES[sources[0]], sources[1]
        other_sources = [TEXTURE_NAMES[i] for i in sources[2:]]

        margin = int(math.ceil(2.0 * self.camera_drift * max(height, width))) + 2
        drift = np.stack(
            [
                _smooth_wave(rng, n, (0.5 * n + 20, 2.0 * n + 40))[0]
                * 2.0
                * self.camera_drift
                * size
                for size in (width, height)
            ],
            axis=1,
        )
        bg_aspect = (width + 2 * margin) / (height + 2 * margin)
        background_region = self._region(rng, background, bg_aspect, (0.5, 1.0))

        size0 = rng.uniform(*self.object_size) * diag
        aspect0 = math.exp(rng.uniform(-0.6, 0.6))
        speed = self.speed * rng.uniform(0.3, 1.0)
        out_of_view = rng.random() < self.out_of_view_probability
        target_sizes = self._sizes(rng, size0, aspect0)
        bound = target_sizes.max(0) if out_of_view else np.zeros(2)
        target_centers = self._trajectory(rng, size0, speed, bound)
        target_texture = TEXTURE_NAMES[target_source]
        target_region = self._region(rng, target_texture, aspect0, (0.15, 0.6))
        target = _Sprite(
            target_texture,
            target_region,
            bool(rng.random() < 0.5),
            self._tint(rng, target_texture),
            _random_shape(rng, self.irregularity, (2.0, 4.0)),
            target_centers,
            target_sizes,
        )

        distractors = self._distractors(rng, target, size0, aspect0, speed)
        occluders = self._occluders(rng, target, size0, other_sources)
        gain = self._gain(rng)
        shake = self._shake(rng)

        return _Script(
            background=background,
            background_region=background_region,
            background_flip=bool(rng.random() < 0.5),
            background_tint=self._tint(rng, background),
            margin=margin,
            drift=drift,
            target=target,
            distractors=tuple(distractors),
            occluders=tuple(occluders),
            gain=gain,
            shake=shake,
            visible_fraction=self._visible_fraction(target, occluders),
        )

    def _distractors(self, rng, target, size0, aspect0, speed):
        """Look-alikes: patches of the target's image next to its region."""
        x0, y0, x1, y1 = target.region
        distractors = []
        count = rng.integers(self.num_distractors[0], self.num_distractors[1] + 1)
        for _ in range(count):
            size = size0 * rng.uniform(0.7, 1.3)
            aspect = aspect0 * math.exp(rng.uniform(-0.2, 0.2))
            shift = rng.uniform(-0.5, 0.5, 2) * np.array([x1 - x0, y1 - y0])
            distractors.append(
                _Sprite(
                    target.texture,
                    self._shifted_region(target.region, shift),
                    bool(rng.random() < 0.5),
                    target.tint,
                    _random_shape(rng, self.irregularity, (2.0, 4.0)),
                    self._trajectory(rng, size, speed * rng.uniform(0.5, 1.5), None),
                    self._sizes(rng, size, aspect),
                )
            )
        return distractors

    def _occluders(self, rng, target, size0, sources):
        """Blocky patches of other images crossing the target's path."""
        occluders = []
        count = rng.integers(self.num_occluders[0], self.num_occluders[1] + 1)
        for _ in range(count):
            texture = sources[rng.integers(len(sources))]
            size = size0 * rng.uniform(1.0, 2.5)
            aspect = math.exp(rng.uniform(-0.8, 0.8))
            wh = np.array([size * math.sqrt(aspect), size / math.sqrt(aspect)])
            occluders.append(
                _Sprite(
                    texture,
                    self._region(rng, texture, aspect, (0.15, 0.6)),
                    bool(rng.random() < 0.5),
                    self._tint(rng, texture),
                    _random_shape(rng, 0.5 * self.irregularity, (3.0, 6.0)),
                    self._crossing(rng, target, wh, size0),
                    np.tile(wh, (self.num_frames, 1)),
                )
            )
        return occluders

    def _gain(self, rng):
        """Per-frame RGB gain: a slow light wave, sometimes a sudden switch."""
        n = self.num_frames
        light = _smooth_wave(rng, n, (0.5 * n + 20, 2.0 * n + 40))[0] * 2.0
        if rng.random() < 0.2:
            switch = rng.integers(1, max(n, 2))
            light = light + 0.5 * rng.choice([-1.0, 1.0]) * (np.arange(n) >= switch)
        channel_tilt = rng.uniform(-0.1, 0.1, 3)
        return np.exp(self.light_change * (light[:, None] * (1.0 + channel_tilt)))

    def _shake(self, rng):
        """Per-frame camera-shake blur (length px, angle); length 0 for none."""
        n = self.num_frames
        height, width = self.image_size
        shake = np.zeros((n, 2))
        shaken = rng.random(n) < self.shake_probability
        lengths = rng.uniform(3.0, 3.0 + 0.03 * min(height, width), n)
        angles = rng.uniform(0.0, np.pi, n)
        shake[shaken] = np.stack([lengths, angles], axis=1)[shaken]
        shake[0] = 0.0
        return shake

    def _sizes(self, rng, size0, aspect0):
        n = self.num_frames
        log_scale = _smooth_wave(rng, n, (0.3 * n + 20, 1.5 * n + 40))[0] * 2.0
        log_aspect = _smooth_wave(rng, n, (0.3 * n + 20, 1.5 * n + 40))[0] * 2.0
        scale = size0 * np.exp(self.scale_change * log_scale)
        aspect = aspect0 * np.exp(self.aspect_change * log_aspect)
        return np.stack([scale * np.sqrt(aspect), scale / np.sqrt(aspect)], axis=1)

    def _trajectory(self, rng, size0, speed, out_bound):
        """Smooth centre path; it bounces at the frame (or beyond with out_bound)."""
        n = self.num_frames
        height, width = self.image_size
        centers = []
        for extent, axis in ((width, 0), (height, 1)):
            wave, slope = _smooth_wave(rng, n, (30.0, 150.0))
            amplitude = speed * size0 / max(slope, 1e-9)
            start = rng.uniform(0.25, 0.75) * extent
            low, high = 0.0, float(extent)
            if out_bound is not None:
                low, high = -float(out_bound[axis]), extent + float(out_bound[axis])
            centers.append(_reflect(start + amplitude * wave, low, high))
        return np.stack(centers, axis=1)

    def _crossing(self, rng, target, occluder_wh, size0):
        """Linear path through the target's position at a random time, clear at 0."""
        n = self.num_frames
        crossing = int(rng.integers(max(1, n // 6), max(2, n)))
        crossing = min(crossing, n - 1)
        meet = target.centers[crossing] + rng.uniform(-0.3, 0.3, 2) * size0
        direction = rng.uniform(0.0, 2.0 * np.pi)
        unit = np.array([math.cos(direction), math.sin(direction)])
        clearance = (
            0.5 * np.hypot(*occluder_wh)
            + 0.5 * np.hypot(*target.sizes[0])
            + np.hypot(*(meet - target.centers[0]))
            + 2.0
        )
        speed = max(
            self.speed * size0 * rng.uniform(0.5, 2.0), clearance / max(crossing, 1)
        )
        t = np.arange(n, dtype=np.float64)[:, None]
        return meet + (t - crossing) * speed * unit

    def _region(self, rng, texture, aspect, fraction):
        """A random sub-rectangle of a source image, as fractions of its size."""
        source_h, source_w = load_texture_shape(texture)
        side = rng.uniform(*fraction)
        w = min(1.0, side * math.sqrt(aspect) * min(source_h, source_w) / source_w)
        h = min(1.0, side / math.sqrt(aspect) * min(source_h, source_w) / source_h)
        x0, y0 = rng.uniform(0.0, 1.0 - w), rng.uniform(0.0, 1.0 - h)
        return (x0, y0, x0 + w, y0 + h)

    @staticmethod
    def _shifted_region(region, shift):
        x0, y0, x1, y1 = region
        dx = float(np.clip(shift[0], -x0, 1.0 - x1))
        dy = float(np.clip(shift[1], -y0, 1.0 - y1))
        return (x0 + dx, y0 + dy, x1 + dx, y1 + dy)

    @staticmethod
    def _tint(rng, texture):
        if texture in GRAY_IMAGES:
            return tuple(rng.uniform(0.55, 1.15, 3).tolist())
        return tuple(rng.uniform(0.9, 1.1, 3).tolist())

    def _visible_fraction(self, target, occluders):
        """Fraction of the object's area inside the frame and not occluded."""
        height, width = self.image_size
        umin, umax, vmin, vmax = target.shape.bounds
        g = (np.arange(_VISIBILITY_GRID) + 0.5) / _VISIBILITY_GRID
        gu, gv = np.meshgrid(umin + g * (umax - umin), vmin + g * (vmax - vmin))
        inside = target.shape.signed_margin(gu, gv) >= 0.0
        gu, gv = gu[inside], gv[inside]
        fractions = np.empty(self.num_frames)
        for start in range(0, self.num_frames, 256):
            index = np.arange(start, min(start + 256, self.num_frames))
            ex, ey, ax, ay = (a[:, None] for a in target.ellipse(index))
            x, y = ex + ax * gu, ey + ay * gv
            seen = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            for occluder in occluders:
                near = _boxes_overlap(
                    target.boxes()[index], _outer_boxes(occluder, index)
                )
                if near.any():
                    seen[near] &= ~occluder.inside(x[near], y[near], index[near])
            fractions[index] = seen.mean(axis=1)
        return fractions

    # === Ground truth ===

    @property
    def ground_truth(self):
        """Full object boxes x, y, w, h (N, 4), float64."""
        return self.script.target.boxes()

    @property
    def visible_fraction(self):
        """Visible fraction of the object's area per frame (N,)."""
        return self.script.visible_fraction

    @property
    def visible(self):
        """Whether at least `visible_threshold` of the object is visible (N,)."""
        return self.script.visible_fraction >= max(self.visible_threshold, 1e-12)

    # === Rendering ===

    def frame(self, index):
        """Renders frame `index` as RGB uint8 (H, W, 3)."""
        index = self._check_index(index)
        script = self.script
        textures = _textures(self)
        height, width = self.image_size
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
            self._draw(canvas, sprite, texture, index)
        canvas *= script.gain[index].astype(np.float32)
        length, angle = script.shake[index]
        if length > 0:
            canvas = cv2.filter2D(canvas, -1, _line_kernel(length, angle))
        if self.noise > 0:
            tile = textures["noise"]
            offset_rng = np.random.default_rng([int(self.seed), 0x401, index])
            dy, dx = offset_rng.integers(0, _NOISE_PAD + 1, 2)
            canvas += tile[dy : dy + height, dx : dx + width]
        np.clip(canvas, 0.0, 255.0, out=canvas)
        return np.rint(canvas, out=canvas).astype(np.uint8)

    def object_alpha(self, index, occluded=False):
        """The object's soft mask in frame `index` (H, W) float32 in [0, 1].

        Args:
            index: int. Frame index.
            occluded: bool. Multiply by the occluders' transparency (the part of
                the object that can be seen).
        """
        index = self._check_index(index)
        height, width = self.image_size
        alpha = np.zeros((height, width), np.float32)
        roi = self._roi(self.script.target, index, 0)
        if roi is not None:
            x0, y0, x1, y1 = roi
            alpha[y0:y1, x0:x1] = self._alpha(self.script.target, index, roi)
        if occluded:
            for occluder in self.script.occluders:
                roi = self._roi(occluder, index, 0)
                if roi is not None:
                    x0, y0, x1, y1 = roi
                    alpha[y0:y1, x0:x1] *= 1.0 - self._alpha(occluder, index, roi)
        return alpha

    def _check_index(self, index):
        index = int(index)
        if not 0 <= index < self.num_frames:
            raise IndexError(
                f"ProceduralVideo has {self.num_frames} frames, got index {index}"
            )
        return index

    def _roi(self, sprite, index, pad):
        height, width = self.image_size
        ex, ey, ax, ay = sprite.ellipse(index)
        x0 = max(int(math.floor(ex - ax)) - pad - 1, 0)
        y0 = max(int(math.floor(ey - ay)) - pad - 1, 0)
        x1 = min(int(math.ceil(ex + ax)) + pad + 1, width)
        y1 = min(int(math.ceil(ey + ay)) + pad + 1, height)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1

    @staticmethod
    def _alpha(sprite, index, roi, edge=1.5):
        """Soft mask on the ROI's pixel centres; 0.5 exactly on the contour."""
        x0, y0, x1, y1 = roi
        ex, ey, ax, ay = sprite.ellipse(index)
        x = (np.arange(x0, x1) + 0.5 - ex) / ax
        y = (np.arange(y0, y1) + 0.5 - ey) / ay
        u, v = np.meshgrid(x, y)
        margin = sprite.shape.signed_margin(u, v) * math.sqrt(ax * ay)
        return np.clip(0.5 + margin / edge, 0.0, 1.0).astype(np.float32)

    def _draw(self, canvas, sprite, texture, index):
        velocity = _velocity(sprite.centers, index)
        blur = self.motion_blur * float(np.hypot(*velocity))
        pad = int(math.ceil(blur)) + 1 if blur >= 1.5 else 0
        roi = self._roi(sprite, index, pad)
        if roi is None:
            return
        x0, y0, x1, y1 = roi
        alpha = self._alpha(sprite, index, roi)
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
            kernel = _line_kernel(blur, math.atan2(velocity[1], velocity[0]))
            premultiplied = cv2.filter2D(premultiplied, -1, kernel)
            alpha = cv2.filter2D(alpha, -1, kernel)
        region = canvas[y0:y1, x0:x1]
        region *= 1.0 - alpha[:, :, None]
        region += premultiplied

    # === Sequences ===

    def to_sequence(self, name=None):
        """This video as a lazily rendered `Sequence` (dataset "procedural")."""
        return Sequence(
            name=name or f"procedural-{int(self.seed):09d}",
            frames=self.frame,
            ground_truth=self.ground_truth,
            visible=self.visible,
            dataset="procedural",
            num_frames=self.num_frames,
            attributes={
                "seed": int(self.seed),
                "visible_fraction": self.visible_fraction,
                "config": dataclasses.asdict(self),
            },
        )


@functools.cache
def load_texture_shape(name):
    """(height, width) of a bundled texture."""
    return load_texture(name).shape[:2]


def _cut(texture, region, flip, tint, size):
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


def _texture_size(sprite):
    umin, umax, vmin, vmax = sprite.shape.bounds
    ax = sprite.sizes[:, 0].max() / (umax - umin)
    ay = sprite.sizes[:, 1].max() / (vmax - vmin)
    return (
        int(np.clip(math.ceil(2.0 * ax), 8, _MAX_TEXTURE_SIDE)),
        int(np.clip(math.ceil(2.0 * ay), 8, _MAX_TEXTURE_SIDE)),
    )


@functools.lru_cache(maxsize=32)
def _textures(video):
    """The video's resized texture images (a small per-process cache)."""
    script = video.script
    height, width = video.image_size
    return {
        "background": _cut(
            script.background,
            script.background_region,
            script.background_flip,
            script.background_tint,
            (width + 2 * script.margin, height + 2 * script.margin),
        ),
        "target": _cut(
            script.target.texture,
            script.target.region,
            script.target.flip,
            script.target.tint,
            _texture_size(script.target),
        ),
        "distractors": [
            _cut(s.texture, s.region, s.flip, s.tint, _texture_size(s))
            for s in script.distractors
        ],
        "occluders": [
            _cut(s.texture, s.region, s.flip, s.tint, _texture_size(s))
            for s in script.occluders
        ],
        "noise": video.noise
        * np.random.default_rng([int(video.seed), 0x401]).standard_normal(
            (height + _NOISE_PAD, width + _NOISE_PAD, 3), np.float32
        ),
    }


def _outer_boxes(sprite, index):
    """Boxes x, y, w, h around the shape's frame (|u|, |v| <= 1 holds the shape)."""
    ex, ey, ax, ay = sprite.ellipse(index)
    return np.stack([ex - ax, ey - ay, 2.0 * ax, 2.0 * ay], axis=-1)


def _boxes_overlap(a, b):
    """Whether boxes x, y, w, h (..., 4) intersect, elementwise."""
    return (
        (a[..., 0] < b[..., 0] + b[..., 2])
        & (b[..., 0] < a[..., 0] + a[..., 2])
        & (a[..., 1] < b[..., 1] + b[..., 3])
        & (b[..., 1] < a[..., 1] + a[..., 3])
    )


def _velocity(centers, index):
    previous = centers[max(index - 1, 0)]
    following = centers[min(index + 1, len(centers) - 1)]
    steps = min(index + 1, len(centers) - 1) - max(index - 1, 0)
    return (following - previous) / max(steps, 1)


def _line_kernel(length, angle):
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
    if split not in SPLIT_SEED_RANGES:
        raise ValueError(
            f"Unknown procedural split {split!r}; expected one of "
            f"{sorted(SPLIT_SEED_RANGES)}"
        )
    seeds = SPLIT_SEED_RANGES[split]
    if num_sequences < 0 or seed < 0 or seed + num_sequences > len(seeds):
        raise ValueError(
            f"Split {split!r} holds seeds 0..{len(seeds) - 1}; got seed={seed} "
            f"and num_sequences={num_sequences}"
        )
    return [
        make_sequence(seeds.start + seed + i, **config) for i in range(num_sequences)
    ]


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
