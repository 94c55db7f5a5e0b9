"""The bench's Markdown report: the engine table, per-sequence IoU, graph choices."""

import datetime
import os
import platform

from keras_loretrack.benchmarking.fidelity import FIDELITY_PAIRS
from keras_loretrack.benchmarking.machine_speed import cpu_description
from keras_loretrack.benchmarking.rounds import INT8_QUANTIZATIONS, WARMUP_CALLS
from keras_loretrack.tracking.engines import MAP_NAMES
from keras_loretrack.version import __version__

# (what the choice is, the engine without it, the engine with it)
CHOICES = (
    (
        "TFLite: int8 only in fully-connected / conv layers, float LayerNorm, "
        "softmax, GELU, attention, float I/O (int8-mixed) instead of int8 "
        "everywhere with int8 I/O",
        "tflite-int8",
        "tflite-int8-mixed",
    ),
    (
        "TFLite: static activation ranges from real crops instead of dynamic "
        "per-call quantisation",
        "tflite-dynamic",
        "tflite-int8-mixed",
    ),
    ("TFLite: float32 → int8-mixed", "tflite-fp32", "tflite-int8-mixed"),
    (
        "ONNX: LayerNorm as one LayerNormalization node and GELU in the form "
        "ONNX Runtime fuses, instead of tf2onnx's op-by-op graph",
        "onnx-int8-unfused",
        "onnx-int8",
    ),
    (
        "ONNX: 7-bit instead of 8-bit weights (dynamic int8): no int16 overflow in "
        "ONNX Runtime's AVX2 uint8 × int8 kernel",
        "onnx-dynamic-8bit",
        "onnx-dynamic",
    ),
    (
        "ONNX: 7-bit instead of 8-bit weights (static int8)",
        "onnx-int8-8bit",
        "onnx-int8",
    ),
    (
        "ONNX: static int8 (calibrated) instead of dynamic int8",
        "onnx-dynamic",
        "onnx-int8",
    ),
    ("ONNX: float32 → static int8", "onnx", "onnx-int8"),
    ("ONNX float32 file: OpenVINO instead of ONNX Runtime", "onnx", "openvino"),
    (
        "ONNX static int8 file: OpenVINO instead of ONNX Runtime",
        "onnx-int8",
        "openvino-int8",
    ),
    (
        "OpenVINO int8: bf16 instead of float32 for the ops left unquantised",
        "openvino-int8",
        "openvino-int8-bf16",
    ),
    ("PyTorch dynamic int8 → ONNX static int8", "torch-int8", "onnx-int8"),
    ("PyTorch dynamic int8 → TFLite int8-mixed", "torch-int8", "tflite-int8-mixed"),
    ("PyTorch dynamic int8 → OpenVINO int8", "torch-int8", "openvino-int8"),
)

RANDOM_WEIGHTS_NOTE = (
    "With random weights the rows measure speed, size and memory only: an "
    "untrained tracker wanders over the background, so its closed-loop "
    "agreement and map differences say how alike two untrained networks are, "
    "not how faithfully an engine tracks. Measure fidelity with trained weights "
    "(a converted checkpoint, or the shipped `mini_teacher` / `mini_student`)."
)


def _format(value, pattern="{:.1f}"):
    return "–" if value is None else pattern.format(value)


def _choices_table(rows):
    by_key = {(r["preset"], r["engine"]): r for r in rows}
    lines = []
    for preset in dict.fromkeys(r["preset"] for r in rows):
        for text, before, after in CHOICES:
            a, b = by_key.get((preset, before)), by_key.get((preset, after))
            if a is None or b is None:
                continue
            lines.append(
                f"| {preset} | {text} | {before} → {after} "
                f"| {a['model_median_ms']:.1f} → {b['model_median_ms']:.1f} "
                f"| {a['crop_iou']:.3f} → {b['crop_iou']:.3f} "
                f"| {a['mean_iou']:.3f} → {b['mean_iou']:.3f} "
                f"| {_format(a.get('partitions'), '{}')} → "
                f"{_format(b.get('partitions'), '{}')} |"
            )
    if not lines:
        return []
    return [
        "",
        "## What each graph choice bought",
        "",
        "| preset | choice | engines | model median ms | crop-box IoU | tracker IoU "
        "| XNNPACK partitions |",
        "|---|---|---|---|---|---|---|",
        *lines,
    ]


def _sequences_table(rows, sequences):
    names = [s.name for s in sequences]
    lines = []
    for r in rows:
        per_sequence = r.get("sequence_iou") or {}
        cells = []
        for name in names:
            value = per_sequence.get(name, {})
            cells.append(
                f"{_format(value.get('reference'), '{:.3f}')} / "
                f"{_format(value.get('ground_truth'), '{:.3f}')}"
            )
        lines.append(f"| {r['preset']} | {r['engine']} | {' | '.join(cells)} |")
    return [
        "",
        "## Closed-loop tracking per sequence",
        "",
        "Mean IoU of each tracker's boxes against the Keras float32 tracker's / "
        "against the ground truth, frames after the first. Where the Keras float32 "
        "tracker has lost the target (its own ground-truth IoU near 0), agreement "
        "with it measures how alike two trackers drift over background, not how "
        "well the engine tracks.",
        "",
        f"| preset | engine | {' | '.join(names)} |",
        f"|---|---|{'---|' * len(names)}",
        *lines,
    ]


def _rounds_table(rows):
    lines = []
    for preset in dict.fromkeys(r["preset"] for r in rows):
        row = next(r for r in rows if r["preset"] == preset)
        for index, probe in enumerate(row["probes"]):
            int8 = probe.get("int8_gmacs")
            order = "reversed" if index % 2 else "as listed"
            lines.append(
                f"| {preset} | {index + 1} | {order} "
                f"| {probe['fp32_gflops']:.0f} | {_format(int8, '{:.0f}')} "
                f"| {2 * row['gmacs'] / probe['fp32_gflops'] * 1e3:.2f} "
                f"| {_format(int8 and row['gmacs'] / int8 * 1e3, '{:.2f}')} |"
            )
    return [
        "",
        "## Machine rate and floors, round by round",
        "",
        "Measured in a process of its own at the start of each round: TensorFlow's "
        "float32 1024² matrix multiply, and ONNX Runtime's uint8 × int8 matrix "
        "multiply at the transformer's layer shapes. A floor is the model's "
        "multiply-accumulates of linear and convolution layers at that rate: the "
        "least time the model can take in that round, before any other op.",
        "",
        "| preset | round | engine order | fp32 GFLOP/s | int8 GMAC/s "
        "| fp32 floor ms | int8 floor ms |",
        "|---|---|---|---|---|---|---|",
        *lines,
    ]


def _timing_cells(r):
    """Model median (spread over rounds) and the ratio to the round's floor."""
    spread = f"{min(r['model_ms_rounds']):.1f}–{max(r['model_ms_rounds']):.1f}"
    ratio = _format(r["floor_ratio"], "{:.2f}")
    return f"{r['model_median_ms']:.1f} ({spread}) | {ratio} ({r['floor_kind']})"


def to_markdown(rows, settings, sequences):
    """The Markdown report of all rows.

    Args:
        rows: list of dict. `bench_preset`'s rows.
        settings: `BenchSettings`. Named in the command line of the report.
        sequences: list of `Sequence`. The tracked sequences.
    """
    rounds = settings.rounds
    frames = sum(
        len(s) if settings.max_frames is None else min(len(s), settings.max_frames)
        for s in sequences
    )
    lines = [
        "# Deployment engines: latency, size, memory and fidelity",
        "",
        f"Command: `loretrack bench --presets {','.join(settings.presets)} "
        f"--engines {','.join(settings.engines)} "
        f"--sequences {settings.sequences} --threads {settings.threads} --calibration "
        f"{settings.calibration} --calibration-frames {settings.calibration_frames} "
        f"--rounds {rounds}"
        f"{f' --max-frames {settings.max_frames}' if settings.max_frames else ''}`",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {cpu_description()}; "
        "keras_loretrack "
        f"{__version__}; {datetime.date.today().isoformat()}. "
        f"{settings.threads} threads per runtime.",
        f"Sequences: {', '.join(s.name for s in sequences)} ({frames} frames).",
        "",
        "- model: the engine call alone; step: `Tracker.track` (crop, normalise, "
        "model, window, decode). Each engine is timed alone in a fresh process of "
        f"its own (opened, {WARMUP_CALLS} warm-up steps, then every sequence) while "
        f"nothing else of the bench runs, once in each of {rounds} rounds, the "
        "engines' order reversed every other round; each runtime waits for work as "
        "it does by default. Median and p90 over the frames of a round, then the "
        "median over rounds; in brackets the lowest and highest round.",
        "- × floor: model median over the floor measured in the same round (see "
        '"Machine rate and floors" below), median over rounds. int8 floor for '
        "engines whose "
        f"products are int8 ({', '.join(INT8_QUANTIZATIONS)} quantisation), fp32 "
        "floor for the others (float32, and fp16 weights, which run float32 "
        "products on x86); which one in brackets.",
        "- max abs diff: largest |engine - Keras float32| of the score / size / "
        f"offset maps over {FIDELITY_PAIRS} real crop pairs (maps are in [0, 1], "
        "offsets raw).",
        "- crop-box IoU: on the same crops, IoU of the box the tracker decodes "
        "(Hann window, argmax, offset, size) from the engine's maps and from Keras "
        "float32's (open loop: one step, same input).",
        "- tracker IoU: mean IoU against the Keras float32 tracker's boxes over every "
        "frame after the first, each tracker running on its own previous boxes "
        "(closed loop; boxes of the first round).",
        "- peak RSS: of a fresh process that imports the runtime, opens the engine "
        "and runs it; in brackets the part above its size after the imports "
        "(TensorFlow is imported in every case: the tracker package needs it). "
        "File MB: the exported file.",
        "",
        "| preset | engine | file MB | peak RSS MB (engine) | model median ms (rounds) "
        "| × floor | model p90 ms "
        "| step median ms | step p90 ms | fps | max abs diff score / size / offset "
        "| crop-box IoU | tracker IoU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        diff = " / ".join(f"{r['max_diff'][k]:.2g}" for k in MAP_NAMES)
        lines.append(
            f"| {r['preset']} | {r['engine']} | {_format(r['file_mb'])} "
            f"| {r['peak_rss_mb']:.0f} ({r['engine_rss_mb']:.0f}) "
            f"| {_timing_cells(r)} "
            f"| {r['model_p90_ms']:.1f} | {r['step_median_ms']:.1f} "
            f"| {r['step_p90_ms']:.1f} | {r['fps']:.1f} | {diff} "
            f"| {r['crop_iou']:.3f} | {r['mean_iou']:.3f} |"
        )
    weights = sorted({r["weights"] for r in rows})
    lines += ["", f"Weights: {', '.join(weights)}."]
    if any(w.startswith("random") for w in weights):
        lines.append(RANDOM_WEIGHTS_NOTE)
    lines += _rounds_table(rows)
    lines += _sequences_table(rows, sequences)
    lines += _choices_table(rows)
    return "\n".join(lines) + "\n"
