"""Export to TFLite (LiteRT): float32, float16, dynamic-range, int8 and int8-mixed.

The model goes through the Keras SavedModel export
(`keras_loretrack.export.saved_model`) and `TFLiteConverter.from_saved_model`
with TFLite builtin ops only (no Flex / SELECT_TF_OPS), so the file runs in the
plain LiteRT runtime on phones. Quantisation modes:

- `none`: float32 weights and activations.
- `fp16`: float16 weights, float32 compute.
- `dynamic`: int8 per-channel weights; activations quantised on the fly per
  call (dynamic range), float I/O.
- `int8`: full integer: every op int8 with static activation ranges from
  real calibration crops, int8 input and output tensors (the engine quantises
  the normalised crops and dequantises the maps with the scales stored in the
  file).
- `int8-mixed`: static int8 only where it pays and is safe: the
  fully-connected and convolution layers (per-channel weights, activation
  ranges from real crops), except the head's three 1x1 convolutions that
  write the maps. LayerNorm, softmax, GELU, the attention matrix products,
  the residual additions, the map convolutions and the output sigmoids stay
  float32, as do the input and output tensors. Every op of this graph is one
  that XNNPACK runs, so the whole model is a single delegate partition; full
  int8 is cut into dozens (XNNPACK has no int8 batch-matmul, softmax, GELU or
  the LayerNorm arithmetic), and its int8 LayerNorm and attention cost
  accuracy.
"""

import os
import shutil
import tempfile

import numpy as np

from keras_loretrack.atomic_files import atomic_output
from keras_loretrack.export.saved_model import SIGNATURE_KEY, export_saved_model
from keras_loretrack.layers.center_head import MAP_OUTPUT_LAYERS
from keras_loretrack.optional import require
from keras_loretrack.tracking.file_metadata import (
    INPUT_NAMES,
    METADATA_KEY,
    ExportMetadata,
    decode_name,
)
from keras_loretrack.tracking.quantization import dequantize_array, quantize_array

QUANTIZATIONS = ("none", "fp16", "dynamic", "int8", "int8-mixed")
CALIBRATED = ("int8", "int8-mixed")
# int8-mixed quantises these; every other op type of the graph stays float.
# Pure data movement between two int8 ops stays int8 too (no extra rescaling).
INT8_OP_TYPES = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")
LAYOUT_OP_TYPES = ("RESHAPE", "TRANSPOSE", "SPLIT", "CONCATENATION", "SQUEEZE")


def check_quantization(quantization, calibration=None):
    """Validates a TFLite quantisation mode and its calibration data.

    Raises:
        ValueError: unknown mode, or a static int8 mode without calibration
            samples.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"Unknown TFLite quantization {quantization!r}; expected one of "
            f"{list(QUANTIZATIONS)}"
        )
    if quantization in CALIBRATED and not calibration:
        raise ValueError(
            f"TFLite quantization {quantization!r} needs calibration samples "
            "(real crops, see keras_loretrack.export.calibration); got none"
        )


def write_tflite_metadata(tflite_bytes, metadata):
    """Returns TFLite flatbuffer bytes with the record as a `metadata` entry.

    The record (`ExportMetadata`) goes into a buffer of the model, named by an
    entry of the flatbuffer's `metadata` list; an existing `keras_loretrack`
    entry is replaced. `read_tflite_metadata` reads it back.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite_bytes))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(metadata.to_json().encode("utf-8"), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata = [
        m for m in (model.metadata or []) if decode_name(m.name) != METADATA_KEY
    ] + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _operators(tflite_bytes):
    """(subgraph, operator, builtin type name) of every op of a TFLite model."""
    from tensorflow.lite.python import schema_py_generated as schema

    names = {
        value: name
        for name, value in vars(schema.BuiltinOperator).items()
        if not name.startswith("_")
    }
    model = schema.Model.GetRootAs(tflite_bytes, 0)
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for o in range(subgraph.OperatorsLength()):
            op = subgraph.Operators(o)
            code = model.OperatorCodes(op.OpcodeIndex())
            yield (
                subgraph,
                op,
                names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())],
            )


def builtin_op_types(tflite_bytes):
    """The builtin op type names (e.g. `FULLY_CONNECTED`) used by a TFLite model."""
    return {kind for _, _, kind in _operators(tflite_bytes)}


def map_output_tensors(tflite_bytes):
    """Names of the tensors the head's map convolutions write (`MAP_OUTPUT_LAYERS`).

    The convolutions are found by their weights' names (an output tensor may
    carry the signature's name instead). TFLite's quantiser takes the names as
    `denylisted_nodes`: those convolutions stay float.
    """

    def name(subgraph, index):
        return subgraph.Tensors(index).Name().decode("utf-8")

    return [
        name(subgraph, op.Outputs(0))
        for subgraph, op, kind in _operators(tflite_bytes)
        if kind == "CONV_2D"
        and any(
            f"/{layer}" in name(subgraph, op.Inputs(1)) for layer in MAP_OUTPUT_LAYERS
        )
    ]


def _representative_dataset(calibration):
    def generate():
        for sample in calibration:
            yield {name: np.asarray(sample[name], np.float32) for name in INPUT_NAMES}

    return generate


def _converter(saved_model_dir):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(
        saved_model_dir, signature_keys=[SIGNATURE_KEY]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter


def convert_saved_model(saved_model_dir, quantization="none", calibration=None):
    """Converts a SavedModel from `export_saved_model` into TFLite bytes.

    Args:
        saved_model_dir: str. The SavedModel directory.
        quantization: str. One of `QUANTIZATIONS`.
        calibration: sequence of {"template", "search"} float32 arrays, needed
            for `int8` and `int8-mixed`; read one at a time.

    Returns:
        bytes, the flatbuffer (without the keras_loretrack metadata).
    """
    import tensorflow as tf

    check_quantization(quantization, calibration)
    converter = _converter(saved_model_dir)
    if quantization == "none":
        return converter.convert()
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "fp16":
        converter.target_spec.supported_types = [tf.float16]
        return converter.convert()
    if quantization == "dynamic":
        return converter.convert()
    converter.representative_dataset = _representative_dataset(calibration)
    if quantization == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        return converter.convert()
    float_model = _converter(saved_model_dir).convert()
    float_ops = builtin_op_types(float_model)
    denylisted = sorted(float_ops - set(INT8_OP_TYPES) - set(LAYOUT_OP_TYPES))
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter,
        debug_dataset=_representative_dataset(calibration),
        debug_options=tf.lite.experimental.QuantizationDebugOptions(
            denylisted_ops=denylisted,
            denylisted_nodes=map_output_tensors(float_model),
        ),
    )
    return debugger.get_nondebug_quantized_model()


def run_tflite(tflite_bytes, inputs, num_threads=1):
    """Runs TFLite bytes once on float inputs; returns float32 outputs by name.

    Quantised input and output tensors are converted with their stored scales.
    """
    litert = require("ai_edge_litert.interpreter", "export", "Running a TFLite file")
    interpreter = litert.Interpreter(
        model_content=bytes(tflite_bytes), num_threads=num_threads
    )
    runner = interpreter.get_signature_runner(SIGNATURE_KEY)
    feed = {
        name: quantize_array(inputs[name], detail["dtype"], *detail["quantization"])
        for name, detail in runner.get_input_details().items()
    }
    outputs = runner(**feed)
    details = runner.get_output_details()
    return {
        name: dequantize_array(value, *details[name]["quantization"])
        for name, value in outputs.items()
    }


def export_tflite(model, path, quantization="none", calibration=None, preset=""):
    """Exports a `LoReTrack` model to a `.tflite` file a tracker runs alone.

    The file holds one signature (`serving_default`, inputs `template` and
    `search`, outputs `score_map`, `size_map`, `offset_map`) and the
    keras_loretrack metadata (sizes, crop factors, normalisation). Before it is
    written, it is loaded in LiteRT and run once on the first calibration
    sample (or zeros), and must give finite maps of the right shapes.

    Args:
        model: `LoReTrack`.
        path: str. The `.tflite` file to write (atomically).
        quantization: str. One of `QUANTIZATIONS`.
        calibration: sequence of {"template", "search"} normalised crop pairs
            (`keras_loretrack.export.calibration`), for `int8` / `int8-mixed`;
            read one at a time.
        preset: str. Recorded in the metadata.

    Returns:
        `ExportMetadata`, the record written into the file.

    Example:
    ```python
    model = LoReTrack.from_preset("mini_student")
    export_tflite(model, "mini_student.tflite")
    tracker = Tracker.from_file("mini_student.tflite")
    ```
    """
    check_quantization(quantization, calibration)
    path = os.fspath(path)
    metadata = ExportMetadata.from_model(
        model, quantization=quantization, preset=preset
    )
    workdir = tempfile.mkdtemp(prefix="loretrack-tflite-")
    try:
        saved_model_dir = os.path.join(workdir, "saved_model")
        export_saved_model(model, saved_model_dir)
        data = convert_saved_model(saved_model_dir, quantization, calibration)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    data = write_tflite_metadata(data, metadata)
    verify_tflite(data, metadata, calibration[0] if calibration else None)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return metadata


def verify_tflite(tflite_bytes, metadata, sample=None):
    """Loads the bytes in LiteRT, runs them once, checks the maps' shapes.

    Raises:
        ValueError: a map has the wrong shape or non-finite values.
    """
    if sample is None:
        sample = {
            "template": np.zeros(
                (1, metadata.template_size, metadata.template_size, 3), np.float32
            ),
            "search": np.zeros(
                (1, metadata.search_size, metadata.search_size, 3), np.float32
            ),
        }
    outputs = run_tflite(tflite_bytes, sample)
    fs = metadata.feature_size
    expected = {"score_map": (1, fs, fs, 1), "size_map": (1, fs, fs, 2)}
    expected["offset_map"] = (1, fs, fs, 2)
    for name, shape in expected.items():
        if name not in outputs or outputs[name].shape != shape:
            got = None if name not in outputs else outputs[name].shape
            raise ValueError(
                f"The converted TFLite model gives {name} of shape {got}, expected "
                f"{shape}"
            )
        if not np.isfinite(outputs[name]).all():
            raise ValueError(f"The converted TFLite model gives non-finite {name}")
