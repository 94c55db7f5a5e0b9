"""Where TFLite full int8 loses accuracy: per-op and accumulated quantisation error.

    python benchmarks/int8_layer_errors.py --presets mini_teacher,mini_student \
        --output benchmarks/results/int8_layer_errors.md

Each trained preset is converted as `keras_loretrack.export` converts it for
`--quantization int8` (post-training, activation ranges calibrated on crop
pairs of procedural *training* videos) and measured on crop pairs of
procedural *test* videos in two ways.

Each op's own error: `tf.lite.experimental.QuantizationDebugger` runs the
debug version of the model, which runs, next to each int8 op, a float32 copy
of the op (float weights) on the int8 op's own inputs, dequantised, and
records the difference between the int8 op's dequantised output and that
float output: the op's weights, arithmetic and output range, not the error of
the ops before it. The metric is RMSE / scale, the root mean square of that
difference in units of the output's quantisation step, averaged over the
pairs; rounding alone gives 1/sqrt(12) ≈ 0.29 steps (LiteRT's quantization
debugger guide). The debugger runs in two interpreters: LiteRT's
(`ai_edge_litert`, the one the package's engine runs) and TensorFlow's
deprecated `tf.lite.Interpreter` with its default XNNPACK delegate, which
computes int8 BATCH_MATMUL as if the right operand's zero point were 0 (on a
lone softmax·V its output matches that reading to rounding), so its column
shows errors LiteRT does not make.

The accumulated error: the int8 file and the float32 file of the same
SavedModel run side by side in LiteRT's built-in kernels (no delegate, so
every intermediate tensor is kept); for each tensor both files share, the
metric is RMS(int8 - float32) / std(float32), averaged over the pairs: how far
the int8 network has drifted from the float one by that point, relative to
the tensor's own spread. The table follows it through every transformer
block and into the head's maps.
"""

import argparse
import contextlib
import csv
import io
import os
import platform
import shutil
import sys
import tempfile
import time
import types
from collections import defaultdict

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert import interpreter as litert
from tensorflow.lite.tools.optimize.debugging.python import debugger as tf_debugger
from tqdm import tqdm

from keras_loretrack.atomic_files import write_text
from keras_loretrack.export import calibration_samples
from keras_loretrack.export.saved_model import SIGNATURE_KEY, export_saved_model

# Private helpers of the exporter, used here exactly as `convert_saved_model`
# uses them for `int8`, so the debugged model is the one `export_tflite` writes.
from keras_loretrack.export.tflite import _converter, _representative_dataset
from keras_loretrack.models import LoReTrack
from keras_loretrack.sequences.procedural import procedural_dataset

CALIBRATION_VIDEOS, CALIBRATION_FRAMES = 4, 60
DEBUG_VIDEOS, DEBUG_FRAMES = 4, 100
ROUNDING_STEPS = 1 / np.sqrt(12)
# Scope prefixes of every tensor in the Keras SavedModel graph.
SCOPE_PREFIXES = ("lo_re_track_1/", "lo_re_track_backbone_1/")
# Interpreters the debugger runs in: the package's (first) and TensorFlow's.
INTERPRETERS = {
    "LiteRT": litert.Interpreter,
    "tf.lite + XNNPACK": tf_debugger._interpreter.Interpreter,
}
# The tensors followed through each transformer block: (column, op type, which
# op of that type inside the block; -1 the last).
BLOCK_STAGES = (
    ("qkv", "FULLY_CONNECTED", 0),
    ("softmax", "SOFTMAX", 0),
    ("attention·V", "BATCH_MATMUL", 1),
    ("projection", "FULLY_CONNECTED", 1),
    ("MLP fc1", "FULLY_CONNECTED", 2),
    ("GELU", "GELU", 0),
    ("MLP fc2", "FULLY_CONNECTED", 3),
    ("block output", "ADD", -1),
)
INPUTS = ("template", "search")
OUTPUTS = ("score_map", "size_map", "offset_map")


class _Progress:
    """An iterable over `items` that shows a tqdm bar on each pass."""

    def __init__(self, items, desc):
        self.items, self.desc = items, desc

    def __iter__(self):
        return iter(tqdm(self.items, desc=self.desc, leave=False))


def int8_converter(saved_model_dir, calibration):
    """The TFLite converter set up as `convert_saved_model(..., "int8")`.

    The debugger quantises the calibrated model itself and keeps float input
    and output tensors; the ops between them are those of the int8 file.
    """
    converter = _converter(saved_model_dir)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _representative_dataset(
        _Progress(calibration, "calibration")
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter


def input_names(tflite_bytes):
    """The signature input names (`template`, `search`) in the model's input order."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(tflite_bytes, 0)
    signature = next(
        model.SignatureDefs(i)
        for i in range(model.SignatureDefsLength())
        if model.SignatureDefs(i).SignatureKey().decode() == SIGNATURE_KEY
    )
    by_tensor = {
        signature.Inputs(i).TensorIndex(): signature.Inputs(i).Name().decode()
        for i in range(signature.InputsLength())
    }
    subgraph = model.Subgraphs(signature.SubgraphIndex())
    return [by_tensor[subgraph.Inputs(i)] for i in range(subgraph.InputsLength())]


def short_name(tensor_name):
    """A readable name: one alias, no model/backbone scopes, no `_1` call suffixes.

    The converter joins the names of fused ops with `;`; the deepest (e.g. the
    `qkv` dense layer rather than the LayerNorm folded into it) is kept.
    """
    aliases = [a for a in tensor_name.split(";") if a]
    name = max(aliases, key=lambda a: a.count("/")) if aliases else tensor_name
    for prefix in SCOPE_PREFIXES:
        name = name.removeprefix(prefix)
    *scopes, op = name.split("/")
    return "/".join([s.removesuffix("_1") for s in scopes] + [op])


@contextlib.contextmanager
def debugger_interpreter(interpreter_class):
    """Within the block, `QuantizationDebugger` builds `interpreter_class` interpreters.

    The debugger module makes its interpreters through its module-level
    `_interpreter`; this swaps that reference and puts it back.
    """
    original = tf_debugger._interpreter
    tf_debugger._interpreter = types.SimpleNamespace(Interpreter=interpreter_class)
    try:
        yield
    finally:
        tf_debugger._interpreter = original


def own_errors(saved_model_dir, calibration, pairs, interpreter_class):
    """The debugger's per-op statistics of the int8 model, one dict per tensor."""
    order = []

    def debug_dataset():
        for pair in tqdm(pairs, desc="debug pairs", leave=False):
            yield [np.asarray(pair[name], np.float32) for name in order]

    with debugger_interpreter(interpreter_class):
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=int8_converter(saved_model_dir, calibration),
            debug_dataset=debug_dataset,
        )
        order.extend(input_names(debugger.quant_model))
        debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    dump.seek(0)
    rows = []
    for row in csv.DictReader(dump):
        scale, rmse = float(row["scale"]), float(row["mean_squared_error"]) ** 0.5
        rows.append(
            {
                "op": row["op_name"],
                "tensor": short_name(row["tensor_name"]),
                "scale": scale,
                "rmse": rmse,
                "max_abs": float(row["max_abs_error"]),
                "steps": rmse / scale,
            }
        )
    return rows


def _every_tensor(tflite_bytes):
    """A LiteRT interpreter of built-in kernels that keeps every tensor."""
    interpreter = litert.Interpreter(
        model_content=tflite_bytes,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    return interpreter


def _values(interpreter, details):
    """Tensor name → value as float64, int8 tensors dequantised."""
    values = {}
    for detail in details:
        if not detail["name"]:
            continue
        try:
            value = interpreter.get_tensor(detail["index"]).astype(np.float64)
        except ValueError:  # a tensor without data (e.g. an unused optional)
            continue
        scale, zero_point = detail["quantization"]
        if detail["dtype"] == np.int8 and scale:
            value = (value - zero_point) * scale
        values[detail["name"]] = value
    return values


def accumulated_errors(saved_model_dir, calibration, pairs):
    """RMS(int8 - float32) / std(float32) of every shared tensor and of the maps.

    Returns:
        (rows, maps): rows in the int8 file's op order, {"op", "tensor",
        "error"}; maps: output name → the same metric.
    """
    converter = int8_converter(saved_model_dir, calibration)
    converter.inference_input_type = tf.float32
    converter.inference_output_type = tf.float32
    int8 = _every_tensor(converter.convert())
    float32 = _every_tensor(_converter(saved_model_dir).convert())
    int8_details = int8.get_tensor_details()
    float_details = float32.get_tensor_details()
    by_index = {d["index"]: d for d in int8_details}
    produced = [  # (op type, tensor name) in the order the int8 file runs them
        (op["op_name"], by_index[index]["name"])
        for op in int8._get_ops_details()
        for index in op["outputs"]
    ]
    errors, maps = defaultdict(list), defaultdict(list)
    runners = [i.get_signature_runner(SIGNATURE_KEY) for i in (int8, float32)]
    for pair in tqdm(pairs, desc="int8 vs float32", leave=False):
        feed = {name: np.asarray(pair[name], np.float32) for name in INPUTS}
        q_out, f_out = (runner(**feed) for runner in runners)
        q_values = _values(int8, int8_details)
        f_values = _values(float32, float_details)
        for _, name in produced:
            q, f = q_values.get(name), f_values.get(name)
            if q is not None and f is not None and q.shape == f.shape:
                errors[name].append(_relative_error(q, f))
        for name in OUTPUTS:
            maps[name].append(_relative_error(q_out[name], f_out[name]))
    rows = [
        {"op": op, "tensor": short_name(name), "error": float(np.mean(errors[name]))}
        for op, name in produced
        if errors[name]
    ]
    return rows, {name: float(np.mean(e)) for name, e in maps.items()}


def _relative_error(quantized, reference):
    quantized, reference = np.asarray(quantized, np.float64), np.asarray(reference)
    spread = max(float(np.std(reference)), 1e-12)
    return float(np.sqrt(np.mean((quantized - reference) ** 2)) / spread)


def measure(preset, args):
    """Own errors per interpreter and accumulated errors of the preset's int8 model."""
    model = LoReTrack.from_preset(preset)
    calibration = calibration_samples(
        procedural_dataset(
            CALIBRATION_VIDEOS, split="train", num_frames=CALIBRATION_FRAMES
        ),
        model,
        args.calibration_frames,
    )
    pairs = calibration_samples(
        procedural_dataset(DEBUG_VIDEOS, split="test", num_frames=DEBUG_FRAMES),
        model,
        args.debug_pairs,
    )
    workdir = tempfile.mkdtemp(prefix="loretrack-int8-debug-")
    try:
        saved_model_dir = os.path.join(workdir, "saved_model")
        export_saved_model(model, saved_model_dir)
        own = {
            label: own_errors(saved_model_dir, calibration, pairs, interpreter)
            for label, interpreter in INTERPRETERS.items()
        }
        accumulated = accumulated_errors(saved_model_dir, calibration, pairs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    backbone = model.backbone
    tokens = sum(
        (side // backbone.patch_size) ** 2
        for side in (backbone.template_size, backbone.search_size)
    )
    return {"own": own, "accumulated": accumulated, "tokens": tokens}


def by_op_type(rows):
    """op type → (count, mean and max RMSE/scale)."""
    steps = defaultdict(list)
    for row in rows:
        steps[row["op"]].append(row["steps"])
    return {op: (len(v), np.mean(v), np.max(v)) for op, v in steps.items()}


def block_table(rows):
    """Block index → {stage column: accumulated error}, from the ordered rows."""
    blocks = defaultdict(list)
    for row in rows:
        scope = row["tensor"].split("/")[0]
        if scope.startswith("transformer_block_"):
            blocks[int(scope.removeprefix("transformer_block_"))].append(row)
    table = {}
    for block, block_rows in sorted(blocks.items()):
        table[block] = {}
        for column, op, which in BLOCK_STAGES:
            of_type = [r["error"] for r in block_rows if r["op"] == op]
            if len(of_type) > which:
                table[block][column] = of_type[which]
    return table


def reading(preset, result):
    """A few sentences on the numbers of one preset."""
    own = result["own"]["LiteRT"]
    types_ = by_op_type(own)
    limit = 2 * ROUNDING_STEPS
    near = sum(r["steps"] <= limit for r in own)
    worst_op = max(types_, key=lambda op: types_[op][1])
    rows, maps = result["accumulated"]
    blocks = block_table(rows)
    entry = next((r["error"] for r in rows if r["op"] == "CONCATENATION"), None)
    jumps = []
    for stages in blocks.values():
        values = [stages.get(column) for column, _, _ in BLOCK_STAGES]
        jumps += [
            (after - before, column)
            for (column, _, _), before, after in zip(
                BLOCK_STAGES[1:], values, values[1:]
            )
            if before is not None and after is not None
        ]
    steps_up = defaultdict(float)
    for rise, column in jumps:
        steps_up[column] = max(steps_up[column], rise)
    biggest = max(steps_up, key=steps_up.get)
    tf_lite = by_op_type(result["own"]["tf.lite + XNNPACK"])
    return (
        f"{preset}: in LiteRT, {near} of {len(own)} int8 ops stay within twice "
        f"the rounding error ({limit:.2f} steps) of their own; the worst op "
        f"type on average is {worst_op} (mean {types_[worst_op][1]:.2f}, max "
        f"{types_[worst_op][2]:.2f} steps). tf.lite's XNNPACK delegate "
        f"instead shows BATCH_MATMUL at mean {tf_lite['BATCH_MATMUL'][1]:.2f} "
        f"steps (LiteRT {types_['BATCH_MATMUL'][1]:.2f}). "
        + (
            f"The tokens enter block 0 off by {entry:.3f} of their spread; "
            if entry
            else ""
        )
        + f"the largest rise inside a block comes at the {biggest} "
        f"(+{steps_up[biggest]:.3f}; {result['tokens']} tokens, so a uniform "
        f"attention row is {256 / result['tokens']:.1f} steps of the softmax "
        "output's fixed 1/256 grid), and the maps end off by "
        + " / ".join(f"{maps[name]:.3f}" for name in OUTPUTS)
        + " (score / size / offset)."
    )


def report(results, args):
    lines = [
        "# Per-op and accumulated error of TFLite full int8 (post-training)",
        "",
        "Command:",
        "",
        "    python benchmarks/int8_layer_errors.py " + " ".join(sys.argv[1:]),
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}; "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        __doc__.split("\n\n", 2)[2].strip(),
        "",
        f"Calibration: {args.calibration_frames} crop pairs of {CALIBRATION_VIDEOS} "
        f"procedural training videos ({CALIBRATION_FRAMES} frames each); debug "
        f"data: {args.debug_pairs} crop pairs of {DEBUG_VIDEOS} procedural test "
        f"videos ({DEBUG_FRAMES} frames each). Largest error: the largest "
        "absolute difference of a pair, averaged over the pairs.",
        "",
        "## Reading",
        "",
        "\n\n".join(reading(preset, result) for preset, result in results.items()),
    ]
    labels = list(INTERPRETERS)
    for preset, result in results.items():
        rows, maps = result["accumulated"]
        types_ = {label: by_op_type(result["own"][label]) for label in labels}
        order = sorted(types_[labels[0]], key=lambda op: -types_[labels[0]][op][1])
        lines += [
            "",
            f"## {preset}: accumulated error, RMS(int8 - float32) / std(float32)",
            "",
            "| block | " + " | ".join(c for c, _, _ in BLOCK_STAGES) + " |",
            "|---|" + "---|" * len(BLOCK_STAGES),
            *(
                f"| {block} | "
                + " | ".join(
                    f"{stages[c]:.3f}" if c in stages else "–"
                    for c, _, _ in BLOCK_STAGES
                )
                + " |"
                for block, stages in block_table(rows).items()
            ),
            "",
            "Maps: " + ", ".join(f"{name} {maps[name]:.3f}" for name in OUTPUTS) + ".",
            "",
            f"## {preset}: each op's own error by op type, RMSE / scale",
            "",
            "| op type | tensors | "
            + " | ".join(f"{label} mean | {label} max" for label in labels)
            + " |",
            "|---|---|" + "---|---|" * len(labels),
            *(
                f"| {op} | {types_[labels[0]][op][0]} | "
                + " | ".join(
                    "{:.3g} | {:.3g}".format(*types_[label][op][1:])
                    if op in types_[label]
                    else "– | –"
                    for label in labels
                )
                + " |"
                for op in order
            ),
            "",
            f"## {preset}: top {args.top} tensors by own error (LiteRT)",
            "",
            "| op type | tensor | RMSE/scale | RMSE | largest error | scale |",
            "|---|---|---|---|---|---|",
            *(
                f"| {r['op']} | `{r['tensor']}` | {r['steps']:.2f} | "
                f"{r['rmse']:.3g} | {r['max_abs']:.3g} | {r['scale']:.3g} |"
                for r in sorted(result["own"][labels[0]], key=lambda r: -r["steps"])[
                    : args.top
                ]
            ),
        ]
    write_text(args.output, "\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--presets",
        default="mini_teacher",
        help="comma-separated trained presets, e.g. mini_teacher,mini_student",
    )
    parser.add_argument(
        "--calibration-frames",
        type=int,
        default=64,
        help="calibration crop pairs (procedural training videos)",
    )
    parser.add_argument(
        "--debug-pairs",
        type=int,
        default=16,
        help="crop pairs the debugger runs (procedural test videos)",
    )
    parser.add_argument("--top", type=int, default=15, help="tensors listed")
    parser.add_argument("--output", default="benchmarks/results/int8_layer_errors.md")
    args = parser.parse_args()
    presets = [p for p in args.presets.split(",") if p]
    report({preset: measure(preset, args) for preset in presets}, args)


if __name__ == "__main__":
    main()
