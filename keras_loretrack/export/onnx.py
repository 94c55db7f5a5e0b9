"""Export to ONNX through tf2onnx, float32 or int8 for ONNX Runtime.

The Keras SavedModel (`keras_loretrack.export.saved_model`) is frozen and
converted by tf2onnx at opset 17 or later. Two rewrites run during the
conversion, on the TensorFlow graph:

- each `keras_loretrack.layers.LayerNorm` (mean, centre, square, mean,
  rsqrt, scale, shift: nine TF ops) becomes one ONNX `LayerNormalization`;
- the exact GELU's `x · (1/√2)` becomes `x / √2`, the form ONNX Runtime's
  graph optimiser fuses (with the preceding bias) into one `BiasGelu` kernel.

Quantisation (ONNX Runtime's quantiser, QDQ format):

- `dynamic`: int8 per-channel weights of the fully-connected layers,
  activations quantised per call.
- `int8`: static: the fully-connected layers and the convolutions get int8
  per-channel weights and uint8 activations whose ranges come from real
  calibration crops; the fully-connected outputs stay float (ONNX Runtime
  runs them as `MatMulIntegerToFloat`), and LayerNorm, softmax, GELU, the
  attention matrix products and the head's three map convolutions
  (`MAP_OUTPUT_LAYERS`) stay float.

Both use 7-bit weights (`reduce_range`). On x86 CPUs without VNNI, ONNX
Runtime multiplies uint8 by int8 with `vpmaddubsw`, which adds each pair of
products into a saturating int16: full-range weights overflow it (products of
random uint8 × int8 matrices come out wrong), and on the trained
`mini_teacher` the largest offset-map error fell from 0.30 to 0.12 (static)
and from 0.31 to 0.02 (dynamic) with 7-bit weights, at the same speed
(`benchmarks/results/export_mini_teacher.md`).

Every export is loaded in ONNX Runtime and run once before it is written.
"""

import contextlib
import math
import os
import shutil
import tempfile

import numpy as np

from keras_loretrack.atomic_files import atomic_output
from keras_loretrack.export.frozen_graph import frozen_signature, release_memory
from keras_loretrack.export.saved_model import export_saved_model
from keras_loretrack.layers.center_head import MAP_OUTPUT_LAYERS
from keras_loretrack.optional import require
from keras_loretrack.tracking.file_metadata import (
    INPUT_NAMES,
    METADATA_KEY,
    OUTPUT_NAMES,
    ExportMetadata,
)

QUANTIZATIONS = ("none", "dynamic", "int8")
MIN_OPSET = 17


def check_quantization(quantization, calibration=None):
    """Validates an ONNX quantisation mode and its calibration data.

    Raises:
        ValueError: unknown mode, or `int8` without calibration samples.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"Unknown ONNX quantization {quantization!r}; expected one of "
            f"{list(QUANTIZATIONS)}"
        )
    if quantization == "int8" and not calibration:
        raise ValueError(
            "ONNX quantization 'int8' needs calibration samples (real crops, see "
            "keras_loretrack.export.calibration); got none"
        )


def check_opset(opset):
    """Raises a ValueError unless `opset` is an integer >= `MIN_OPSET`."""
    if int(opset) != opset or opset < MIN_OPSET:
        raise ValueError(f"ONNX opset must be >= {MIN_OPSET}, got {opset!r}")


# === TensorFlow-graph rewrites run by tf2onnx ===


def _is_const(node):
    return node.type in ("Const", "ConstV2")


def _const_value(node):
    return node.get_tensor_value(as_list=False)


def _scalar(node):
    if not _is_const(node):
        return None
    value = _const_value(node)
    return float(value) if np.size(value) == 1 else None


def _other_input(node, known):
    first, second = node.inputs
    if first is known:
        return second
    if second is known:
        return first
    return None


def _only_consumer(graph, node, types):
    consumers = graph.find_output_consumers(node.output[0])
    if len(consumers) == 1 and consumers[0].type in types:
        return consumers[0]
    return None


def _is_last_axis_mean(node, rank):
    if node.type != "Mean" or not _is_const(node.inputs[1]):
        return False
    axes = [int(a) % rank for a in np.atleast_1d(_const_value(node.inputs[1]))]
    return axes == [rank - 1] and bool(node.get_attr_value("keep_dims"))


def rewrite_layer_norm(graph, ops):
    """tf2onnx rewriter: `LayerNorm`'s arithmetic → ONNX `LayerNormalization`.

    Matches `rsqrt(mean((x - mean(x))², -1) + ε) · (x - mean(x))`, optionally
    followed by a multiplication by a constant `gamma` and an addition of a
    constant `beta` (absent when they are 1 and 0 and were folded away).
    """
    for rsqrt in [op for op in ops if op.type == "Rsqrt"]:
        add = rsqrt.inputs[0]
        if add.type not in ("Add", "AddV2") or len(add.inputs) != 2:
            continue
        epsilon = next((_scalar(i) for i in add.inputs if _is_const(i)), None)
        variance = next((i for i in add.inputs if not _is_const(i)), None)
        if epsilon is None or variance is None:
            continue
        square = variance.inputs[0]
        if square.type != "Square" or square.inputs[0].type != "Sub":
            continue
        centered = square.inputs[0]
        x, mean = centered.inputs
        shape = graph.get_shape(x.output[0])
        if not shape or shape[-1] is None or shape[-1] < 1:
            continue
        rank = len(shape)
        if not (_is_last_axis_mean(variance, rank) and _is_last_axis_mean(mean, rank)):
            continue
        if mean.inputs[0] is not x:
            continue
        normalized = _only_consumer(graph, rsqrt, ("Mul",))
        if normalized is None or _other_input(normalized, rsqrt) is not centered:
            continue
        channels = shape[-1]
        gamma = np.ones(channels, np.float32)
        beta = np.zeros(channels, np.float32)
        out = normalized
        scale = _only_consumer(graph, out, ("Mul",))
        if scale is not None and _is_const(_other_input(scale, out)):
            gamma = gamma * _const_value(_other_input(scale, out)).astype(np.float32)
            out = scale
        shift = _only_consumer(graph, out, ("Add", "AddV2"))
        if shift is not None and _is_const(_other_input(shift, out)):
            beta = beta + _const_value(_other_input(shift, out)).astype(np.float32)
            out = shift
        if gamma.shape != (channels,) or beta.shape != (channels,):
            continue
        gamma_node = graph.make_const(f"{out.name}/ln_gamma", gamma.reshape(-1))
        beta_node = graph.make_const(f"{out.name}/ln_beta", beta.reshape(-1))
        layer_norm = graph.make_node(
            "LayerNormalization",
            [x.output[0], gamma_node.output[0], beta_node.output[0]],
            attr={"axis": -1, "epsilon": epsilon},
            op_name_scope=out.name,
            shapes=[graph.get_shape(out.output[0])],
            dtypes=[graph.get_dtype(out.output[0])],
        )
        graph.replace_all_inputs(out.output[0], layer_norm.output[0])
    return ops


def rewrite_gelu_division(graph, ops):
    """tf2onnx rewriter: `erf(x · (1/√2))` → `erf(x / √2)` (fusable into Gelu)."""
    for erf in [op for op in ops if op.type == "Erf"]:
        scaled = erf.inputs[0]
        if scaled.type != "Mul":
            continue
        x = next((i for i in scaled.inputs if not _is_const(i)), None)
        factor = next((_scalar(i) for i in scaled.inputs if _is_const(i)), None)
        if x is None or factor is None or abs(factor - math.sqrt(0.5)) > 1e-6:
            continue
        root_two = graph.make_const(
            f"{erf.name}/sqrt2", np.array(math.sqrt(2.0), np.float32)
        )
        divided = graph.make_node(
            "Div",
            [x.output[0], root_two.output[0]],
            op_name_scope=erf.name,
            shapes=[graph.get_shape(scaled.output[0])],
            dtypes=[graph.get_dtype(scaled.output[0])],
        )
        graph.replace_input(erf, erf.input[0], divided.output[0], 0)
    return ops


# === Conversion, quantisation, checks ===


def _update_proto_in_fresh_node(update_proto):
    """Wraps tf2onnx's `Node.update_proto` to write into a new `NodeProto`.

    `update_proto` (run on every node after each optimiser pass) deletes the
    node's attributes and appends them again; with the upb protobuf runtime a
    deleted field's memory stays in the message's arena, so every pass left
    one more copy of every weight behind (ViT-B: about 350 MB a pass, past
    22 GB in all). Starting from a new message each time frees the old one.
    """

    def wrapped(node, external_tensor_storage=None):
        old = node._op
        fresh = type(old)()
        for field in ("name", "op_type", "domain", "doc_string"):
            if old.HasField(field):
                setattr(fresh, field, getattr(old, field))
        node._op = fresh
        return update_proto(node, external_tensor_storage)

    return wrapped


@contextlib.contextmanager
def _fresh_node_protos(tf2onnx_graph):
    """Within the block, tf2onnx nodes update into new `NodeProto`s."""
    node_class = tf2onnx_graph.Node
    update_proto = node_class.update_proto
    node_class.update_proto = _update_proto_in_fresh_node(update_proto)
    try:
        yield
    finally:
        node_class.update_proto = update_proto


def convert_saved_model(saved_model_dir, opset=MIN_OPSET, rewrite=True):
    """Converts a SavedModel from `export_saved_model` into an ONNX ModelProto.

    The steps of tf2onnx's command line for a SavedModel (freeze and optimise
    the TensorFlow graph, convert it, optimise the ONNX graph), with less
    memory: the graph is frozen without the copies tf2onnx's loader keeps
    (`frozen_graph.frozen_signature`), the TensorFlow graph is released
    before the ONNX optimiser runs, the optimiser works in place instead of
    on a deep copy of the graph, weights included, per optimiser and pass,
    and nodes update into new protos (see `_update_proto_in_fresh_node`).
    Measured on res128 (ViT-B): 5.8 GB peak for the whole float export,
    against 8.7 GB through tf2onnx's loader
    (`benchmarks/results/export_memory.md`).

    Args:
        saved_model_dir: str. The SavedModel directory.
        opset: int. ONNX opset (>= 17).
        rewrite: bool. Apply `rewrite_layer_norm` and `rewrite_gelu_division`
            (off only to measure what they bring).
    """
    import tensorflow as tf

    tfonnx = require("tf2onnx.tfonnx", "export", "ONNX export")
    optimizer = require("tf2onnx.optimizer", "export", "ONNX export")
    tf2onnx_graph = require("tf2onnx.graph", "export", "ONNX export")

    check_opset(opset)
    graph_def, inputs, outputs, renames = frozen_signature(saved_model_dir)
    with tf.device("/cpu:0"), tf.Graph().as_default() as tf_graph:
        tf.import_graph_def(graph_def, name="")
        del graph_def
        graph = tfonnx.process_tf_graph(
            tf_graph,
            opset=int(opset),
            input_names=inputs,
            output_names=outputs,
            custom_rewriter=[rewrite_layer_norm, rewrite_gelu_division]
            if rewrite
            else [],
            tensors_to_rename=renames,
        )
    del tf_graph
    release_memory()
    with _fresh_node_protos(tf2onnx_graph):
        graph = optimizer.optimize_graph(graph, catch_errors=False)
        return graph.make_model("converted from a keras_loretrack SavedModel")


def _map_output_convs(proto):
    """Conv nodes of the head's map convolutions, found by their weights' names."""
    return [
        node.name
        for node in proto.graph.node
        if node.op_type == "Conv"
        and any(f"/{layer}" in node.input[1] for layer in MAP_OUTPUT_LAYERS)
    ]


def _attention_matmuls(proto):
    """MatMul nodes whose operands are both activations (q·kᵀ, attention·v)."""
    constants = {init.name for init in proto.graph.initializer}
    constants |= {n.output[0] for n in proto.graph.node if n.op_type == "Constant"}
    return [
        node.name
        for node in proto.graph.node
        if node.op_type == "MatMul" and not any(i in constants for i in node.input)
    ]


class _CalibrationReader:
    """ONNX Runtime's calibration reader protocol, one sample at a time.

    ONNX Runtime's min-max calibrator keeps two scalars per calibrated tensor
    per frame (its graph reduces each tensor to its minimum and maximum), so
    memory hardly grows with the number of frames. Its
    `CalibMaxIntermediateOutputs` option is not a way to bound it: in ONNX
    Runtime 1.32 it drops the collected frames without folding them into the
    ranges.
    """

    def __init__(self, calibration):
        self._samples = iter(calibration)

    def get_next(self):
        sample = next(self._samples, None)
        if sample is None:
            return None
        return {name: np.asarray(sample[name], np.float32) for name in INPUT_NAMES}


def quantize_onnx(
    float_path, output_path, quantization, calibration=None, seven_bit_weights=True
):
    """Quantises a float ONNX file with ONNX Runtime's quantiser (see module doc).

    `seven_bit_weights=False` (8-bit weights) only measures what 7 bits bring.
    """
    onnx = require("onnx", "export", "ONNX quantisation")
    quantization_tools = require(
        "onnxruntime.quantization", "export", "ONNX quantisation"
    )
    QuantType = quantization_tools.QuantType
    quantize_dynamic = quantization_tools.quantize_dynamic
    quantize_static = quantization_tools.quantize_static

    check_quantization(quantization, calibration)
    if quantization == "dynamic":
        quantize_dynamic(
            float_path,
            output_path,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=seven_bit_weights,
            weight_type=QuantType.QInt8,
            extra_options={"MatMulConstBOnly": True},
        )
        return
    proto = onnx.load(float_path, load_external_data=False)
    quantize_static(
        float_path,
        output_path,
        _CalibrationReader(calibration),
        reduce_range=seven_bit_weights,
        nodes_to_exclude=_attention_matmuls(proto) + _map_output_convs(proto),
        **static_int8_options(quantization_tools),
    )


def static_int8_options(quantization_tools, **extra_options):
    """`quantize_static` keywords of the package's static int8 scheme.

    QDQ; per-channel int8 weights and uint8 activations on MatMul and Conv;
    only MatMuls with a constant weight; MatMul outputs left in float. The
    post-training and the quantization-aware exports share it.

    Args:
        quantization_tools: module `onnxruntime.quantization`.
        **extra_options: added to the quantiser's `extra_options`.

    Returns:
        dict.
    """
    return {
        "quant_format": quantization_tools.QuantFormat.QDQ,
        "op_types_to_quantize": ["MatMul", "Conv"],
        "per_channel": True,
        "activation_type": quantization_tools.QuantType.QUInt8,
        "weight_type": quantization_tools.QuantType.QInt8,
        "extra_options": {
            "MatMulConstBOnly": True,
            "OpTypesToExcludeOutputQuantization": ["MatMul"],
            **extra_options,
        },
    }


def set_metadata(proto, metadata):
    """Stores the record in the ModelProto's `metadata_props` (replacing any)."""
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key != METADATA_KEY]
    del proto.metadata_props[:]
    for key, value in kept + [(METADATA_KEY, metadata.to_json())]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def run_onnx(path, inputs, num_threads=1):
    """Runs an ONNX file once in ONNX Runtime; returns float32 outputs by name."""
    onnxruntime = require("onnxruntime", "export", "Running an ONNX file")

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = num_threads
    session = onnxruntime.InferenceSession(
        path, options, providers=["CPUExecutionProvider"]
    )
    feed = {
        i.name: np.asarray(inputs[i.name], np.float32) for i in session.get_inputs()
    }
    names = [o.name for o in session.get_outputs()]
    return dict(
        zip(names, (np.asarray(v, np.float32) for v in session.run(names, feed)))
    )


def verify_onnx(path, metadata, sample=None):
    """Loads the file in ONNX Runtime, runs it once, checks the maps.

    Raises:
        ValueError: a map is missing, misshapen or not finite.
    """
    if sample is None:
        sample = {
            name: np.zeros((1, size, size, 3), np.float32)
            for name, size in (
                ("template", metadata.template_size),
                ("search", metadata.search_size),
            )
        }
    outputs = run_onnx(path, sample)
    fs = metadata.feature_size
    for name, channels in zip(OUTPUT_NAMES, (1, 2, 2)):
        shape = (1, fs, fs, channels)
        if name not in outputs or outputs[name].shape != shape:
            got = outputs[name].shape if name in outputs else None
            raise ValueError(
                f"The ONNX model gives {name} of shape {got}, expected {shape}"
            )
        if not np.isfinite(outputs[name]).all():
            raise ValueError(f"The ONNX model gives non-finite {name}")


def export_onnx(
    model,
    path,
    quantization="none",
    calibration=None,
    preset="",
    opset=MIN_OPSET,
    rewrite=True,
    seven_bit_weights=True,
):
    """Exports a `LoReTrack` model to an `.onnx` file a tracker runs alone.

    Inputs `template` and `search` (float32 NHWC, ImageNet-normalised),
    outputs `score_map`, `size_map`, `offset_map`, and the keras_loretrack
    record in `metadata_props`. The file is checked in ONNX Runtime (loaded and
    run once, finite maps of the right shapes) before it is moved into place.

    Args:
        model: `LoReTrack`.
        path: str. The `.onnx` file to write (atomically).
        quantization: str. One of `QUANTIZATIONS`.
        calibration: sequence of {"template", "search"} normalised crop pairs
            (e.g. `calibration_samples`), for `int8`; read one at a time.
        preset: str. Recorded in the metadata.
        opset: int. ONNX opset (>= 17).
        rewrite: bool. Fuse LayerNorm and GELU (see module doc); off only to
            measure what the rewrites bring.
        seven_bit_weights: bool. Quantise weights to 7 bits (see module doc);
            off only to measure what they bring.

    Returns:
        `ExportMetadata`, the record written into the file.
    """
    onnx = require("onnx", "export", "ONNX export")

    check_quantization(quantization, calibration)
    check_opset(opset)
    path = os.fspath(path)
    metadata = ExportMetadata.from_model(
        model, quantization=quantization, preset=preset
    )
    workdir = tempfile.mkdtemp(prefix="loretrack-onnx-")
    try:
        saved_model_dir = os.path.join(workdir, "saved_model")
        export_saved_model(model, saved_model_dir)
        float_path = os.path.join(workdir, "float.onnx")
        onnx.save(
            convert_saved_model(saved_model_dir, opset=opset, rewrite=rewrite),
            float_path,
        )
        release_memory()  # the converter's graphs hold reference cycles
        result_path = float_path
        if quantization != "none":
            result_path = os.path.join(workdir, "quantized.onnx")
            quantize_onnx(
                float_path, result_path, quantization, calibration, seven_bit_weights
            )
        proto = onnx.load(result_path)
        set_metadata(proto, metadata)
        with atomic_output(path) as tmp:
            onnx.save(proto, tmp)
            verify_onnx(tmp, metadata, calibration[0] if calibration else None)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return metadata
