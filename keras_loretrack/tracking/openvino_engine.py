"""`OpenVinoEngine`: runs an exported `.onnx` with OpenVINO on the CPU.

OpenVINO reads the ONNX file directly (no conversion step) and keeps its
`metadata_props`, so the keras_loretrack record (crop sizes, crop factors,
normalisation, integer tensors' scales) comes from the file as with ONNX
Runtime. On x86 it runs the quantize/dequantize pairs of a static int8 export
as int8 kernels (VNNI / AMX where the CPU has them).
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

PRECISIONS = ("f32", "bf16", "f16")


class OpenVinoEngine(FileEngine):
    """The LoReTrack network from an `.onnx` file, on OpenVINO's CPU plugin.

    Args:
        path: str. An `.onnx` written by `keras_loretrack.export.export_onnx`.
        num_threads: int or None. Inference threads (None: one per core).
        precision: str. OpenVINO's inference precision for the ops that are not
            quantised: "f32" (default: the float graph's numbers), or "bf16" /
            "f16", faster where the CPU computes them natively and less exact.
        name: str or None. Defaults to the file's stem.

    Example:
    ```python
    engine = OpenVinoEngine("loretrack128_int8.onnx", num_threads=2)
    tracker = Tracker(engine)   # or Tracker.from_file(path, runtime="openvino")
    ```
    """

    def __init__(self, path, num_threads=None, precision="f32", name=None):
        openvino = require("openvino", "openvino", "Running an .onnx on OpenVINO")
        if precision not in PRECISIONS:
            raise ValueError(
                f"precision must be one of {PRECISIONS}, got {precision!r}"
            )
        path, num_threads = self._open(path, num_threads, "ONNX")
        core = openvino.Core()
        try:
            network = core.read_model(path)
        except RuntimeError as error:
            reason = str(error).strip().splitlines()[0] if str(error) else "unknown"
            raise ValueError(f"{path} is not a valid ONNX model: {reason}") from None
        if not network.has_rt_info(["framework", METADATA_KEY]):
            raise missing_metadata_error(path)
        record = network.get_rt_info(["framework", METADATA_KEY]).astype(str)
        metadata = ExportMetadata.from_json(record, source=path)
        self._adopt(path, metadata, num_threads, name)
        self.precision = precision
        compiled = core.compile_model(
            network,
            "CPU",
            {
                "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_NUM_THREADS": num_threads,
                "INFERENCE_PRECISION_HINT": precision,
            },
        )
        self._request = compiled.create_infer_request()
        scales = metadata.io_quantization
        self._inputs = _port_types(compiled.inputs, scales)
        self._outputs = _port_types(compiled.outputs, scales)
        self._check_signature(self._inputs, self._outputs, "graph")

    def __call__(self, template, search):
        results = self._request.infer(self._feed(template, search, self._inputs))
        values = {port.get_any_name(): value for port, value in results.items()}
        return {
            name: dequantize_array(np.copy(values[name]), *self._outputs[name][1])
            for name in MAP_NAMES
        }


def _port_types(ports, scales):
    """Port name → (numpy dtype, (scale, zero_point)) of a compiled model's ports."""
    return {
        port.get_any_name(): io_quantization(
            port.get_any_name(), port.get_element_type().to_dtype(), scales
        )
        for port in ports
    }


@register_file_engine(".onnx", runtime="openvino", default=False)
def load_openvino_engine(path, **kwargs):
    """Opens an `.onnx` on OpenVINO for `Tracker.from_file(path, runtime=
    "openvino")` (kwargs: `num_threads`, `precision`, `name`)."""
    return OpenVinoEngine(path, **kwargs)
