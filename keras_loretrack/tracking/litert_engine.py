"""`LiteRTEngine`: runs an exported `.tflite` with the LiteRT interpreter.

Everything the tracker needs comes from the file: the crop sizes, crop factors
and input normalisation from its keras_loretrack metadata (see
`keras_loretrack.export.metadata`), the scales of int8 / uint8 input and output
tensors from the tensors themselves. The interpreter applies LiteRT's default
XNNPACK delegate with `num_threads` threads.
"""

import mmap
import os

import numpy as np

from keras_loretrack.data.crops import IMAGENET_MEAN, IMAGENET_STD
from keras_loretrack.export.metadata import read_tflite_metadata
from keras_loretrack.export.quantization import dequantize_array, quantize_array
from keras_loretrack.tracking.engines import MAP_NAMES, Engine, register_file_engine


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


class LiteRTEngine(Engine):
    """The LoReTrack network from a `.tflite` file, on LiteRT.

    Args:
        path: str. A `.tflite` written by `keras_loretrack.export.export_tflite`.
        num_threads: int or None. Interpreter threads (None: one per core).
        name: str or None. Defaults to the file's stem.

    Example:
    ```python
    engine = LiteRTEngine("loretrack128_int8.tflite", num_threads=2)
    tracker = Tracker(engine)
    ```
    """

    def __init__(self, path, num_threads=None, name=None):
        from ai_edge_litert.interpreter import Interpreter

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"TFLite model not found: {path}")
        num_threads = default_num_threads() if num_threads is None else num_threads
        if int(num_threads) != num_threads or num_threads < 1:
            raise ValueError(
                f"num_threads must be a positive integer, got {num_threads!r}"
            )
        with (
            open(path, "rb") as f,
            mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m,
        ):
            metadata = read_tflite_metadata(m, source=path)
        self.path = path
        self.metadata = metadata
        self.num_threads = int(num_threads)
        self.name = name or os.path.splitext(os.path.basename(path))[0]
        self.search_size = metadata.search_size
        self.template_size = metadata.template_size
        self.feature_size = metadata.feature_size
        self.search_factor = metadata.search_factor
        self.template_factor = metadata.template_factor
        self._renormalize = RenormalizedInputs(metadata.mean, metadata.std)
        self._interpreter = Interpreter(model_path=path, num_threads=self.num_threads)
        signatures = self._interpreter.get_signature_list()
        if len(signatures) != 1:
            raise ValueError(
                f"{path} must have exactly one signature, got {sorted(signatures)}"
            )
        self._runner = self._interpreter.get_signature_runner(next(iter(signatures)))
        self._inputs = self._runner.get_input_details()
        self._outputs = self._runner.get_output_details()
        missing = [n for n in metadata.inputs if n not in self._inputs] + [
            n for n in MAP_NAMES if n not in self._outputs
        ]
        if missing:
            raise ValueError(
                f"{path}: the signature lacks {missing}; it has inputs "
                f"{sorted(self._inputs)} and outputs {sorted(self._outputs)}"
            )

    @property
    def quantized_io(self):
        """Whether the file takes or returns integer tensors."""
        details = list(self._inputs.values()) + list(self._outputs.values())
        return any(np.issubdtype(np.dtype(d["dtype"]), np.integer) for d in details)

    @property
    def delegate_partitions(self):
        """Delegate (XNNPACK) partitions of the graph; known after the first call.

        LiteRT has no public query for this: it counts the `DELEGATE` nodes of
        the interpreter's execution plan. One partition means every op runs in
        XNNPACK.
        """
        details = self._interpreter._get_ops_details()
        return sum(op["op_name"] == "DELEGATE" for op in details)

    def __call__(self, template, search):
        check_shapes(self, template, search)
        feed = {}
        for name, array in (("template", template), ("search", search)):
            detail = self._inputs[name]
            feed[name] = quantize_array(
                self._renormalize(array), detail["dtype"], *detail["quantization"]
            )
        outputs = self._runner(**feed)
        return {
            name: dequantize_array(outputs[name], *self._outputs[name]["quantization"])
            for name in MAP_NAMES
        }


@register_file_engine(".tflite")
def load_litert_engine(path, **kwargs):
    """Opens a `.tflite` for `Tracker.from_file` (kwargs: `num_threads`, `name`)."""
    return LiteRTEngine(path, **kwargs)
