import numpy as np
import pytest

from keras_loretrack.benchmarking.machine_speed import (
    cpu_description,
    cpu_flags,
    int8_matmul_model,
    transformer_matmul_shapes,
)

pytestmark = pytest.mark.export


def test_transformer_shapes_are_the_blocks_weight_products(tiny_model):
    # tiny_test: 2×2 template and 4×4 search tokens, width 32, MLP 64.
    assert transformer_matmul_shapes(tiny_model) == [
        (20, 32, 96),
        (20, 32, 32),
        (20, 32, 64),
        (20, 64, 32),
    ]


def test_int8_matmul_model_computes_the_integer_products():
    onnxruntime = pytest.importorskip("onnxruntime")
    shapes = [(8, 64, 16), (8, 32, 48)]
    model, feed, weights = int8_matmul_model(shapes, seed=3)
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    products = session.run(None, feed)
    for i, (m, k, n) in enumerate(shapes):
        a = feed[f"a{i}"]
        assert a.dtype == np.uint8 and a.shape == (m, k)
        # The full uint8 range: with 7-bit weights no pair of products
        # overflows the int16 sums of ONNX Runtime's AVX2 kernel.
        assert a.max() >= 250 and np.abs(weights[i]).max() == 64
        expected = a.astype(np.int64) @ weights[i].astype(np.int64)
        assert products[i].shape == (m, n)
        np.testing.assert_array_equal(products[i], expected)


def test_cpu_description_names_the_best_int8_instructions(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Some Xeon\nflags\t\t: fpu sse avx2 fma\n\n"
        "processor\t: 1\nmodel name\t: Some Xeon\nflags\t\t: fpu sse avx2 fma\n"
    )
    assert cpu_description(cpuinfo) == "Some Xeon (AVX2, no VNNI)"
    assert cpu_flags(cpuinfo) == {"fpu", "sse", "avx2", "fma"}
    cpuinfo.write_text("model name\t: AMD EPYC\nflags\t: avx2 avx512f avx512_vnni\n")
    assert cpu_description(cpuinfo) == "AMD EPYC (AVX-512 VNNI)"
    assert cpu_description(tmp_path / "missing")  # falls back to the platform
    assert cpu_flags(tmp_path / "missing") == set()
