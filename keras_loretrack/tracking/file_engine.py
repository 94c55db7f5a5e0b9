"""`FileEngine`: what the engines of exported files (.tflite, .onnx) share.

An exported file carries everything the tracker needs: crop sizes, crop
factors and input normalisation in its keras_loretrack metadata (see
`keras_loretrack.tracking.file_metadata`).
"""

import os

import numpy as np

from keras_loretrack.data.crops import IMAGENET_MEAN, IMAGENET_STD
from keras_loretrack.tracking.engines import MAP_NAMES, Engine
from keras_loretrack.tracking.quantization import quantize_array


def default_num_threads():
    """One thread per CPU core."""
    return os.cpu_count() or 1


class RenormalizedInputs:
    """Maps the tracker's ImageNet-normalised crops to a file's normalisation.

    With the same mean and std (every keras_loretrack export) the crops pass
    through unchanged.

    Args:
        mean: 3 floats. The file's mean (on RGB / 255).
        std: 3 floats. The file's std.
    """

    def __init__(self, mean, std):
        mean = np.asarray(mean, np.float32)
        std = np.asarray(std, np.float32)
        self.identity = bool(
            np.allclose(mean, IMAGENET_MEAN, atol=1e-6)
            and np.allclose(std, IMAGENET_STD, atol=1e-6)
        )
        self.scale = IMAGENET_STD / std
        self.shift = (IMAGENET_MEAN - mean) / std

    def __call__(self, crops):
        crops = np.asarray(crops, np.float32)
        if self.identity:
            return crops
        return crops * self.scale + self.shift


def check_shapes(engine, template, search):
    """Raises a ValueError naming the input whose shape `engine` does not take."""
    for key, array in (("template", template), ("search", search)):
        expected = engine.input_shapes()[key]
        if tuple(np.shape(array)) != expected:
            raise ValueError(
                f"{engine.name}: {key} must have shape {expected}, got "
                f"{tuple(np.shape(array))}"
            )


class FileEngine(Engine):
    """Base of the engines that run an exported file.

    Subclasses call `_open` first (file and thread checks), then `_adopt`
    with the file's metadata, then `_check_signature` with the tensor names
    their runtime reports.
    """

    def _open(self, path, num_threads, kind):
        """Checks the file exists and the thread count; returns both, normalised."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{kind} model not found: {path}")
        num_threads = default_num_threads() if num_threads is None else num_threads
        if int(num_threads) != num_threads or num_threads < 1:
            raise ValueError(
                f"num_threads must be a positive integer, got {num_threads!r}"
            )
        return path, int(num_threads)

    def _adopt(self, path, metadata, num_threads, name):
        """Takes the geometry and normalisation of the file's metadata."""
        self.path = path
        self.metadata = metadata
        self.num_threads = num_threads
        self.name = name or os.path.splitext(os.path.basename(path))[0]
        self.geometry = metadata.geometry
        self.feature_size = metadata.feature_size
        self._renormalize = RenormalizedInputs(metadata.mean, metadata.std)

    def _feed(self, template, search, inputs):
        """The crops in the file's normalisation and input types.

        Args:
            template, search: the tracker's crops (checked against the shapes).
            inputs: dict. Input name → (numpy dtype, (scale, zero_point)).
        """
        check_shapes(self, template, search)
        feed = {}
        for name, array in (("template", template), ("search", search)):
            dtype, (scale, zero_point) = inputs[name]
            feed[name] = quantize_array(
                self._renormalize(array), dtype, scale, zero_point
            )
        return feed

    def _check_signature(self, inputs, outputs, what):
        """Raises a ValueError naming the inputs or maps the file lacks."""
        missing = [n for n in self.metadata.inputs if n not in inputs] + [
            n for n in MAP_NAMES if n not in outputs
        ]
        if missing:
            raise ValueError(
                f"{self.path}: the {what} lacks {missing}; it has inputs "
                f"{sorted(inputs)} and outputs {sorted(outputs)}"
            )
