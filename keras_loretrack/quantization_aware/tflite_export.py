"""TFLite int8 files from a quantization-aware model's graph.

The model is traced under `frozen_weights`: int8-exact constant weights (the
head's BatchNorm folded in) and `tf.quantization.fake_quant_with_min_max_vars`
ops on the inputs and outputs of its fully-connected and convolution layers.

- `int8-mixed`: converted without optimisations, each fake-quant op becomes
  a QUANTIZE → DEQUANTIZE pair; `fake_quant_as_statistics` turns the pairs
  back into range statistics, and TFLite's quantiser then runs as for the
  post-training `int8-mixed` (`keras_loretrack.export.tflite`): int8
  fully-connected and convolution layers, every other op type and the map
  convolutions denylisted.
  Left to TFLite's quantization-aware conversion instead, the file would also
  run GELU, the head's sigmoids and the attention-times-values product in
  int8, because both their input and output carry a range.
- `int8`: TFLite's quantization-aware conversion, which reads the ranges of
  the fake-quant ops, with calibration crops for every other tensor
  (LayerNorm, softmax, attention, residual sums, inputs and outputs).

Either way the converter quantises the weights per output channel to
`max|w| / 127` and, the weights being on that grid already, gets back the
integers the model trained with (TFLite cannot take a per-channel fake-quant
op on a fully-connected weight: "'tfl.transpose' op has mismatched quantized
axes").
"""

import numpy as np

from keras_loretrack.export.saved_model import SIGNATURE_KEY
from keras_loretrack.export.tflite import (
    INT8_OP_TYPES,
    LAYOUT_OP_TYPES,
    builtin_op_types,
    map_output_tensors,
)
from keras_loretrack.tracking.file_metadata import INPUT_NAMES

UINT8 = 3  # TFLite's TensorType.UINT8


def _op_kinds(flat):
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if k.isupper()}
    codes = [flat.operatorCodes[op.opcodeIndex] for op in flat.subgraphs[0].operators]
    return [names[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in codes]


def _limits(tensor):
    """The real range of a quantised tensor: its integer range, scaled."""
    info = np.iinfo(np.uint8 if tensor.type == UINT8 else np.int8)
    scale = float(tensor.quantization.scale[0])
    zero_point = int(tensor.quantization.zeroPoint[0])
    return (info.min - zero_point) * scale, (info.max - zero_point) * scale


def fake_quant_as_statistics(tflite_bytes):
    """Float TFLite bytes with every QUANTIZE → DEQUANTIZE pair made a statistic.

    Each pair is removed (its consumers, the subgraph outputs and the
    signature read the float tensor again) and its range written on the float
    tensor as the `min` / `max` that calibration writes and TFLite's quantiser
    reads. The pairs were in place while the converter fused ops, so no
    LayerNorm scale or shift was folded into a fully-connected layer across a
    quantised tensor.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    flat = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite_bytes))
    subgraph = flat.subgraphs[0]
    ops = list(zip(subgraph.operators, _op_kinds(flat)))
    quantized = {op.outputs[0]: op.inputs[0] for op, kind in ops if kind == "QUANTIZE"}
    replaced, limits = {}, {}
    for op, kind in ops:
        if kind == "DEQUANTIZE" and op.inputs[0] in quantized:
            source = quantized[op.inputs[0]]
            replaced[op.outputs[0]] = source
            low, high = _limits(subgraph.tensors[op.inputs[0]])
            known = limits.get(source, (low, high))
            limits[source] = (min(known[0], low), max(known[1], high))
    paired = {op.inputs[0] for op, kind in ops if kind == "DEQUANTIZE"} & set(quantized)
    subgraph.operators = [
        op
        for op, kind in ops
        if not (
            (kind == "QUANTIZE" and op.outputs[0] in paired)
            or (kind == "DEQUANTIZE" and op.inputs[0] in paired)
        )
    ]
    for op in subgraph.operators:
        op.inputs = [replaced.get(i, i) for i in op.inputs]
    subgraph.outputs = [replaced.get(i, i) for i in subgraph.outputs]
    for signature in flat.signatureDefs or []:
        for output in signature.outputs:
            output.tensorIndex = replaced.get(output.tensorIndex, output.tensorIndex)
    for index, (low, high) in limits.items():
        statistics = schema.QuantizationParametersT()
        statistics.min, statistics.max = [low], [high]
        subgraph.tensors[index].quantization = statistics
    return bytes(flatbuffer_utils.convert_object_to_bytearray(flat))


def _representative_dataset(calibration):
    def generate():
        for sample in calibration:
            yield {name: np.asarray(sample[name], np.float32) for name in INPUT_NAMES}

    return generate


def convert_quantization_aware(saved_model_dir, quantization, calibration=None):
    """TFLite bytes of a SavedModel traced under `frozen_weights` (module doc).

    Args:
        saved_model_dir: str. From `keras_loretrack.export.export_saved_model`.
        quantization: str. `int8-mixed` or `int8`.
        calibration: list of {"template", "search"} crop pairs (`int8`).
    """
    import tensorflow as tf
    from tensorflow.lite.python.convert import mlir_quantize

    converter = tf.lite.TFLiteConverter.from_saved_model(
        saved_model_dir, signature_keys=[SIGNATURE_KEY]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "int8-mixed":
        annotated = fake_quant_as_statistics(converter.convert())
        denylisted = builtin_op_types(annotated) - set(INT8_OP_TYPES)
        # The same call as QuantizationDebugger.get_nondebug_quantized_model.
        return mlir_quantize(
            annotated,
            denylisted_ops=sorted(denylisted - set(LAYOUT_OP_TYPES)),
            denylisted_nodes=map_output_tensors(annotated),
        )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _representative_dataset(calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()
