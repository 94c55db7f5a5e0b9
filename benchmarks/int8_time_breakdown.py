"""Where an int8 model step's time goes, next to the int8 floor.

    python benchmarks/int8_time_breakdown.py --presets res128 res256 \
        --work /tmp/int8_breakdown --output benchmarks/results/int8_time_breakdown.md

The deployment tables (`loretrack bench`) put each engine's model time over
an int8 floor: the model's multiply-accumulates of linear and convolution
layers at the int8 matrix-multiply rate measured in the same round. This
script says what fills the rest. It exports each preset as the bench's
`onnx-int8` file (random weights: only time is measured, `loretrack export
--no-weights --format onnx --quantize int8 --calibration procedural`), then
runs it in OpenVINO (the `openvino-int8` engines: its CPU plugin reports each
executed node's time, and the original ONNX nodes each one fuses) and sorts
every node into a part of the network:

- int8 linear layers: the fully-connected products (qkv, projection, MLP);
- int8 convolutions: patch embedding and box head;
- attention: q·kᵀ, softmax and attention·v (float: bf16 or f32);
- GELU, LayerNorm, activation quantisation, layout (transpose, split,
  reshape, concat, slice), and the remaining element-wise ops (bias and
  residual additions, dequantisation scales).

A node that fuses several ONNX nodes counts once, in the first matching part
of that list: where OpenVINO fuses the GELU into the first MLP product, its
time is part of the linear layers' (and the GELU column reads 0).

Each round runs, each in a fresh process of its own and nothing else: the
machine-rate probe (`keras_loretrack.benchmarking.machine_speed`), then the
file under each precision, timed without profiling (median of the step) and
then profiled. The table gives the median over rounds.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

from keras_loretrack.atomic_files import write_text

PARTS = (
    "int8 linear layers",
    "int8 convolutions",
    "attention (q·kᵀ, softmax, ·v)",
    "GELU",
    "LayerNorm",
    "quantise activations",
    "layout",
    "other element-wise",
)
LAYOUT_TYPES = ("Transpose", "Reshape", "Split", "Concat", "Slice", "Reorder")
WARMUP, CALLS = 5, 30


def part_of(layer_type, original_names):
    """The part of the network an executed OpenVINO node belongs to.

    Args:
        layer_type: str. The node's `layerType` in the runtime model.
        original_names: str. Its `originalLayersNames` (comma-separated ONNX
            node names it executes).
    """
    names = original_names.lower()
    if layer_type == "FullyConnected":
        return PARTS[0]
    if layer_type == "Convolution":
        return PARTS[1]
    products = [n for n in names.split(",") if "attention" in n and "/matmul" in n]
    if "softmax" in names or products:
        return PARTS[2]
    if "erf" in names or "gelu" in names:
        return PARTS[3]
    if layer_type == "MVN" or "layernormalization" in names:
        return PARTS[4]
    if layer_type in LAYOUT_TYPES:
        return PARTS[6]
    if all(n.endswith("quantizelinear") for n in names.split(",")):
        return PARTS[5]
    return PARTS[7]


def probe_child(preset):
    """The round's fp32 and int8 rates, and the preset's MAC counts."""
    from keras_loretrack.benchmarking.machine_speed import (
        int8_matmul_gmacs,
        matmul_gflops,
        transformer_matmul_shapes,
    )
    from keras_loretrack.models import LoReTrack
    from keras_loretrack.models.cost import count_macs

    model = LoReTrack.from_preset(preset, load_weights=False)
    shapes = transformer_matmul_shapes(model)
    block_macs = sum(m * k * n for m, k, n in shapes)
    return {
        "fp32_gflops": matmul_gflops(2),
        "int8_gmacs": int8_matmul_gmacs(shapes, 2),
        "gmacs": count_macs(model) / 1e9,
        "linear_gmacs": block_macs * len(model.backbone.transformer_blocks) / 1e9,
    }


def _compiled(path, precision, profile):
    import openvino

    core = openvino.Core()
    return core.compile_model(
        core.read_model(path),
        "CPU",
        {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": 2,
            "INFERENCE_PRECISION_HINT": precision,
            "PERF_COUNT": profile,
        },
    )


def profile_child(path, precision):
    """Median step time, then the median time per part over profiled steps (ms)."""
    compiled = _compiled(path, precision, profile=False)
    rng = np.random.default_rng(0)
    feed = {
        port.get_any_name(): rng.uniform(-2, 2, list(port.get_shape())).astype(
            np.float32
        )
        for port in compiled.inputs
    }
    request = compiled.create_infer_request()
    for _ in range(WARMUP):
        request.infer(feed)
    steps = []
    for _ in range(CALLS):
        start = time.perf_counter()
        request.infer(feed)
        steps.append(time.perf_counter() - start)
    del request, compiled

    compiled = _compiled(path, precision, profile=True)
    parts = {}
    for node in compiled.get_runtime_model().get_ordered_ops():
        info = node.get_rt_info()
        parts[node.get_friendly_name()] = part_of(
            info["layerType"].astype(str), info["originalLayersNames"].astype(str)
        )
    request = compiled.create_infer_request()
    for _ in range(WARMUP):
        request.infer(feed)
    per_call = []
    for _ in range(CALLS):
        request.infer(feed)
        totals = dict.fromkeys(PARTS, 0.0)
        for entry in request.get_profiling_info():
            part = parts.get(entry.node_name, PARTS[7])
            totals[part] += entry.real_time.total_seconds() * 1e3
        per_call.append(totals)
    return {
        "step_ms": float(np.median(steps)) * 1e3,
        "parts_ms": {p: float(np.median([c[p] for c in per_call])) for p in PARTS},
    }


def run_child(*arguments):
    """Runs this script as a child (`--child ...`); returns its JSON result."""
    command = [sys.executable, os.path.abspath(__file__), "--child", *arguments]
    output = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def export_file(preset, work):
    """The bench's `onnx-int8` file of `preset` (exported once, then reused)."""
    path = os.path.join(work, f"{preset}-onnx-int8.onnx")
    if not os.path.isfile(path):
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from keras_loretrack.cli.main import main; main()",
                "export",
                f"--preset={preset}",
                "--no-weights",
                "--format=onnx",
                "--quantize=int8",
                "--calibration=procedural",
                f"--output={path}",
            ],
            check=True,
        )
    return path


def precisions():
    """bf16 where the CPU has bf16 arithmetic, and f32."""
    from keras_loretrack.benchmarking.machine_speed import cpu_flags

    bf16 = cpu_flags() & {"avx512_bf16", "amx_bf16"}
    return (["bf16"] if bf16 else []) + ["f32"]


def measure(preset, path, rounds):
    """Rounds of probe + every precision, each in its own process."""
    results = []
    for index in range(rounds):
        probe = run_child("probe", preset)
        order = precisions()[:: -1 if index % 2 else 1]
        runs = {p: run_child("profile", path, p) for p in order}
        results.append({"probe": probe, "runs": runs})
        print(preset, json.dumps(results[-1]), flush=True)
    return results


def _median(values):
    return float(np.median(values))


def report(measured, args):
    lines = [
        "# Where the int8 step's time goes (OpenVINO, int8 ONNX file)",
        "",
        "Command: `python benchmarks/int8_time_breakdown.py "
        + " ".join(sys.argv[1:])
        + "`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{_cpu()}; {time.strftime('%Y-%m-%d')}; 2 threads. Random weights: "
        "time only.",
        "",
        __doc__.split("\n\n", 2)[2].strip(),
        "",
        "- floor: the model's linear and convolution MACs at the round's int8 "
        "rate (ONNX Runtime's uint8 × int8 product at the transformer's layer "
        "shapes), as in the deployment tables; step: the model call alone; "
        "× floor: step over floor, median over rounds.",
        "- linear GMAC/s: the fully-connected layers' MACs over the time of "
        "their nodes; probe GMAC/s: the round's int8 rate.",
        "- parts: time of the profiled nodes (ms, median over calls, then over "
        "rounds); their sum is a little below the step, which also holds the "
        "gaps between nodes.",
        "",
        "| preset | precision | int8 floor ms | step ms | × floor | probe GMAC/s "
        "| linear GMAC/s | " + " | ".join(PARTS) + " |",
        "|---|---|---|---|---|---|---|" + "---|" * len(PARTS),
    ]
    for preset, results in measured.items():
        for precision in precisions():
            floors, steps, linear_rates, rates = [], [], [], []
            parts = {p: [] for p in PARTS}
            for r in results:
                probe, run = r["probe"], r["runs"][precision]
                floor = probe["gmacs"] / probe["int8_gmacs"] * 1e3
                floors.append(floor)
                steps.append(run["step_ms"])
                rates.append(probe["int8_gmacs"])
                linear_ms = run["parts_ms"][PARTS[0]]
                linear_rates.append(probe["linear_gmacs"] / linear_ms * 1e3)
                for p in PARTS:
                    parts[p].append(run["parts_ms"][p])
            ratio = _median([s / f for s, f in zip(steps, floors)])
            lines.append(
                f"| {preset} | {precision} | {_median(floors):.1f} "
                f"| {_median(steps):.1f} | {ratio:.2f} | {_median(rates):.0f} "
                f"| {_median(linear_rates):.0f} | "
                + " | ".join(f"{_median(parts[p]):.1f}" for p in PARTS)
                + " |"
            )
    lines += ["", "## Rounds", ""]
    for preset, results in measured.items():
        for index, r in enumerate(results, 1):
            steps = ", ".join(
                f"{p} {run['step_ms']:.1f} ms" for p, run in r["runs"].items()
            )
            lines.append(
                f"- {preset}, round {index}: fp32 {r['probe']['fp32_gflops']:.0f} "
                f"GFLOP/s, int8 {r['probe']['int8_gmacs']:.0f} GMAC/s; {steps}"
            )
    write_text(args.output, "\n".join(lines) + "\n")


def _cpu():
    from keras_loretrack.benchmarking.machine_speed import cpu_description

    return cpu_description()


def main():
    if sys.argv[1:2] == ["--child"]:
        kind, *rest = sys.argv[2:]
        result = probe_child(*rest) if kind == "probe" else profile_child(*rest)
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["res128", "res256"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", required=True, help="folder for the int8 files")
    parser.add_argument("--output", required=True, help="Markdown table")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    measured = {
        preset: measure(preset, export_file(preset, args.work), args.rounds)
        for preset in args.presets
    }
    report(measured, args)


if __name__ == "__main__":
    main()
