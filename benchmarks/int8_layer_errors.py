"""Where TFLite full int8 loses accuracy: LiteRT's per-tensor quantisation error.

    python benchmarks/int8_layer_errors.py --presets mini_teacher,mini_student \
        --output benchmarks/results/int8_layer_errors.md

Each trained preset is converted as `keras_loretrack.export` converts it for
`--quantization int8` (post-training, activation ranges calibrated on crop
pairs of procedural *training* videos), then LiteRT's
`tf.lite.experimental.QuantizationDebugger` runs the debug version of that
model on crop pairs of procedural *test* videos. The debug model runs, next to
each int8 op, a float32 copy of the op (float weights) on the int8 op's own
inputs, dequantised, and records the difference between the int8 op's
dequantised output and that float output: each op's own error (its weights,
arithmetic and output range), not the error accumulated by the ops before it.
Per tensor, the debugger averages over the debug pairs; the metric here is
RMSE / scale, the root mean square of that difference in units of the output's
quantisation step. Rounding alone gives 1/sqrt(12) ≈ 0.29 steps (LiteRT's
quantization debugger guide); much larger values mean the op's int8 arithmetic
or its ranges cost accuracy.
"""

import argparse
import csv
import io
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import defaultdict

import keras
import numpy as np
import tensorflow as tf
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


def layer_errors(preset, args):
    """The debugger's statistics of the preset's int8 model, one dict per tensor."""
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
        order = []

        def debug_dataset():
            for pair in tqdm(pairs, desc=f"{preset} debug pairs", leave=False):
                yield [np.asarray(pair[name], np.float32) for name in order]

        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=int8_converter(saved_model_dir, calibration),
            debug_dataset=debug_dataset,
        )
        order.extend(input_names(debugger.quant_model))
        debugger.run()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
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


def by_op_type(rows):
    """(op type, count, mean and max RMSE/scale), worst mean first."""
    steps = defaultdict(list)
    for row in rows:
        steps[row["op"]].append(row["steps"])
    table = [(op, len(v), np.mean(v), np.max(v)) for op, v in steps.items()]
    return sorted(table, key=lambda t: -t[2])


def reading(preset, rows):
    """A few sentences on the numbers of one preset."""
    table = by_op_type(rows)
    limit = 2 * ROUNDING_STEPS
    near = sum(r["steps"] <= limit for r in rows)
    worst = max(rows, key=lambda r: r["steps"])
    (op1, n1, mean1, max1), (op2, n2, mean2, max2) = table[:2]
    copies = [op for op, _, _, top in table if top < 0.01]
    calm = [op for op, _, _, top in table if 0.01 <= top <= limit]
    return (
        f"{preset}: {near} of {len(rows)} int8 tensors stay within twice the "
        f"rounding error ({limit:.2f} steps), among them every output of "
        f"{', '.join(calm) or 'no arithmetic op type'}; {', '.join(copies)} "
        "only move, slice or clamp int8 values and add no error. "
        f"The error concentrates in {op1} ({n1} ops, mean {mean1:.2f}, max "
        f"{max1:.2f} steps) and {op2} ({n2} ops, mean {mean2:.2f}, max "
        f"{max2:.2f}). The worst tensor is `{worst['tensor']}` ({worst['op']}, "
        f"{worst['steps']:.1f} steps, largest error per pair "
        f"{worst['max_abs']:.3g} on a step of {worst['scale']:.3g})."
    )


def report(results, args):
    lines = [
        "# Per-tensor error of TFLite full int8 (post-training)",
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
        "\n\n".join(reading(preset, rows) for preset, rows in results.items()),
    ]
    for preset, rows in results.items():
        lines += [
            "",
            f"## {preset}: by op type",
            "",
            "| op type | tensors | mean RMSE/scale | max RMSE/scale |",
            "|---|---|---|---|",
            *(
                f"| {op} | {n} | {mean:.3g} | {worst:.3g} |"
                for op, n, mean, worst in by_op_type(rows)
            ),
            "",
            f"## {preset}: top {args.top} tensors",
            "",
            "| op type | tensor | RMSE/scale | RMSE | largest error | scale |",
            "|---|---|---|---|---|---|",
            *(
                f"| {r['op']} | `{r['tensor']}` | {r['steps']:.2f} | "
                f"{r['rmse']:.3g} | {r['max_abs']:.3g} | {r['scale']:.3g} |"
                for r in sorted(rows, key=lambda r: -r["steps"])[: args.top]
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
    report({preset: layer_errors(preset, args) for preset in presets}, args)


if __name__ == "__main__":
    main()
