"""Post-training vs quantization-aware int8, per export mode, as a Markdown table.

    python benchmarks/quantization_aware.py --presets mini_teacher mini_student \
        --steps 300 --work /tmp/qat_bench \
        --output benchmarks/results/quantization_aware.md

For each trained preset and int8 export mode (TFLite int8-mixed, TFLite int8,
ONNX Runtime static int8), two files of the same network:

- post-training: `keras_loretrack.export` with ranges calibrated on 64 crop
  pairs of procedural *training* videos;
- quantization-aware: `recipes/quantization_aware.py` fine-tunes the preset
  for `--steps` batches of 16 procedural *training* pairs, distilled from the
  float preset itself (Disc-KD and QKV-KD weight 1, tracking loss ×
  `--tracking-weight`, `--learning-rate` for backbone and head, no stochastic
  depth), with 8-bit weights for TFLite and 7-bit for ONNX Runtime, then
  exports it with the ranges it learned (TFLite int8 calibrates its remaining
  tensors on the same 64 pairs);
- with `--attention-probabilities`, a third, 8-bit run that also rounds every
  softmax output to the k/256 grid full-integer TFLite writes it on, exported
  as TFLite int8 ("softmax rounded" rows).

The modes without calibrated ranges (TFLite fp16 and dynamic, ONNX Runtime
dynamic) have their post-training file only.

Each file then tracks the procedural *test* videos (split "test", never
trained or calibrated on) and the real sequence `bag` (read only, measured
only), keeping those where the Keras float32 preset succeeds: the question is
whether int8 keeps a working tracker working. Two procedural sets:
"procedural", the videos where the float tracker's SUC is at least
`SUCCESS_SUC` (it may lose the target for a while and find it again), and
"held", the videos where it stays on the target (IoU with the ground truth at
least `HELD_IOU`) in every frame. Reported: the tracker's mean IoU
against the float32 tracker's boxes (closed loop, frames after the first),
its ground-truth SUC (AUC of the success plot, percent), and the largest map
difference from float32 on 32 crop pairs of the test videos (open loop).

The "float32, ±1 grey level" row is the scale these numbers are read on: the
same Keras float32 tracker on frames with independent integer noise of one
grey level (`noisy`, seed 0), a change no deployment would call an error. On the
"procedural" set the float SUC is also an upper bias: videos were kept
because the float run did well on them, so any change to the tracker (the
noise included) tends to score lower there.
"""

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

from keras_loretrack.atomic_files import write_json, write_text
from keras_loretrack.benchmarking.fidelity import mean_iou
from keras_loretrack.evaluation.metrics import iou
from keras_loretrack.evaluation.scoring import evaluate_tracker
from keras_loretrack.export import calibration_samples, export_onnx, export_tflite
from keras_loretrack.models import LoReTrack
from keras_loretrack.quantization_aware import load_quantization_aware
from keras_loretrack.sequences import Sequence
from keras_loretrack.sequences.procedural import procedural_dataset
from keras_loretrack.sequences.procedural.dataset import write_sequence
from keras_loretrack.tracking import Tracker
from keras_loretrack.tracking.engines import MAP_NAMES, KerasEngine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SEQUENCES = os.environ.get(
    "LORETRACK_SEQUENCES", os.path.join(ROOT, "..", "shared/data/sequences")
)
# (format, quantization, weight bits of the quantization-aware run)
MODES = (
    ("tflite", "int8-mixed", 8),
    ("tflite", "int8", 8),
    ("onnx", "int8", 7),
    ("tflite", "fp16", None),  # None: post-training only
    ("tflite", "dynamic", None),
    ("onnx", "dynamic", None),
)
CALIBRATION_VIDEOS, CALIBRATION_FRAMES, CALIBRATION_PAIRS = 4, 60, 64
TEST_VIDEOS, TEST_FRAMES, MAP_PAIRS = 12, 100, 32
BATCH = 16
SUCCESS_SUC = 50.0
HELD_IOU = 0.5


def test_sets(test_videos, sequences_dir, real):
    """The procedural test videos and the real sequences `real`, decoded once.

    Keys: "procedural", and "bag" (when `real` is just bag) or "real".
    """
    sets = {
        "procedural": [
            s.in_memory()
            for s in procedural_dataset(
                test_videos, split="test", num_frames=TEST_FRAMES
            )
        ]
    }
    if real:
        sets["bag" if real == ["bag"] else "real"] = [
            Sequence.from_otb_folder(os.path.join(sequences_dir, name)).in_memory()
            for name in real
        ]
    return sets


def training_videos(folder):
    """Procedural training-split videos on disk (the recipe's `--calibration`)."""
    for sequence in procedural_dataset(
        CALIBRATION_VIDEOS, split="train", num_frames=CALIBRATION_FRAMES
    ):
        write_sequence(sequence, os.path.join(folder, sequence.name))
    return folder


def fine_tune(preset, bits, args, run, calibration_dir, modes, extra=()):
    """Runs the recipe once (kept: a finished run folder is reused)."""
    targets = [(f, q) for f, q, b in modes if b == bits]
    if all(os.path.isfile(os.path.join(run, f"model_{q}.{f}")) for f, q in targets):
        return None
    started = time.perf_counter()
    command = (
        [
            sys.executable,
            os.path.join(ROOT, "recipes", "quantization_aware.py"),
            f"--preset={preset}",
            f"--weight-bits={bits}",
            "--data=procedural=64",
            "--epochs=1",
            f"--samples-per-epoch={args.steps * BATCH}",
            f"--batch-size={BATCH}",
            f"--learning-rate={args.learning_rate}",
            f"--tracking-weight={args.tracking_weight}",
            "--backbone-multiplier=1",
            "--workers=2",
            "--skip-eval",
            "--verbose=2",
            f"--calibration={calibration_dir}",
            f"--output={run}",
        ]
        + [f"--export={f}:{q}" for f, q in targets]
        + list(extra)
    )
    subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": ROOT})
    return time.perf_counter() - started


def post_training(model, preset, folder, calibration, modes):
    """The post-training file of every mode (kept when already written)."""
    paths = {}
    for fmt, quantization, _ in modes:
        path = os.path.join(folder, f"ptq_{quantization}.{fmt}")
        if not os.path.isfile(path):
            export = export_tflite if fmt == "tflite" else export_onnx
            export(model, path, quantization, calibration, preset=preset)
        paths[fmt, quantization] = path
    return paths


def run_tracker(tracker, sequences):
    result = evaluate_tracker(tracker, sequences)
    boxes = {s["name"]: s["boxes"] for s in result["sequences"]}
    return boxes, result["overall"]["auc"], result["sequences"]


def noisy(sequence, levels, seed):
    """`sequence` with integer noise in [-levels, levels] on every frame."""

    def frame(index):
        rng = np.random.default_rng([seed, index])
        image = sequence.frame(index).astype(np.int16)
        image += rng.integers(-levels, levels + 1, image.shape, dtype=np.int16)
        return np.clip(image, 0, 255).astype(np.uint8)

    return dataclasses.replace(sequence, frames=frame, num_frames=len(sequence))


def held(sequence, boxes):
    """Whether `boxes` stay on the target (IoU ≥ HELD_IOU) in every frame."""
    count = len(boxes)
    valid = sequence.valid_mask()[1:count]
    overlap = iou(boxes[1:], sequence.ground_truth[1:count])[valid]
    return bool(overlap.size) and bool((overlap >= HELD_IOU).all())


def succeeded(tracker, sets, with_held=False):
    """Each set reduced to the videos the float tracker follows.

    With `with_held`, a "held" set joins the procedural one: the videos where
    the tracker stays on the target in every frame.
    """
    kept = {}
    for name, sequences in sets.items():
        results = run_tracker(tracker, sequences)[2]
        scores = {s["name"]: s["auc"] for s in results}
        chosen = [s for s in sequences if scores[s.name] >= SUCCESS_SUC]
        if chosen:
            kept[name] = chosen
        if with_held and name == "procedural":
            boxes = {s["name"]: s["boxes"] for s in results}
            steady = [s for s in sequences if held(s, boxes[s.name])]
            if steady:
                kept["held"] = steady
    return kept


def map_difference(engine, reference, pairs):
    worst = dict.fromkeys(MAP_NAMES, 0.0)
    for pair, expected in zip(pairs, reference):
        out = engine(pair["template"], pair["search"])
        for name in MAP_NAMES:
            worst[name] = max(
                worst[name], float(np.abs(out[name] - expected[name]).max())
            )
    return worst


def measure(engine, sets, reference, pairs, reference_maps):
    tracker = Tracker(engine)
    row = {"maps": map_difference(engine, reference_maps, pairs)}
    for name, sequences in sets.items():
        boxes, suc, _ = run_tracker(tracker, sequences)
        row[name] = {"iou": mean_iou(boxes, reference[name]), "suc": suc}
    row["partitions"] = getattr(engine, "delegate_partitions", None)
    return row


def benchmark_preset(preset, args, sets, calibration_dir, test_pairs, modes):
    folder = os.path.join(args.work, preset)
    os.makedirs(folder, exist_ok=True)
    model = LoReTrack.from_preset(preset)
    calibration = calibration_samples(
        [
            Sequence.from_otb_folder(os.path.join(calibration_dir, n))
            for n in sorted(os.listdir(calibration_dir))
        ],
        model,
        CALIBRATION_PAIRS,
    )
    pairs = calibration_samples(test_pairs, model, MAP_PAIRS)
    float_engine = KerasEngine(model)
    reference_maps = [float_engine(p["template"], p["search"]) for p in pairs]
    sets = succeeded(Tracker(float_engine), sets, with_held=True)
    reference, float_suc, noise = {}, {}, {}
    for name, sequences in sets.items():
        reference[name], float_suc[name], _ = run_tracker(
            Tracker(float_engine), sequences
        )
        boxes, suc, _ = run_tracker(
            Tracker(float_engine), [noisy(s, 1, seed=0) for s in sequences]
        )
        noise[name] = {"iou": mean_iou(boxes, reference[name]), "suc": suc}
    rows = {"float32": {"suc": float_suc}, "float32, ±1 grey level": noise}
    ptq = post_training(model, preset, folder, calibration, modes)
    train_seconds = {}
    runs = {  # run folders are per step count: other budgets are not reused
        bits: os.path.join(folder, f"qat{bits}-{args.steps}steps")
        for bits in sorted({b for _, _, b in modes if b})
    }
    for bits, run in runs.items():
        train_seconds[bits] = fine_tune(preset, bits, args, run, calibration_dir, modes)
        qat = load_quantization_aware(os.path.join(run, "preset"))
        rows[f"keras fake-quant {bits}-bit"] = measure(
            KerasEngine(qat), sets, reference, pairs, reference_maps
        )
    for fmt, quantization, bits in modes:
        files = [("post-training", ptq[fmt, quantization])]
        if bits:
            qat_file = os.path.join(runs[bits], f"model_{quantization}.{fmt}")
            files.append(("quantization-aware", qat_file))
        for kind, path in files:
            engine = Tracker.from_file(path, num_threads=args.threads).engine
            rows[f"{fmt} {quantization} {kind}"] = measure(
                engine, sets, reference, pairs, reference_maps
            )
            print(preset, fmt, quantization, kind, rows[f"{fmt} {quantization} {kind}"])
    rounded = [m for m in modes if m[:2] == ("tflite", "int8")]
    if args.attention_probabilities and rounded:
        run = os.path.join(folder, f"qat8-softmax-{args.steps}steps")
        train_seconds["8-bit, softmax rounded"] = fine_tune(
            preset,
            8,
            args,
            run,
            calibration_dir,
            rounded,
            ["--attention-probabilities"],
        )
        rows.update(
            softmax_rounded_rows(
                run, args, sets, reference, pairs, reference_maps, rounded
            )
        )
    return save_result(folder, args, rows, train_seconds, sets)


def softmax_rounded_rows(run, args, sets, reference, pairs, reference_maps, modes):
    """Rows of the run that also rounds the softmax: Keras and its int8 files."""
    qat = load_quantization_aware(os.path.join(run, "preset"))
    rows = {
        "keras fake-quant 8-bit, softmax rounded": measure(
            KerasEngine(qat), sets, reference, pairs, reference_maps
        )
    }
    for fmt, quantization, _ in modes:
        path = os.path.join(run, f"model_{quantization}.{fmt}")
        engine = Tracker.from_file(path, num_threads=args.threads).engine
        rows[f"{fmt} {quantization} quantization-aware, softmax rounded"] = measure(
            engine, sets, reference, pairs, reference_maps
        )
    return rows


def _command():
    return " ".join(["python benchmarks/quantization_aware.py", *sys.argv[1:]])


def save_result(folder, args, rows, train_seconds, sets):
    """The preset's rows with the command that measured them (for `--include`)."""
    result = {
        "command": _command(),
        "steps": args.steps,
        "rows": rows,
        "train_seconds": {str(b): s for b, s in train_seconds.items()},
        "sets": {n: [len(s) for s in v] for n, v in sets.items()},
    }
    write_json(os.path.join(folder, "result.json"), result, default=float)
    return result


def load_result(work, preset):
    path = os.path.join(work, preset, "result.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no saved result of preset {preset!r}")
    with open(path) as file:
        return json.load(file)


def _f(value, spec="{:.3f}"):
    return "–" if value is None else spec.format(value)


def _bits(key):
    return f"{key}-bit" if key.isdigit() else key


def report(results, args):
    """One table of every preset's rows, headed by the commands that measured them."""
    names = list(dict.fromkeys(n for r in results.values() for n in r["sets"]))
    commands = list(dict.fromkeys(r["command"] for r in results.values()))
    if not args.presets:
        commands.append(_command() + "  # writes the table")
    lines = [
        "# Post-training vs quantization-aware int8 (miniature presets)",
        "",
        "Commands:",
        "",
        *(f"    {c}" for c in commands),
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{time.strftime('%Y-%m-%d')}; {args.threads} runtime threads.",
        "",
        __doc__.split("\n\n", 2)[2].strip(),
        "",
        *(
            f"Sequences {preset} follows: "
            + ", ".join(
                f"{k} ({len(v)} videos, {sum(v)} frames)" for k, v in r["sets"].items()
            )
            + "."
            for preset, r in results.items()
        ),
        "",
        "| preset | file | tracker IoU vs float32: "
        + " / ".join(names)
        + " | SUC: "
        + " / ".join(names)
        + " | max abs map diff score / size / offset | XNNPACK partitions |",
        "|---|---|---|---|---|---|",
    ]
    for preset, result in results.items():
        for label, row in result["rows"].items():
            if label == "float32":
                suc, agreement = row["suc"], "1"
            else:
                suc = {n: row[n]["suc"] for n in names if n in row}
                agreement = " / ".join(_f(row.get(n, {}).get("iou")) for n in names)
            if label == "float32":
                maps = "0"
            elif "maps" in row:
                maps = " / ".join(_f(row["maps"][m], "{:.2g}") for m in MAP_NAMES)
            else:
                maps = "–"
            lines.append(
                f"| {preset} | {label} | {agreement} | "
                + " / ".join(_f(suc.get(n), "{:.1f}") for n in names)
                + f" | {maps} | {_f(row.get('partitions'), '{}')} |"
            )
        spent = ", ".join(
            f"{_bits(bits)} " + ("run reused" if s is None else f"{s:.0f} s")
            for bits, s in result["train_seconds"].items()
        )
        lines.append(
            f"| {preset} | fine-tuning time ({result['steps']} steps) | {spent} | | | |"
        )
    write_text(args.output, "\n".join(lines) + "\n")


def measure_presets(args):
    os.makedirs(args.work, exist_ok=True)
    calibration_dir = training_videos(os.path.join(args.work, "train_videos"))
    sets = test_sets(args.test_videos, args.sequences, args.real)
    test = sets["procedural"]
    modes = [m for m in MODES if f"{m[0]}:{m[1]}" in args.modes]
    return {
        preset: benchmark_preset(preset, args, sets, calibration_dir, test, modes)
        for preset in args.presets
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--presets",
        nargs="*",
        default=["mini_teacher", "mini_student"],
        help="presets to measure (none: only write the table of --include)",
    )
    parser.add_argument("--steps", type=int, default=300, help="fine-tuning batches")
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--tracking-weight", type=float, default=0.0)
    parser.add_argument("--work", required=True, help="folder for runs and files")
    parser.add_argument("--sequences", default=DEFAULT_SEQUENCES)
    parser.add_argument("--real", nargs="*", default=["bag"], help="real sequences")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=[f"{f}:{q}" for f, q, _ in MODES],
        default=[f"{f}:{q}" for f, q, _ in MODES],
        help="export modes to compare",
    )
    parser.add_argument("--test-videos", type=int, default=TEST_VIDEOS)
    parser.add_argument(
        "--attention-probabilities",
        action="store_true",
        help="add a fine-tuning run that also rounds the softmax as full-integer "
        "TFLite does (--attention-probabilities of the recipe), for tflite:int8",
    )
    parser.add_argument(
        "--include",
        nargs="*",
        default=[],
        help="presets measured by an earlier command with the same --work "
        "(rows saved in <work>/<preset>/result.json) that join the table; "
        "with an empty --presets, only the table is written",
    )
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    results = {preset: load_result(args.work, preset) for preset in args.include}
    if args.presets:
        results.update(measure_presets(args))
    report(results, args)


if __name__ == "__main__":
    main()
