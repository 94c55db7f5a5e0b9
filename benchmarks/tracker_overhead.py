"""The tracker's own per-frame cost next to the model call, as a Markdown table.

    python benchmarks/tracker_overhead.py --preset res128 --sequence wakeboard7 \
        --output benchmarks/results/tracker_overhead.md

Random weights (`load_weights=False`, seeded: the path the tracker takes, and so
the crop sizes, depend on them; the model's timing does not) on a real
OTB-layout sequence whose frames are decoded into memory first (reading JPEGs
is not the tracker's cost). `Tracker.track` runs with an engine wrapper that
times the model call; everything else in `track` (frame check, crop, resize,
normalisation, Hann window, decoding, map-back, clipping) is the overhead.
The same frames and states are then replayed through each step alone for a
breakdown. Median and p90 over the frames after `--warmup` frames.
"""

import argparse
import os
import platform
import time

import keras
import numpy as np
import tensorflow as tf

from keras_loretrack.atomic_files import write_text
from keras_loretrack.benchmarking.engines import TimedEngine
from keras_loretrack.data.crops import normalize, sample_target
from keras_loretrack.sequences import Sequence
from keras_loretrack.tracking import Tracker, postprocess
from keras_loretrack.tracking.tracker import as_rgb_frame

DEFAULT_SEQUENCES = os.environ.get(
    "LORETRACK_SEQUENCES",
    os.path.join(os.path.dirname(__file__), "..", "..", "shared/data/sequences"),
)


class RecordingEngine(TimedEngine):
    """Times every call of an engine and keeps its maps for the replay."""

    def __init__(self, engine):
        super().__init__(engine)
        self.outputs = []

    def __call__(self, template, search):
        out = super().__call__(template, search)
        self.outputs.append(out)
        return out


def time_steps(frames, states, outputs, tracker):
    """Replays each overhead step alone on the recorded frames and states."""
    geometry = tracker.geometry
    steps = {"frame check": [], "crop + resize": [], "normalise": [], "post": []}
    for frame, state, maps in zip(frames, states, outputs):
        start = time.perf_counter()
        rgb = as_rgb_frame(frame)
        steps["frame check"].append(time.perf_counter() - start)
        start = time.perf_counter()
        crop, resize_factor = sample_target(
            rgb, state, geometry.search_factor, geometry.search_size
        )
        steps["crop + resize"].append(time.perf_counter() - start)
        start = time.perf_counter()
        normalize(crop)[None]
        steps["normalise"].append(time.perf_counter() - start)
        start = time.perf_counter()
        box, _ = postprocess.decode_box(
            tracker.window * maps["score_map"][0, :, :, 0],
            maps["size_map"][0],
            maps["offset_map"][0],
        )
        box = postprocess.map_box_back(box, state, geometry.search_size, resize_factor)
        postprocess.clip_box(box, *rgb.shape[:2])
        steps["post"].append(time.perf_counter() - start)
    return steps


def measure(args):
    sequence = Sequence.from_otb_folder(os.path.join(args.sequences, args.sequence))
    count = min(len(sequence), args.frames + 1) if args.frames else len(sequence)
    frames = [sequence.frame(i) for i in range(count)]
    keras.utils.set_random_seed(args.seed)
    tracker = Tracker.from_preset(
        args.preset, load_weights=False, jit_compile=args.jit_compile
    )
    timed = RecordingEngine(tracker.engine)
    tracker.engine = timed
    tracker.initialize(frames[0], sequence.init_box)
    states, totals = [], []
    for frame in frames[1:]:
        states.append(tracker.box)
        start = time.perf_counter()
        tracker.track(frame)
        totals.append(time.perf_counter() - start)
    tracker.engine = timed.engine
    keep = slice(args.warmup, None)
    steps = time_steps(frames[1:][keep], states[keep], timed.outputs[keep], tracker)
    total = np.array(totals[keep])
    model = np.array(timed.times[keep])
    rows = {
        "`track()` total": total,
        "model call (engine)": model,
        "overhead (total - model)": total - model,
        **{f"  {name}": np.array(values) for name, values in steps.items()},
    }
    return sequence, frames[0].shape, tracker.engine, rows, len(total)


def to_markdown(args, sequence, shape, engine, rows, count):
    ms = {name: values * 1e3 for name, values in rows.items()}
    total_median = float(np.median(ms["`track()` total"]))
    overhead_share = float(
        np.median(ms["overhead (total - model)"] / ms["`track()` total"])
    )
    command = (
        f"python benchmarks/tracker_overhead.py --preset {args.preset} "
        f"--sequence {args.sequence} --warmup {args.warmup}"
        f"{f' --frames {args.frames}' if args.frames else ''}"
        f"{' --jit-compile' if args.jit_compile else ''}"
    )
    lines = [
        f"# Tracker overhead per frame ({args.preset}, Keras engine, batch 1)",
        "",
        f"Command: `{command}`",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} "
        f"CPUs, TensorFlow {tf.__version__}, XLA {'on' if args.jit_compile else 'off'}."
        " Random weights.",
        f"Sequence: {sequence.name} ({shape[1]}x{shape[0]} frames), {count} frames "
        f"timed after {args.warmup} warm-up frames; search {engine.search_size} px, "
        f"template {engine.template_size} px, feature map {engine.feature_size}².",
        "",
        "| step | median ms | p90 ms |",
        "|---|---|---|",
    ]
    for name, values in ms.items():
        lines.append(
            f"| {name} | {np.median(values):.3f} | {np.percentile(values, 90):.3f} |"
        )
    lines += [
        "",
        f"Overhead share of a frame (median of per-frame ratios): "
        f"{100 * overhead_share:.2f} %; tracking speed {1e3 / total_median:.1f} fps.",
        "The indented rows replay each overhead step alone on the same frames and "
        "states; `post` is Hann window, decoding, map-back and clipping.",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="res128")
    parser.add_argument("--sequences", default=DEFAULT_SEQUENCES)
    parser.add_argument("--sequence", default="wakeboard7")
    parser.add_argument(
        "--frames", type=int, default=0, help="frames to track (0: all)"
    )
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument("--seed", type=int, default=0, help="random weights' seed")
    parser.add_argument("--output", default="benchmarks/results/tracker_overhead.md")
    args = parser.parse_args()
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    sequence, shape, engine, rows, count = measure(args)
    if count < 1:
        parser.error(f"no frames left to time after {args.warmup} warm-up frames")
    table = to_markdown(args, sequence, shape, engine, rows, count)
    print(table)
    write_text(args.output, table)


if __name__ == "__main__":
    main()
