"""A `Tracker` inside the got10k toolkit or pytracking.

- `Got10kTracker(tracker, name=...)`: the got10k toolkit's tracker contract,
  `init(image, box)` and `update(image) -> box` on PIL images; a subclass of
  `got10k.trackers.Tracker` when the toolkit is installed (so its `track` loop
  and every `Experiment*.run` take it), built on first use so that this module
  imports without it.
- `PytrackingTracker(params)`: pytracking's `BaseTracker` contract,
  `initialize(image, info)` with `info["init_bbox"]` and `track(image, info)
  -> {"target_bbox": [x, y, w, h]}` on RGB arrays, built as pytracking builds
  trackers (`tracker_class(params)`), or around a `Tracker` with `wrap`.

Both run the wrapped tracker unchanged: the boxes are those of
`Tracker.initialize` / `Tracker.track` on the same frames.

Example (got10k toolkit):
```python
from got10k.experiments import ExperimentGOT10k
from keras_loretrack.tracking import Tracker
from keras_loretrack.tracking.adapters import Got10kTracker

tracker = Got10kTracker(Tracker.from_preset("mini_teacher"), name="mini_teacher")
ExperimentGOT10k("/data/GOT10k", subset="val").run(tracker)
```

Example (pytracking): `pytracking/tracker/loretrack/__init__.py` holds
`from keras_loretrack.tracking.adapters import PytrackingTracker` and
`def get_tracker_class(): return PytrackingTracker`; a parameter file
`pytracking/parameter/loretrack/mini_teacher.py` returns a `TrackerParams`
with `params.preset = "mini_teacher"`.
"""

import functools

import numpy as np


def _as_array(image):
    """A PIL image (converted to RGB) or an array, as an RGB uint8 array."""
    if isinstance(image, np.ndarray):
        return image
    convert = getattr(image, "convert", None)
    if convert is None:
        raise TypeError(
            f"Expected a PIL image or a numpy array, got {type(image).__name__}"
        )
    return np.asarray(convert("RGB"), dtype=np.uint8)


class _ToolkitTracker:
    """The got10k toolkit's `Tracker` base, for when the toolkit is absent."""

    def __init__(self, name, is_deterministic=False):
        self.name = name
        self.is_deterministic = is_deterministic

    def track(self, img_files, box, visualize=False):
        """The toolkit's loop: every frame read as RGB, each call timed.

        Returns:
            (boxes float (N, 4), times float (N,) seconds).
        """
        import time

        from PIL import Image

        boxes = np.zeros((len(img_files), 4))
        boxes[0] = box
        times = np.zeros(len(img_files))
        for index, path in enumerate(img_files):
            with Image.open(path) as image:
                image = image.convert("RGB")
            start = time.time()
            if index == 0:
                self.init(image, box)
            else:
                boxes[index] = self.update(image)
            times[index] = time.time() - start
        return boxes, times


def _toolkit_base():
    try:
        from got10k.trackers import Tracker as base
    except ImportError:
        base = _ToolkitTracker
    return base


@functools.cache
def got10k_tracker_class():
    """The `Got10kTracker` class, a subclass of `got10k.trackers.Tracker` when
    the got10k toolkit is importable (of a stand-in with its `track` loop
    otherwise)."""
    base = _toolkit_base()

    class Got10kTracker(base):
        """A `Tracker` behind the got10k toolkit's `init` / `update` contract.

        Args:
            tracker: `keras_loretrack.tracking.Tracker` (or any object with
                `initialize(frame, box)` and `track(frame) -> {"box", ...}`).
            name: str. The name results are filed under (default "LoReTrack").
            is_deterministic: bool. The tracker is (no randomness), so the
                toolkit's GOT-10k experiment runs it once, not three times.
        """

        def __init__(self, tracker, name="LoReTrack", is_deterministic=True):
            super().__init__(name=name, is_deterministic=is_deterministic)
            self.tracker = tracker
            self.last_score = None

        @classmethod
        def from_preset(cls, preset, name=None, **kwargs):
            """Wraps `Tracker.from_preset(preset, **kwargs)`, named after it."""
            from keras_loretrack.tracking.tracker import Tracker

            if name is None:
                name = str(preset).rstrip("/\\").replace("\\", "/").split("/")[-1]
            return cls(Tracker.from_preset(preset, **kwargs), name=name)

        def init(self, image, box):
            """Starts tracking `box` (x, y, w, h) in `image` (PIL or array)."""
            self.last_score = None
            self.tracker.initialize(_as_array(image), np.asarray(box, np.float64))

        def update(self, image):
            """The box x, y, w, h (float64 (4,)) in the next `image`."""
            out = self.tracker.track(_as_array(image))
            self.last_score = out.get("score")
            return np.asarray(out["box"], dtype=np.float64)

    Got10kTracker.__module__ = __name__
    Got10kTracker.__qualname__ = "Got10kTracker"
    return Got10kTracker


class PytrackingParams:
    """A stand-in for pytracking's `TrackerParams` (attributes with `get`).

    The adapter reads `tracker` (a `Tracker`), or `preset` (with optional
    `load_weights`, `jit_compile`), or `model` (an exported file).
    """

    def __init__(self, **values):
        self.visualization = False
        self.debug = 0
        self.__dict__.update(values)

    def get(self, name, *default):
        """pytracking's `TrackerParams.get`: the value, or the default given."""
        if default:
            return getattr(self, name, default[0])
        return getattr(self, name)

    def has(self, name):
        return hasattr(self, name)


def _tracker_from_params(params):
    tracker = getattr(params, "tracker", None)
    if tracker is not None:
        return tracker
    from keras_loretrack.tracking.tracker import Tracker

    model = getattr(params, "model", None)
    if model is not None:
        return Tracker.from_file(model)
    preset = getattr(params, "preset", None)
    if preset is None:
        raise ValueError(
            "PytrackingTracker params need one of `tracker`, `preset` or `model`"
        )
    return Tracker.from_preset(
        preset,
        load_weights=getattr(params, "load_weights", True),
        jit_compile=getattr(params, "jit_compile", False),
    )


class PytrackingTracker:
    """A `Tracker` behind pytracking's `BaseTracker` contract.

    Args:
        params: pytracking `TrackerParams` (or `PytrackingParams`) with
            `tracker`, `preset` (+ `load_weights`, `jit_compile`) or `model`;
            pytracking builds its trackers as `tracker_class(params)`.
    """

    multiobj_mode = "default"

    def __init__(self, params):
        self.params = params
        self.visdom = None
        self.tracker = _tracker_from_params(params)

    @classmethod
    def wrap(cls, tracker):
        """An adapter around an existing `Tracker`."""
        return cls(PytrackingParams(tracker=tracker))

    def predicts_segmentation_mask(self):
        return False

    def initialize(self, image, info):
        """Starts tracking `info["init_bbox"]` (x, y, w, h) in `image`.

        Returns:
            dict with "target_bbox": the initial box as a list of 4 floats.
        """
        box = np.asarray(info["init_bbox"], dtype=np.float64)
        out = self.tracker.initialize(_as_array(image), box)
        if isinstance(out, dict) and "box" in out:
            box = np.asarray(out["box"], dtype=np.float64)
        return {"target_bbox": box.tolist()}

    def track(self, image, info=None):
        """Locates the target in the next `image` (RGB uint8 array).

        Returns:
            dict with "target_bbox": [x, y, w, h] floats.
        """
        out = self.tracker.track(_as_array(image))
        return {"target_bbox": np.asarray(out["box"], np.float64).tolist()}


def __getattr__(name):
    if name == "Got10kTracker":
        return got10k_tracker_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + ["Got10kTracker"])
