"""`OnnxEngine`: runs an exported `.onnx` with ONNX Runtime on the CPU.

The crop sizes, crop factors and normalisation come from the keras_loretrack
record in the file's `metadata_props` (see `keras_loretrack.tracking.file_metadata`).
ONNX tensors do not store quantisation scales, so integer input or output
tensors take theirs from the record's `io_quantization`.
"""

import numpy as np

from keras_loretrack.optional import require
from keras_loretrack.tracking.engines import MAP_NAMES, register_file_engine
from keras_loretrack.tracking.file_engine import FileEngine
from keras_loretrack.tracking.file_metadata import (
    METADATA_KEY,
    ExportMetadata,
    missing_metadata_error,
)
from keras_loretrack.tracking.quantization import dequantize_array, io_quantization

ONNX_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
}


def _tensor_type(tensor, scales):
    """(numpy dtype, (scale, zero_point)) of an ONNX Runtime input or output."""
    dtype = ONNX_TYPES.get(tensor.type)
    if dtype is None:
        raise ValueError(
            f"Unsupported type {tensor.type} of tensor {tensor.name!r}; expected "
            f"one of {sorted(ONNX_TYPES)}"
        )
    return io_quantization(tensor.name, dtype, scales, tensor.type)


class OnnxEngine(FileEngine):
    """The LoReTrack network from an `.onnx` file, on ONNX Runtime (CPU).

    Args:
        path: str. An `.onnx` written by `keras_loretrack.export.export_onnx`.
        num_threads: int or None. Intra-op threads (None: one per core).
        spin: bool. Let idle worker threads spin between ops (lowest latency
            on a dedicated CPU; turn off where other processes share the
            cores).
        name: str or None. Defaults to the file's stem.
    """

    def __init__(self, path, num_threads=None, spin=True, name=None):
        onnxruntime = require("onnxruntime", "export", "An .onnx model")

        path, num_threads = self._open(path, num_threads, "ONNX")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if spin else "0"
        )
        try:
            self._session = onnxruntime.InferenceSession(
                path, options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime's own classes, e.g. InvalidProtobuf
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ValueError(f"{path} is not a valid ONNX model: {reason}") from None
        record = self._session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if record is None:
            raise missing_metadata_error(path)
        metadata = ExportMetadata.from_json(record, source=path)
        self._adopt(path, metadata, num_threads, name)
        scales = metadata.io_quantization
        self._inputs = {
            i.name: _tensor_type(i, scales) for i in self._session.get_inputs()
        }
        self._outputs = {
            o.name: _tensor_type(o, scales) for o in self._session.get_outputs()
        }
        self._check_signature(self._inputs, self._outputs, "graph")

    def __call__(self, template, search):
        feed = self._feed(template, search, self._inputs)
        values = self._session.run(list(MAP_NAMES), feed)
        return {
            name: dequantize_array(value, *self._outputs[name][1])
            for name, value in zip(MAP_NAMES, values)
        }


@register_file_engine(".onnx", runtime="onnxruntime")
def load_onnx_engine(path, **kwargs):
    """Opens an `.onnx` for `Tracker.from_file` (kwargs: `num_threads`, `spin`,
    `name`)."""
    return OnnxEngine(path, **kwargs)
