"""Box jitter and photometric/geometric augmentation of training pairs.

Order, as OSTrack applies it: joint grayscale and joint horizontal flip on the
two full frames, box jitter, cropping, then per-crop brightness.
"""

import dataclasses
import math

import cv2
import numpy as np


def jitter_box(box, rng, center_jitter, scale_jitter):
    """Jitters a box's size and centre (OSTrack's jitter).

    size' = size · exp(N(0, 1) · scale_jitter), drawn per axis; centre' =
    centre + sqrt(w'·h') · center_jitter · (U[0, 1) - 0.5), per axis, with the
    jittered size (as OSTrack does).

    Args:
        box: sequence of 4 floats. x, y, w, h.
        rng: `numpy.random.Generator`.
        center_jitter: float. Centre jitter factor (4.5 search, 0 template).
        scale_jitter: float. Log-scale jitter factor (0.5 search, 0 template).

    Returns:
        float64 array (4,), the jittered x, y, w, h. The box itself (copied,
        no random draw) when both factors are 0.
    """
    box = np.asarray(box, dtype=np.float64)
    if center_jitter == 0 and scale_jitter == 0:
        return box.copy()
    size = box[2:] * np.exp(rng.standard_normal(2) * scale_jitter)
    max_offset = math.sqrt(size[0] * size[1]) * center_jitter
    center = box[:2] + 0.5 * box[2:] + max_offset * (rng.random(2) - 0.5)
    return np.concatenate([center - 0.5 * size, size])


def flip_box(box, image_width):
    """The x, y, w, h box of a horizontally flipped image of width `image_width`."""
    x, y, w, h = (float(v) for v in box)
    return np.array([image_width - x - w, y, w, h])


def to_grayscale(image):
    """RGB uint8 (H, W, 3) to its grayscale version, still 3 channels."""
    gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    return np.repeat(gray[:, :, None], 3, axis=2)


def adjust_brightness(crop, factor):
    """Multiplies a uint8 crop by `factor`, clipped to [0, 255], as float32."""
    return np.clip(np.asarray(crop, np.float32) * np.float32(factor), 0.0, 255.0)


@dataclasses.dataclass(frozen=True)
class PairAugmentation:
    """Augmentation settings of a template/search pair.

    Args:
        search_center_jitter: float. Centre jitter of the search box.
        search_scale_jitter: float. Scale jitter of the search box.
        template_center_jitter: float. Centre jitter of the template box.
        template_scale_jitter: float. Scale jitter of the template box.
        grayscale_probability: float. Both frames turn grayscale.
        flip_probability: float. Both frames flip horizontally.
        brightness_jitter: float. Each crop is multiplied by U[1 - b, 1 + b].

    The defaults are LoReTrack's (crops at the teacher's resolution).
    """

    search_center_jitter: float = 4.5
    search_scale_jitter: float = 0.5
    template_center_jitter: float = 0.0
    template_scale_jitter: float = 0.0
    grayscale_probability: float = 0.05
    flip_probability: float = 0.5
    brightness_jitter: float = 0.2

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{field.name} must be finite and >= 0, got {value!r}")
        for name in ("grayscale_probability", "flip_probability", "brightness_jitter"):
            if getattr(self, name) > 1:
                raise ValueError(f"{name} must be <= 1, got {getattr(self, name)!r}")

    @classmethod
    def validation(cls, **kwargs):
        """OSTrack's validation: the same box jitter, no flip, gray or brightness."""
        kwargs = {
            "grayscale_probability": 0.0,
            "flip_probability": 0.0,
            "brightness_jitter": 0.0,
            **kwargs,
        }
        return cls(**kwargs)

    @classmethod
    def none(cls):
        """No augmentation at all: the target sits at the centre of its crops."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    def joint(self, template_frame, search_frame, template_box, search_box, rng):
        """Joint grayscale and horizontal flip of both frames and boxes.

        Args:
            template_frame: uint8 (H, W, 3).
            search_frame: uint8 (H', W', 3); may be the same array.
            template_box: x, y, w, h.
            search_box: x, y, w, h.
            rng: `numpy.random.Generator`.

        Returns:
            (template_frame, search_frame, template_box, search_box).
        """
        template_box = np.asarray(template_box, np.float64)
        search_box = np.asarray(search_box, np.float64)
        same = template_frame is search_frame
        if self.grayscale_probability and rng.random() < self.grayscale_probability:
            template_frame = to_grayscale(template_frame)
            search_frame = template_frame if same else to_grayscale(search_frame)
        if self.flip_probability and rng.random() < self.flip_probability:
            template_box = flip_box(template_box, template_frame.shape[1])
            search_box = flip_box(search_box, search_frame.shape[1])
            template_frame = cv2.flip(np.ascontiguousarray(template_frame), 1)
            search_frame = (
                template_frame
                if same
                else cv2.flip(np.ascontiguousarray(search_frame), 1)
            )
        return template_frame, search_frame, template_box, search_box

    def jitter_template(self, box, rng):
        """The template crop's box (no jitter by default)."""
        return jitter_box(
            box, rng, self.template_center_jitter, self.template_scale_jitter
        )

    def jitter_search(self, box, rng):
        """The search crop's box."""
        return jitter_box(box, rng, self.search_center_jitter, self.search_scale_jitter)

    def brightness(self, crop, rng):
        """A crop as float32 in [0, 255] with its own brightness factor."""
        if not self.brightness_jitter:
            return np.asarray(crop, np.float32)
        low = max(0.0, 1.0 - self.brightness_jitter)
        return adjust_brightness(crop, rng.uniform(low, 1.0 + self.brightness_jitter))
