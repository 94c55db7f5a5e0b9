import numpy as np
import pytest

from keras_loretrack.export.tflite import QUANTIZATIONS
from keras_loretrack.tracking.file_metadata import ExportMetadata, read_tflite_metadata

pytestmark = pytest.mark.export
pytest.importorskip("ai_edge_litert")

# int8-mixed keeps these int8 (layout ops between two int8 ops stay int8 too);
# everything else must compute in float32.
INT8_OPS = {"FULLY_CONNECTED", "CONV_2D", "QUANTIZE", "DEQUANTIZE"}
LAYOUT_OPS = {"RESHAPE", "TRANSPOSE", "SPLIT", "CONCATENATION"}


def operators(path):
    """(op type name, input tensor types, output tensor types) of every op."""
    from ai_edge_litert import schema_py_generated as fb

    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if k.isupper()}
    types = {v: k for k, v in vars(fb.TensorType).items() if k.isupper()}
    with open(path, "rb") as f:
        model = fb.Model.GetRootAs(f.read(), 0)
    graph = model.Subgraphs(0)
    ops = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        inputs = [types[graph.Tensors(t).Type()] for t in op.InputsAsNumpy() if t >= 0]
        outputs = [types[graph.Tensors(t).Type()] for t in op.OutputsAsNumpy()]
        ops.append((name, inputs, outputs))
    return ops


@pytest.mark.parametrize("quantization", QUANTIZATIONS)
def test_every_quantization_runs_in_litert_and_matches_keras(
    quantization, exported, check_pairs, tolerance
):
    from keras_loretrack.tracking.litert_engine import LiteRTEngine

    engine = LiteRTEngine(exported("tflite", quantization), num_threads=1)
    atol = tolerance("tflite", quantization)
    for pair, expected in check_pairs:
        maps = engine(pair["template"], pair["search"])
        assert set(maps) == set(expected)
        for key, value in expected.items():
            assert maps[key].dtype == np.float32
            np.testing.assert_allclose(maps[key], value, atol=atol, err_msg=key)


@pytest.mark.parametrize("quantization", QUANTIZATIONS)
def test_files_use_builtin_ops_only(quantization, exported):
    ops = operators(exported("tflite", quantization))
    assert ops
    assert not [name for name, _, _ in ops if name in ("CUSTOM", "DELEGATE")]


def test_metadata_round_trips_and_names_the_signature(exported, tiny_model):
    from ai_edge_litert.interpreter import Interpreter

    path = exported("tflite", "none")
    with open(path, "rb") as f:
        metadata = read_tflite_metadata(f.read())
    assert metadata == ExportMetadata.from_model(
        tiny_model, quantization="none", preset="tiny_test"
    )
    assert (metadata.search_size, metadata.template_size) == (64, 32)
    assert (metadata.search_factor, metadata.template_factor) == (5.0, 2.0)
    signatures = Interpreter(model_path=path).get_signature_list()
    assert signatures == {
        "serving_default": {
            "inputs": ["search", "template"],
            "outputs": ["offset_map", "score_map", "size_map"],
        }
    }


def test_full_int8_has_int8_inputs_and_outputs(exported):
    from keras_loretrack.tracking.litert_engine import LiteRTEngine

    engine = LiteRTEngine(exported("tflite", "int8"), num_threads=1)
    assert engine.quantized_io
    ops = operators(exported("tflite", "int8"))
    assert any(
        name == "FULLY_CONNECTED" and "INT8" in inputs for name, inputs, _ in ops
    )


def test_int8_mixed_quantizes_only_fully_connected_and_convolutions(exported):
    ops = operators(exported("tflite", "int8-mixed"))
    int8_ops = {name for name, inputs, _ in ops if "INT8" in inputs}
    assert {"FULLY_CONNECTED", "CONV_2D"} <= int8_ops
    assert int8_ops <= INT8_OPS | LAYOUT_OPS
    float_ops = {name for name, inputs, _ in ops if "FLOAT32" in inputs}
    assert {"MEAN", "RSQRT", "SOFTMAX", "GELU", "BATCH_MATMUL"} <= float_ops
    # The head's three map convolutions write the maps in float.
    assert sum(n == "CONV_2D" and "INT8" not in i for n, i, _ in ops) == 3


def test_fp16_and_int8_files_are_smaller(exported):
    import os

    size = {q: os.path.getsize(exported("tflite", q)) for q in ("none", "fp16", "int8")}
    assert size["int8"] < size["fp16"] < size["none"]


def test_unknown_quantization_and_missing_calibration_are_errors(tiny_model, tmp_path):
    from keras_loretrack.export import export_tflite

    with pytest.raises(ValueError, match="Unknown TFLite quantization 'int4'"):
        export_tflite(tiny_model, tmp_path / "x.tflite", "int4")
    with pytest.raises(ValueError, match="'int8-mixed' needs calibration samples"):
        export_tflite(tiny_model, tmp_path / "x.tflite", "int8-mixed")
    assert not list(tmp_path.iterdir())
