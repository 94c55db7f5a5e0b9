"""How fast the machine is while a benchmark runs.

On a shared virtual machine the speed of the same code drifts by tens of
percent over minutes, so `loretrack bench` records two rates measured in the
same minutes as its timings:

- `matmul_gflops`: TensorFlow's float32 matrix multiply;
- `int8_matmul_gmacs`: ONNX Runtime's uint8 × int8 matrix multiply at the
  shapes of a model's transformer layers, the kernel an int8 engine spends most
  of its time in. A model's MACs divided by this rate is a floor under its int8
  model step on this machine, whatever the graph around the products.
"""

import platform
import time

import numpy as np

# Instruction sets an int8 matrix multiply is fast with, best first
# (/proc/cpuinfo flag → name).
INT8_INSTRUCTIONS = (
    ("amx_int8", "AMX-INT8"),
    ("avx512_vnni", "AVX-512 VNNI"),
    ("avx_vnni", "AVX-VNNI"),
    ("avx2", "AVX2, no VNNI"),
)


def _cpuinfo_fields(cpuinfo="/proc/cpuinfo"):
    """The fields of /proc/cpuinfo's first entries, or None where it is missing."""
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in fields.items()}


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's instruction-set flags ("avx2", "avx512_bf16", ...); empty off Linux."""
    fields = _cpuinfo_fields(cpuinfo) or {}
    return set(fields.get("flags", "").split())


def cpu_description(cpuinfo="/proc/cpuinfo"):
    """The CPU model and its best int8 instruction set: "AMD EPYC (AVX-512 VNNI)".

    Reads /proc/cpuinfo on Linux; elsewhere the platform's processor string.
    """
    fields = _cpuinfo_fields(cpuinfo)
    if fields is None:
        return platform.processor() or platform.machine()
    flags = set(fields.get("flags", "").split())
    best = next((name for flag, name in INT8_INSTRUCTIONS if flag in flags), None)
    model = fields.get("model name", platform.machine())
    return f"{model} ({best})" if best else model


def fastest_seconds(run, calls):
    """The shortest of `calls` timed calls of `run()`."""
    best = float("inf")
    for _ in range(calls):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(threads, size=1024, repeats=10):
    """TensorFlow's float32 matrix-multiply rate now (GFLOP/s, best of repeats)."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    seconds = fastest_seconds(lambda: tf.linalg.matmul(a, a).numpy(), repeats + 1)
    return 2 * size**3 / seconds / 1e9


def transformer_matmul_shapes(model):
    """(M, K, N) of a `LoReTrack` block's four weight products (batch 1).

    M is the number of tokens (template and search), K × N the weights of the
    qkv, projection, first and second MLP layers.
    """
    backbone = model.backbone
    tokens = backbone.template_grid**2 + backbone.feature_size**2
    hidden, mlp = backbone.hidden_dim, backbone.mlp_dim
    return [
        (tokens, hidden, 3 * hidden),
        (tokens, hidden, hidden),
        (tokens, hidden, mlp),
        (tokens, mlp, hidden),
    ]


def int8_matmul_model(shapes, seed=0):
    """An ONNX model of one `MatMulInteger` per (M, K, N), with its feed.

    Inputs `a{i}` are uint8 (M, K); the weights are 7-bit int8 (K, N)
    initializers, as `keras_loretrack.export.onnx` quantises a fully-connected
    layer. Outputs `y{i}` are the int32 products.

    Returns:
        (onnx.ModelProto, feed dict, list of int8 weight arrays).
    """
    from onnx import TensorProto, helper, numpy_helper

    tensor = helper.make_tensor_value_info

    rng = np.random.default_rng(seed)
    nodes, inputs, outputs, initializers, feed, weights = [], [], [], [], {}, []
    for i, (m, k, n) in enumerate(shapes):
        weight = rng.integers(-64, 65, (k, n), dtype=np.int8)
        weights.append(weight)
        initializers.append(numpy_helper.from_array(weight, f"w{i}"))
        inputs.append(tensor(f"a{i}", TensorProto.UINT8, [m, k]))
        outputs.append(tensor(f"y{i}", TensorProto.INT32, [m, n]))
        nodes.append(helper.make_node("MatMulInteger", [f"a{i}", f"w{i}"], [f"y{i}"]))
        feed[f"a{i}"] = rng.integers(0, 256, (m, k), dtype=np.uint8)
    graph = helper.make_graph(nodes, "int8_matmuls", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model, feed, weights


def int8_matmul_gmacs(shapes, threads, repeats=10):
    """ONNX Runtime's uint8 × int8 matrix-multiply rate now (GMAC/s, best run).

    One run computes every product of `shapes` (see `int8_matmul_model`).
    """
    import onnxruntime

    model, feed, _ = int8_matmul_model(shapes)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    seconds = fastest_seconds(lambda: session.run(None, feed), repeats + 1)
    return sum(m * k * n for m, k, n in shapes) / seconds / 1e9
