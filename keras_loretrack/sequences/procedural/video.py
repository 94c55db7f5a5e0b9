"""`ProceduralVideo`: one procedural tracking video, fully named by its fields.

The ground truth is the FULL object box (also where the object is partly
occluded or leaves the frame); `visible` is False where less than
`visible_threshold` of the object's area can be seen.
"""

import dataclasses
import functools

import numpy as np

from keras_loretrack.sequences.procedural import rendering
from keras_loretrack.sequences.procedural.script import draw_script
from keras_loretrack.sequences.sequence import Sequence


@dataclasses.dataclass(frozen=True)
class ProceduralVideo:
    """A procedural tracking video, fully determined by its fields.

    Args:
        seed: int. Seed of every random choice (>= 0).
        num_frames: int. Length of the video.
        image_size: (height, width). Frame size in pixels.
        object_size: (low, high). Initial sqrt(w·h) of the object relative to
            sqrt(H·W).
        aspect_range: float. Bound of |log(w/h)| of the object's first box
            (0.6: w/h between 0.55 and 1.8; 1.1: between 0.33 and 3).
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
    aspect_range: float = 0.6
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
            "aspect_range",
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

    @functools.cached_property
    def script(self):
        """All random choices of the video (textures, trajectories, effects)."""
        return draw_script(self)

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

    def frame(self, index):
        """Renders frame `index` as RGB uint8 (H, W, 3)."""
        return rendering.render_frame(self, self._check_index(index))

    def object_alpha(self, index, occluded=False):
        """The object's soft mask in frame `index` (H, W) float32 in [0, 1].

        Args:
            index: int. Frame index.
            occluded: bool. Multiply by the occluders' transparency (the part of
                the object that can be seen).
        """
        return rendering.object_alpha(self, self._check_index(index), occluded)

    def _check_index(self, index):
        index = int(index)
        if not 0 <= index < self.num_frames:
            raise IndexError(
                f"ProceduralVideo has {self.num_frames} frames, got index {index}"
            )
        return index

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
