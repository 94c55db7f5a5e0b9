"""ONNX Runtime static int8 from a quantization-aware model, without calibration.

The float graph is traced under `frozen_weights(activations=False)` (int8-exact
weights, the head's BatchNorm folded in, no fake-quant ops: tf2onnx converts
only per-tensor ones) and converted like any float export
(`keras_loretrack.export.onnx.convert_saved_model`). ONNX Runtime's quantiser
then runs with the settings of the post-training `int8` export (QDQ,
per-channel int8 weights of the fully-connected and convolution layers, uint8
activations, float fully-connected outputs), but reads the activation ranges
the model learned from a calibration cache and takes the weight scales the
model trained with as `TensorQuantOverrides`: the integers are the model's.
"""

import numpy as np

from keras_loretrack.export.onnx import static_int8_options
from keras_loretrack.quantization_aware.fake_quant import SMALLEST_RANGE
from keras_loretrack.quantization_aware.model import quantized_layers


def _limits(layer, side):
    low, high = getattr(layer.quantization, side).limits.numpy()
    return float(min(low, 0.0)), float(max(high, 0.0))


def _layers_by_weight(model):
    """Each layer by the bytes of its frozen kernel in ONNX's layout."""
    layers = {}
    for layer in quantized_layers(model).values():
        kernel = layer.quantization.frozen[0]
        if kernel.ndim == 4:  # Conv2D (h, w, in, out) → Conv (out, in, h, w)
            kernel = kernel.transpose(3, 2, 0, 1)
        layers[np.ascontiguousarray(kernel, np.float32).tobytes()] = layer
    return layers


def _channel_scales(weight, axis, weight_bits):
    bounds = np.abs(np.moveaxis(weight, axis, 0)).reshape(weight.shape[axis], -1)
    scales = np.maximum(bounds.max(axis=1), SMALLEST_RANGE) / (
        2 ** (weight_bits - 1) - 1
    )
    return [{"axis": axis, "scale": float(scales[0]), "zero_point": 0}] + [
        {"scale": float(s), "zero_point": 0} for s in scales[1:]
    ]


def onnx_quantization(proto, model):
    """What ONNX Runtime's quantiser needs, from a model under `frozen_weights`.

    Each MatMul / Conv node is matched to its layer by its weight.

    Returns:
        (nodes, ranges, overrides): the names of the nodes to quantise (the
        matched ones but the map convolutions, which stay float); tensor name →
        (low, high) for their inputs and outputs (a convolution followed by a
        ReLU takes the range of the ReLU's output, the next layer's input);
        weight name → per-channel scales `max|w| / (2^(b-1) - 1)`, zero
        point 0.

    Raises:
        ValueError: a layer has no node, or a convolution without an output
            range of its own is not followed by one ReLU.
    """
    from onnx import numpy_helper

    layers = _layers_by_weight(model)
    weights = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    consumers = {}
    for node in proto.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    nodes, ranges, overrides, relus, matched = [], {}, {}, {}, set()
    for node in proto.graph.node:
        if node.op_type not in ("MatMul", "Conv") or node.input[1] not in weights:
            continue
        weight = np.ascontiguousarray(weights[node.input[1]], np.float32)
        layer = layers.get(weight.tobytes())
        if layer is None:
            continue
        matched.add(layer.path)
        ranges[node.input[0]] = _limits(layer, "inputs")
        if layer.quantization.float_weights:
            continue  # a map convolution: float; its input range is the ReLU's
        nodes.append(node.name)
        if layer.quantization.outputs is not None:
            ranges[node.output[0]] = _limits(layer, "outputs")
        else:
            following = [n.op_type for n in consumers.get(node.output[0], [])]
            if following != ["Relu"]:
                raise ValueError(
                    f"Convolution {layer.path!r} must be followed by one Relu in "
                    f"the ONNX graph, got {following}"
                )
            relus[node.output[0]] = consumers[node.output[0]][0].output[0]
        axis = 1 if node.op_type == "MatMul" else 0  # the output channels
        overrides[node.input[1]] = _channel_scales(
            weight, axis, layer.quantization.weight_bits
        )
    missing = sorted(set(quantized_layers(model)) - matched)
    if missing:
        raise ValueError(
            f"Layers {missing} have no MatMul or Conv node in the ONNX graph"
        )
    for conv_output, relu_output in relus.items():
        ranges[conv_output] = ranges[relu_output]
    return nodes, ranges, overrides


def quantize_with_ranges(float_path, output_path, nodes, ranges, overrides):
    """ONNX Runtime's static QDQ quantisation with `onnx_quantization`'s output."""
    from onnxruntime import quantization as quantization_tools
    from onnxruntime.quantization import CalibrationMethod, quantize_static
    from onnxruntime.quantization.calibrate import (
        TensorData,
        TensorsData,
        save_tensors_data,
    )

    cache = f"{output_path}.ranges.json"
    save_tensors_data(
        TensorsData(
            CalibrationMethod.MinMax,
            {
                name: TensorData(lowest=np.float32(low), highest=np.float32(high))
                for name, (low, high) in ranges.items()
            },
        ),
        cache,
    )
    quantize_static(
        float_path,
        output_path,
        None,
        calibration_cache_path=cache,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_quantize=nodes,
        **static_int8_options(
            quantization_tools,
            TensorQuantOverrides=overrides,
            QDQDisableWeightAdjustForInt32Bias=True,
        ),
    )
