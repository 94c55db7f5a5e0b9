"""`LiteRTEngine`: runs an exported `.tflite` with the LiteRT interpreter.

Everything the tracker needs comes from the file: the crop sizes, crop factors
and input normalisation from its keras_loretrack metadata (see
`keras_loretrack.tracking.file_metadata`), the scales of int8 / uint8 input and output
tensors from the tensors themselves. The interpreter applies LiteRT's default
XNNPACK delegate with `num_threads` threads.
"""

import mmap
import os

import numpy as np

from keras_loretrack.optional import require
from keras_loretrack.tracking.engines import MAP_NAMES, register_file_engine
from keras_loretrack.tracking.file_engine import FileEngine
from keras_loretrack.tracking.file_metadata import read_tflite_metadata
from keras_loretrack.tracking.quantization import dequantize_array


class LiteRTEngine(FileEngine):
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
        litert = require("ai_edge_litert.interpreter", "export", "A .tflite model")

        path, num_threads = self._open(path, num_threads, "TFLite")
        if os.path.getsize(path) == 0:
            raise ValueError(f"{path} is empty, not a TFLite model")
        with (
            open(path, "rb") as f,
            mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m,
        ):
            metadata = read_tflite_metadata(m, source=path)
        self._adopt(path, metadata, num_threads, name)
        self._interpreter = litert.Interpreter(model_path=path, num_threads=num_threads)
        signatures = self._interpreter.get_signature_list()
        if len(signatures) != 1:
            raise ValueError(
                f"{path} must have exactly one signature, got {sorted(signatures)}"
            )
        self._runner = self._interpreter.get_signature_runner(next(iter(signatures)))
        self._inputs = self._runner.get_input_details()
        self._outputs = self._runner.get_output_details()
        self._check_signature(self._inputs, self._outputs, "signature")
        self._input_types = {
            name: (detail["dtype"], detail["quantization"])
            for name, detail in self._inputs.items()
        }

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
        outputs = self._runner(**self._feed(template, search, self._input_types))
        return {
            name: dequantize_array(outputs[name], *self._outputs[name]["quantization"])
            for name in MAP_NAMES
        }


@register_file_engine(".tflite", runtime="litert")
def load_litert_engine(path, **kwargs):
    """Opens a `.tflite` for `Tracker.from_file` (kwargs: `num_threads`, `name`)."""
    return LiteRTEngine(path, **kwargs)
