"""Engines: the network call behind the tracker, one class per runtime.

An engine takes one normalised template and one normalised search crop (batch
1, see `keras_loretrack.data.crops.normalize`) and returns numpy
`score_map` (1, fs, fs, 1), `size_map` (1, fs, fs, 2) and `offset_map`
(1, fs, fs, 2). It also carries what the tracker needs to make those crops, its
`geometry` (a `CropGeometry`), and the side `feature_size` of its maps. The
Keras engine lives here; engines for exported files
(LiteRT `.tflite`, ONNX Runtime or OpenVINO `.onnx`) register a loader per file
extension and runtime with `register_file_engine`, and `engine_from_file`
dispatches on them.
"""

import abc
import os

import keras
import numpy as np

from keras_loretrack.data.crops import CropGeometry

MAP_NAMES = ("score_map", "size_map", "offset_map")

# extension → {runtime name: loader}, and the runtime used when none is named.
_FILE_ENGINES = {}
_DEFAULT_RUNTIMES = {}


class Engine(abc.ABC):
    """What the tracker calls: crops in, head maps out.

    Subclasses set `geometry` and `feature_size` in their constructor and
    implement `__call__`. The four crop attributes read `geometry`.

    Attributes:
        name: str. A short label for logs and result folders.
        geometry: `CropGeometry`. Crop sides and context factors.
        feature_size: int. Side `fs` of the output maps.
    """

    name = "engine"
    geometry: CropGeometry
    feature_size: int

    @property
    def search_size(self):
        """Search crop side in model pixels."""
        return self.geometry.search_size

    @property
    def template_size(self):
        """Template crop side in model pixels."""
        return self.geometry.template_size

    @property
    def search_factor(self):
        """Search crop side relative to sqrt(w·h)."""
        return self.geometry.search_factor

    @property
    def template_factor(self):
        """Template crop side relative to sqrt(w·h)."""
        return self.geometry.template_factor

    @abc.abstractmethod
    def __call__(self, template, search):
        """Runs the network.

        Args:
            template: float32 array (1, template_size, template_size, 3).
            search: float32 array (1, search_size, search_size, 3).

        Returns:
            dict of numpy arrays `score_map` (1, fs, fs, 1), `size_map`
            (1, fs, fs, 2) and `offset_map` (1, fs, fs, 2).
        """

    def input_shapes(self):
        """The shapes `__call__` accepts: {"template": ..., "search": ...}."""
        return {
            "template": (1, self.template_size, self.template_size, 3),
            "search": (1, self.search_size, self.search_size, 3),
        }

    def __repr__(self):
        return (
            f"{type(self).__name__}(name={self.name!r}, "
            f"search={self.search_size}/{self.search_factor}, "
            f"template={self.template_size}/{self.template_factor}, "
            f"feature_size={self.feature_size})"
        )


class KerasEngine(Engine):
    """Runs a `LoReTrack` Keras model, compiled once for its batch-1 shapes.

    The forward pass is a `tf.function` with a fixed input signature that
    returns only the three maps, so it traces once and never retraces.

    Args:
        model: `LoReTrack` (or a functional model with the same inputs, outputs
            and size / factor attributes).
        jit_compile: bool. Compile the forward with XLA.
        name: str or None. Defaults to the model's name.

    Example:
    ```python
    model = LoReTrack.from_preset("mini_student")
    engine = KerasEngine(model)
    maps = engine(np.zeros((1, 32, 32, 3), "float32"),
                  np.zeros((1, 64, 64, 3), "float32"))
    maps["score_map"].shape  # (1, 8, 8, 1)
    ```
    """

    def __init__(self, model, jit_compile=False, name=None):
        if keras.backend.backend() != "tensorflow":
            raise ValueError(
                "KerasEngine compiles the model with tf.function and needs the "
                f"TensorFlow Keras backend, got {keras.backend.backend()!r}"
            )
        import tensorflow as tf

        try:
            geometry = CropGeometry.of(model)
            feature_size = int(model.feature_size)
        except (TypeError, AttributeError) as error:
            raise TypeError(
                f"KerasEngine needs a LoReTrack-like model with crop geometry and "
                f"feature_size, got {type(model).__name__} ({error})"
            ) from None
        self.model = model
        self.jit_compile = bool(jit_compile)
        self.name = name or model.name
        self.geometry = geometry
        self.feature_size = feature_size

        shapes = self.input_shapes()
        signature = [
            tf.TensorSpec(shapes["template"], tf.float32, name="template"),
            tf.TensorSpec(shapes["search"], tf.float32, name="search"),
        ]

        def forward(template, search):
            outputs = model({"template": template, "search": search}, training=False)
            return tuple(outputs[key] for key in MAP_NAMES)

        self._forward = tf.function(
            forward, input_signature=signature, jit_compile=self.jit_compile
        )

    def __call__(self, template, search):
        for key, array in (("template", template), ("search", search)):
            expected = self.input_shapes()[key]
            if tuple(array.shape) != expected:
                raise ValueError(
                    f"{self.name}: {key} must have shape {expected}, got "
                    f"{tuple(array.shape)}"
                )
        outputs = self._forward(
            np.asarray(template, dtype=np.float32), np.asarray(search, dtype=np.float32)
        )
        return {key: value.numpy() for key, value in zip(MAP_NAMES, outputs)}


def register_file_engine(*extensions, runtime, default=True):
    """Decorator registering a loader `loader(path, **kwargs) -> Engine`.

    Args:
        *extensions: str. File extensions the loader opens, such as ".tflite".
        runtime: str. The runtime's name, which `engine_from_file(...,
            runtime=...)` selects it by (e.g. "onnxruntime").
        default: bool. Make it the runtime of these extensions when none is
            named (otherwise the first one registered stays the default).

    Example:
    ```python
    @register_file_engine(".onnx", runtime="onnxruntime")
    def load_onnx_engine(path, **kwargs):
        return OnnxEngine(path, **kwargs)
    ```
    """
    if not extensions:
        raise ValueError("register_file_engine needs at least one extension")
    normalized = []
    for extension in extensions:
        if not isinstance(extension, str) or not extension.startswith("."):
            raise ValueError(
                f"Engine extensions must be strings starting with '.', got "
                f"{extension!r}"
            )
        normalized.append(extension.lower())

    def decorator(loader):
        for extension in normalized:
            runtimes = _FILE_ENGINES.setdefault(extension, {})
            runtimes[runtime] = loader
            if default:
                _DEFAULT_RUNTIMES[extension] = runtime
            else:
                _DEFAULT_RUNTIMES.setdefault(extension, runtime)
        return loader

    return decorator


def registered_file_extensions():
    """The file extensions `engine_from_file` can open."""
    return sorted(_FILE_ENGINES)


def registered_runtimes(extension=None):
    """The runtimes registered for `extension` (default first), or for any."""
    if extension is None:
        return sorted({r for runtimes in _FILE_ENGINES.values() for r in runtimes})
    extension = extension.lower()
    default = _DEFAULT_RUNTIMES.get(extension)
    others = sorted(r for r in _FILE_ENGINES.get(extension, {}) if r != default)
    return ([default] if default else []) + others


def engine_from_file(path, runtime=None, **kwargs):
    """Opens an exported model file with an engine registered for its extension.

    Args:
        path: str. A model file (for example `.tflite` or `.onnx`).
        runtime: str or None. The runtime to run it with (e.g. "openvino" for
            an `.onnx`); None takes the extension's default.
        **kwargs: passed to the registered loader.

    Returns:
        `Engine`.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: no engine is registered for the file's extension, or the
            runtime named does not open it.
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower()
    runtimes = _FILE_ENGINES.get(extension)
    if runtimes is None:
        known = registered_file_extensions()
        raise ValueError(
            f"No tracking engine is registered for {extension or 'extension-less'!r} "
            f"files ({path}); registered extensions: {known or 'none yet'}. Keras "
            "presets are loaded with Tracker.from_preset."
        )
    runtime = _DEFAULT_RUNTIMES[extension] if runtime is None else runtime
    if runtime not in runtimes:
        raise ValueError(
            f"Runtime {runtime!r} does not open {extension} files; runtimes for "
            f"{extension}: {registered_runtimes(extension)}"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Model file not found: {path}")
    return runtimes[runtime](path, **kwargs)
