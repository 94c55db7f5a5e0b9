"""`Tracker`: single-object tracking with a LoReTrack network.

`initialize(frame, box)` crops the template once; every `track(frame)` crops
the search region around the previous box, runs the engine, windows the score
map, decodes, maps the box back to the image and clips it. Identical to
OSTrack's tracker: no template update, no re-detection.
"""

import cv2
import numpy as np

from keras_loretrack.data.crops import (
    GEOMETRY_FIELDS,
    CropGeometry,
    normalize,
    sample_target,
)
from keras_loretrack.tracking import postprocess
from keras_loretrack.tracking.engines import KerasEngine, engine_from_file

# What the tracker reads from an engine: its crop geometry and map side.
ENGINE_ATTRIBUTES = (*GEOMETRY_FIELDS, "feature_size")


def as_rgb_frame(frame):
    """Checks a frame and returns it as a contiguous RGB uint8 array (H, W, 3).

    Grayscale (H, W) or (H, W, 1) frames are replicated to three channels and
    RGBA (H, W, 4) frames lose their alpha channel.

    Args:
        frame: numpy uint8 array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).

    Raises:
        TypeError: not a numpy array, or not uint8.
        ValueError: wrong number of dimensions or channels, or an empty frame.
    """
    if not isinstance(frame, np.ndarray):
        raise TypeError(
            f"Frames must be numpy uint8 arrays (H, W, 3), got {type(frame).__name__}"
        )
    if frame.dtype != np.uint8:
        raise TypeError(
            f"Frames must be uint8 RGB (0-255), got dtype {frame.dtype}; convert "
            "float images with (image * 255).round().astype(np.uint8)"
        )
    if frame.ndim not in (2, 3):
        raise ValueError(
            f"Frames must have shape (H, W, 3), (H, W, 4) or (H, W), got {frame.shape}"
        )
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"Frame is empty: shape {frame.shape}")
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return np.ascontiguousarray(frame[:, :, :3])
    if frame.shape[2] != 3:
        raise ValueError(
            f"Frames must have 1, 3 or 4 channels (gray, RGB, RGBA), got "
            f"{frame.shape[2]} (shape {frame.shape})"
        )
    return np.ascontiguousarray(frame)


# An initial box larger than this many frame sides is a mistake, not a target.
MAX_BOX_TO_FRAME = 2


def check_init_box(box, height, width):
    """Checks an initial x, y, w, h box against a frame; returns it as float64.

    Raises:
        ValueError: not 4 finite numbers, w or h <= 0, no overlap with the
            frame, or wider or taller than `MAX_BOX_TO_FRAME` times the frame
            (its crops would grow with the box: 5x its side, unbounded).
    """
    try:
        values = np.asarray(box, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"Box must be 4 numbers x, y, w, h, got {box!r}") from None
    if values.shape != (4,):
        raise ValueError(
            f"Box must be 4 numbers x, y, w, h, got shape {values.shape}: {box!r}"
        )
    if not np.isfinite(values).all():
        raise ValueError(f"Box must be finite (no NaN or inf), got {box!r}")
    x, y, w, h = values
    if w <= 0 or h <= 0:
        raise ValueError(f"Box width and height must be > 0, got w={w}, h={h}")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise ValueError(
            f"Box {values.tolist()} lies entirely outside the {width}x{height} frame"
        )
    if w > MAX_BOX_TO_FRAME * width or h > MAX_BOX_TO_FRAME * height:
        raise ValueError(
            f"Box {values.tolist()} is {w:g}x{h:g}, more than {MAX_BOX_TO_FRAME}x "
            f"the {width}x{height} frame: the box should enclose the target in "
            "the first frame"
        )
    return values


def check_engine(engine):
    """Checks that `engine` is callable with positive sizes and factors.

    Returns:
        The engine's `CropGeometry`.

    Raises:
        TypeError: not callable, or missing one of `ENGINE_ATTRIBUTES`.
        ValueError: a size is not a positive integer or a factor not positive.
    """
    missing = [a for a in ENGINE_ATTRIBUTES if not hasattr(engine, a)]
    if missing or not callable(engine):
        raise TypeError(
            f"Tracker needs an engine (see keras_loretrack.tracking.Engine) with "
            f"attributes {list(ENGINE_ATTRIBUTES)}; {type(engine).__name__} "
            f"lacks {missing or ['__call__']}"
        )
    for name in ENGINE_ATTRIBUTES:
        value = getattr(engine, name)
        integer = name.endswith("_size")
        valid = value > 0 and (int(value) == value if integer else np.isfinite(value))
        if not valid:
            kind = "a positive integer" if integer else "a positive number"
            raise ValueError(f"Engine {name} must be {kind}, got {value!r}")
    return CropGeometry.of(engine)


class Tracker:
    """A LoReTrack / OSTrack single-object tracker.

    Args:
        engine: `Engine`. The network call (Keras, LiteRT, ONNX Runtime); it
            also carries the crop sizes and factors.

    Example:
    ```python
    tracker = Tracker.from_preset("mini_student")
    tracker.initialize(first_frame, (205, 151, 17, 50))
    for frame in frames:
        out = tracker.track(frame)
        x, y, w, h = out["box"]
    ```
    """

    def __init__(self, engine):
        self.geometry = check_engine(engine)
        self.engine = engine
        self.window = postprocess.hann_window(engine.feature_size)
        self._template = None
        self._state = None

    @classmethod
    def from_model(cls, model, jit_compile=False):
        """A tracker running a Keras `LoReTrack` model.

        Args:
            model: `LoReTrack`.
            jit_compile: bool. Compile the forward with XLA.
        """
        return cls(KerasEngine(model, jit_compile=jit_compile))

    @classmethod
    def from_preset(cls, preset, load_weights=True, jit_compile=False, **overrides):
        """A tracker from a preset name or directory (see `LoReTrack.from_preset`).

        Args:
            preset: str. Built-in preset name or preset directory.
            load_weights: bool. Load the preset's weights (False: random init).
            jit_compile: bool. Compile the forward with XLA.
            **overrides: passed to `LoReTrack.from_preset`.
        """
        from keras_loretrack.models import LoReTrack

        model = LoReTrack.from_preset(preset, load_weights=load_weights, **overrides)
        return cls.from_model(model, jit_compile=jit_compile)

    @classmethod
    def from_file(cls, path, **kwargs):
        """A tracker running an exported model file (`.tflite`, `.onnx`, ...).

        The engine is chosen by the file extension among those registered with
        `keras_loretrack.tracking.register_file_engine`; `runtime=` picks
        another than the extension's default (`"openvino"` for an `.onnx`),
        the other kwargs go to the engine (`num_threads`, ...).
        """
        return cls(engine_from_file(path, **kwargs))

    @property
    def box(self):
        """The current x, y, w, h box (float64), or None before `initialize`."""
        return None if self._state is None else self._state.copy()

    def initialize(self, frame, box):
        """Starts tracking the object in `box` on `frame`.

        Args:
            frame: uint8 array (H, W, 3) RGB (gray and RGBA are converted).
            box: 4 numbers x, y, w, h in pixels; finite, w and h > 0, and
                overlapping the frame.

        Returns:
            dict with "box": the initial box as float64 (4,).
        """
        frame = as_rgb_frame(frame)
        box = check_init_box(box, *frame.shape[:2])
        crop, _ = sample_target(
            frame, box, self.geometry.template_factor, self.geometry.template_size
        )
        self._template = normalize(crop)[None]
        self._state = box
        return {"box": box.copy()}

    def track(self, frame):
        """Locates the object in the next frame.

        Args:
            frame: uint8 array (H, W, 3) RGB (gray and RGBA are converted).

        Returns:
            dict with "box": float64 (4,) x, y, w, h in pixels, and "score":
            float, the network's (unwindowed) score at the chosen cell.
        """
        if self._state is None:
            raise RuntimeError("Tracker.track called before Tracker.initialize")
        frame = as_rgb_frame(frame)
        height, width = frame.shape[:2]
        crop, resize_factor = sample_target(
            frame, self._state, self.geometry.search_factor, self.geometry.search_size
        )
        maps = self.engine(self._template, normalize(crop)[None])
        score_map = maps["score_map"][0, :, :, 0]
        if score_map.shape != self.window.shape:
            raise ValueError(
                f"Engine {getattr(self.engine, 'name', '')!r} returned a score map "
                f"of shape {score_map.shape}, expected {self.window.shape} "
                f"(feature_size {self.engine.feature_size})"
            )
        box, (iy, ix) = postprocess.decode_box(
            self.window * score_map, maps["size_map"][0], maps["offset_map"][0]
        )
        if not np.isfinite(box).all():
            raise FloatingPointError(
                f"Engine {getattr(self.engine, 'name', '')!r} produced a non-finite "
                f"box {box.tolist()}"
            )
        box = postprocess.map_box_back(
            box, self._state, self.geometry.search_size, resize_factor
        )
        self._state = postprocess.clip_box(box, height, width)
        score = float(score_map[iy, ix])
        return {"box": self._state.copy(), "score": score}
