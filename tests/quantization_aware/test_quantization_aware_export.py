"""The exported files compute what the fake-quantised Keras model computes.

Tolerances: largest |file - fake-quantised Keras| of any map over the 8
held-out pairs (maps of tiny_test are in about [-0.6, 0.7]). Measured:
TFLite int8-mixed 0.007, TFLite int8 0.014, ONNX int8 (7-bit) 0.015; the
post-training files are 0.05-0.1 from float Keras (`tests/export`). What is
left is rounding: ties, int32 biases, the runtimes' fixed-point rescaling and
their float outputs of the fully-connected layers (ONNX), each worth an
output step that later layers carry on. The bounds leave 2x margin.
"""

import os

import numpy as np
import pytest

from keras_loretrack.quantization_aware import (
    export_quantization_aware,
    parse_export_target,
    quantization_aware,
)
from keras_loretrack.tracking.engines import MAP_NAMES
from tests.quantization_aware.conftest import tiny_model

pytestmark = pytest.mark.export
pytest.importorskip("ai_edge_litert")
pytest.importorskip("onnxruntime")

TOLERANCES = {
    ("tflite", "int8-mixed"): 0.015,
    # Full integer also rounds the map convolutions, which the model keeps float.
    ("tflite", "int8"): 0.04,
    ("onnx", "int8"): 0.03,
}
LAYOUT_OPS = {"RESHAPE", "TRANSPOSE", "SPLIT", "CONCATENATION", "STRIDED_SLICE"}


@pytest.fixture(scope="session")
def exported(observed_model, crop_pairs, tmp_path_factory):
    """(format, quantization, weight bits, attention rounding) → path, exported once."""
    directory = tmp_path_factory.mktemp("qat_exports")
    paths = {}

    def export(fmt, quantization, bits=8, rounding=False):
        key = fmt, quantization, bits, rounding
        if key not in paths:
            path = os.path.join(
                directory, f"tiny_{quantization}_{bits}_{rounding}.{fmt}"
            )
            export_quantization_aware(
                observed_model(bits, rounding),
                path,
                fmt,
                quantization,
                crop_pairs[:8],
                "tiny",
            )
            paths[key] = path
        return paths[key]

    return export


@pytest.mark.parametrize(
    "fmt, quantization, bits, rounding",
    [
        ("tflite", "int8-mixed", 8, False),
        ("tflite", "int8", 8, False),
        ("tflite", "int8", 8, True),
        ("onnx", "int8", 7, False),
    ],
)
def test_exported_maps_match_the_fake_quantised_model(
    fmt, quantization, bits, rounding, exported, observed_model, check_pairs
):
    from keras_loretrack.tracking import KerasEngine, Tracker

    path = exported(fmt, quantization, bits, rounding)
    engine = Tracker.from_file(path, num_threads=1).engine
    keras_engine = KerasEngine(observed_model(bits, rounding))
    worst = 0.0
    for pair in check_pairs:
        expected = keras_engine(pair["template"], pair["search"])
        maps = engine(pair["template"], pair["search"])
        worst = max(worst, max(np.abs(maps[k] - expected[k]).max() for k in MAP_NAMES))
    assert worst < TOLERANCES[fmt, quantization]
    assert engine.geometry == keras_engine.geometry
    assert engine.metadata.quantization == f"{quantization} quantization-aware"


def operators(path):
    """(op name, input types, output types) of every op of a TFLite file."""
    from tests.export.test_tflite_export import operators as tflite_operators

    return tflite_operators(path)


def test_int8_mixed_quantises_only_the_linear_layers(exported):
    from keras_loretrack.tracking.litert_engine import LiteRTEngine

    ops = operators(exported("tflite", "int8-mixed"))
    int8 = {name for name, inputs, outputs in ops if "INT8" in inputs + outputs}

    assert {"FULLY_CONNECTED", "CONV_2D"} <= int8
    assert int8 <= {"FULLY_CONNECTED", "CONV_2D", "QUANTIZE", "DEQUANTIZE"} | LAYOUT_OPS
    for name in ("GELU", "SOFTMAX", "BATCH_MATMUL", "LOGISTIC", "ADD"):
        assert name not in int8, name
    # ReLU is fused into the int8 convolutions, not left between them.
    assert "RELU" not in {name for name, _, _ in ops}
    engine = LiteRTEngine(exported("tflite", "int8-mixed"), num_threads=1)
    engine(*(np.zeros((1, s, s, 3), "float32") for s in (32, 64)))
    assert engine.delegate_partitions == 1


def test_int8_is_integer_end_to_end(exported):
    from keras_loretrack.tracking.litert_engine import LiteRTEngine

    ops = operators(exported("tflite", "int8"))
    compute = [op for op in ops if op[0] not in ("QUANTIZE", "DEQUANTIZE")]
    float_ops = [name for name, inputs, outputs in compute if "FLOAT32" in outputs]

    assert len(float_ops) <= 1, float_ops  # at most one constant-fed op
    assert LiteRTEngine(exported("tflite", "int8"), num_threads=1).quantized_io


def test_onnx_weights_are_the_trained_integers(exported, observed_model):
    import onnx
    from onnx import numpy_helper

    from keras_loretrack.quantization_aware import frozen_weights, quantized_layers

    proto = onnx.load(exported("onnx", "int8", 7))
    initializers = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    dequantized = []
    for node in proto.graph.node:
        source = initializers.get(node.input[0])
        if node.op_type == "DequantizeLinear" and source is not None:
            if source.dtype == np.int8:
                assert np.abs(source).max() <= 63  # 7-bit weights
                scale = initializers[node.input[1]]
                axis = [a.i for a in node.attribute if a.name == "axis"][0]
                shape = [1] * source.ndim
                shape[axis] = -1
                dequantized.append(source * scale.reshape(shape))
    with frozen_weights(observed_model(7)):
        kernels = [
            layer.quantization.frozen[0]
            for layer in quantized_layers(observed_model(7)).values()
            if not layer.quantization.float_weights  # the map convolutions
        ]
    matches = 0
    for kernel in kernels:
        layouts = (
            (kernel, kernel.transpose(3, 2, 0, 1)) if kernel.ndim == 4 else (kernel,)
        )
        matches += any(
            w.shape == k.shape and np.allclose(w, k, rtol=1e-5, atol=1e-7)
            for w in dequantized
            for k in layouts
        )
    assert matches == len(kernels)
    attention = [
        n
        for n in proto.graph.node
        if n.op_type == "MatMul" and "attention_1/MatMul" in n.name
    ]
    assert attention  # the attention products stay float: no QDQ feeds them
    producers = {o: n.op_type for n in proto.graph.node for o in n.output}
    for node in attention:
        assert all(producers.get(i) != "DequantizeLinear" for i in node.input)


def test_bad_requests_name_the_problem_and_write_nothing(
    tmp_path, observed_model, crop_pairs
):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"keep")
    model = observed_model(8)

    with pytest.raises(ValueError, match=r"exports to onnx as \['int8'\], got .*mixed"):
        export_quantization_aware(model, path, "onnx", "int8-mixed")
    with pytest.raises(ValueError, match="Unknown export format 'coreml'"):
        export_quantization_aware(model, path, "coreml", "int8")
    with pytest.raises(ValueError, match="'int8' needs calibration crops"):
        export_quantization_aware(model, tmp_path / "m.tflite", "tflite", "int8")
    with pytest.raises(ValueError, match="is not quantization-aware"):
        export_quantization_aware(tiny_model(), path, "onnx", "int8")
    untrained = quantization_aware(tiny_model())
    with pytest.raises(
        ValueError,
        match=r"The inputs range of layer '[a-z_0-9/]+' has seen no training batch",
    ):
        export_quantization_aware(untrained, path, "onnx", "int8")
    with pytest.raises(
        ValueError,
        match=r"must be one of \['tflite:int8-mixed', 'tflite:int8', 'onnx:int8'\], "
        r"got 'onnx'$",
    ):
        parse_export_target("onnx")

    assert path.read_bytes() == b"keep"
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]
