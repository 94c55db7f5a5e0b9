import collections
import json

import numpy as np
import pytest

from keras_loretrack.export.onnx import QUANTIZATIONS
from keras_loretrack.tracking.file_metadata import METADATA_KEY, ExportMetadata

pytestmark = pytest.mark.export
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def op_counts(path):
    return collections.Counter(n.op_type for n in onnx.load(path).graph.node)


@pytest.mark.parametrize("quantization", QUANTIZATIONS)
def test_every_quantization_runs_in_onnx_runtime_and_matches_keras(
    quantization, exported, check_pairs, tolerance
):
    from keras_loretrack.tracking.onnx_engine import OnnxEngine

    engine = OnnxEngine(exported("onnx", quantization), num_threads=1)
    atol = tolerance("onnx", quantization)
    for pair, expected in check_pairs:
        maps = engine(pair["template"], pair["search"])
        assert set(maps) == set(expected)
        for key, value in expected.items():
            assert maps[key].dtype == np.float32
            np.testing.assert_allclose(maps[key], value, atol=atol, err_msg=key)


def test_opset_names_and_metadata(exported, tiny_model):
    model = onnx.load(exported("onnx", "none"))
    opsets = {o.domain: o.version for o in model.opset_import}
    assert opsets[""] >= 17
    assert {i.name for i in model.graph.input} == {"template", "search"}
    assert {o.name for o in model.graph.output} == {
        "score_map",
        "size_map",
        "offset_map",
    }
    props = {p.key: p.value for p in model.metadata_props}
    metadata = ExportMetadata.from_json(props[METADATA_KEY])
    assert metadata == ExportMetadata.from_model(
        tiny_model, quantization="none", preset="tiny_test"
    )
    assert json.loads(props[METADATA_KEY])["search_factor"] == 5.0


def test_layer_norms_become_single_nodes_and_gelu_divides(exported):
    counts = op_counts(exported("onnx", "none"))
    # Two blocks with two LayerNorms each; the backbone's final norm is Keras'
    # own LayerNormalization and stays unfused.
    assert counts["LayerNormalization"] == 4
    assert counts["Erf"] == 2
    model = onnx.load(exported("onnx", "none"))
    producers = {out: node for node in model.graph.node for out in node.output}
    for node in model.graph.node:
        if node.op_type == "Erf":
            assert producers[node.input[0]].op_type == "Div"


def test_rewrites_do_not_change_the_numbers(tiny_model, check_pairs, tmp_path):
    from keras_loretrack.export import export_onnx
    from keras_loretrack.export.onnx import run_onnx

    plain = tmp_path / "plain.onnx"
    export_onnx(tiny_model, plain, rewrite=False)
    assert op_counts(plain)["LayerNormalization"] == 0
    for pair, expected in check_pairs[:2]:
        out = run_onnx(str(plain), pair)
        for key, value in expected.items():
            np.testing.assert_allclose(out[key], value, atol=1e-5, err_msg=key)


def test_static_int8_quantizes_weights_per_channel_and_keeps_attention_float(
    exported,
):
    model = onnx.load(exported("onnx", "int8"))
    initializers = {i.name: i for i in model.graph.initializer}
    producers = {out: node for node in model.graph.node for out in node.output}
    quantized_weights = 0
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in initializers:
            continue
        weight = initializers[node.input[0]]
        if weight.data_type != onnx.TensorProto.INT8:
            continue
        scale = onnx.numpy_helper.to_array(initializers[node.input[1]])
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        assert scale.shape == (weight.dims[axis],), node.name
        # 7 bits: no int16 overflow in ONNX Runtime's AVX2 uint8 × int8 kernel.
        assert np.abs(onnx.numpy_helper.to_array(weight)).max() <= 64, node.name
        quantized_weights += 1
    # 2 blocks x 4 dense layers, the patch embedding, 3 x 4 head convolutions.
    assert quantized_weights == 8 + 1 + 12
    float_convs = [
        n.name
        for n in model.graph.node
        if n.op_type == "Conv" and n.input[1] in initializers
    ]
    assert len(float_convs) == 3  # the convolutions that write the maps
    attention = [
        n
        for n in model.graph.node
        if n.op_type == "MatMul"
        and not any(producers[i].op_type == "DequantizeLinear" for i in n.input)
    ]
    assert len(attention) == 4  # q·kᵀ and attention·v of both blocks stay float


def test_unknown_quantization_and_missing_calibration_are_errors(tiny_model, tmp_path):
    from keras_loretrack.export import export_onnx

    with pytest.raises(ValueError, match="Unknown ONNX quantization 'fp16'"):
        export_onnx(tiny_model, tmp_path / "x.onnx", "fp16")
    with pytest.raises(ValueError, match="'int8' needs calibration samples"):
        export_onnx(tiny_model, tmp_path / "x.onnx", "int8")
    with pytest.raises(ValueError, match="opset must be >= 17"):
        export_onnx(tiny_model, tmp_path / "x.onnx", opset=13)
    assert not list(tmp_path.iterdir())


def test_onnx_runtime_runs_the_int8_layers_as_integer_matmuls(exported, tmp_path):
    """Guards the graph shape ONNX Runtime needs to fuse QDQ into integer kernels.

    A dense layer must reach ONNX Runtime as MatMul → Reshape → Add (tf2onnx's
    form): a MatMul directly followed by its bias Add is turned into a float
    Gemm on dequantised weights before the QDQ fusion runs, about 5x slower.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    onnxruntime.InferenceSession(
        exported("onnx", "int8"), options, providers=["CPUExecutionProvider"]
    )
    counts = op_counts(tmp_path / "optimized.onnx")
    assert counts["MatMulIntegerToFloat"] == 8  # 2 blocks x 4 dense layers
    # The head's 12 inner convolutions and the two patch embeddings (template
    # and search); the 3 map convolutions stay float.
    assert counts["QLinearConv"] == 14
    assert counts["Gemm"] == 0
    assert counts["LayerNormalization"] + counts["SkipLayerNormalization"] >= 4
    assert counts["BiasGelu"] + counts["Gelu"] == 2
