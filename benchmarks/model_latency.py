"""Forward latency of every preset (Keras, compiled), as a Markdown table.

    python benchmarks/model_latency.py --presets res384,res256,res128,res96 \
        --repeats 20 --output benchmarks/results/model_latency.md

Random weights (latency does not depend on them). Each preset's forward is a
`tf.function` with a fixed input signature (optionally XLA-compiled), warmed up
before timing; the table reports the median and p90 over `--repeats` calls at
batch 1, with the analytic MACs and the parameter count.
"""

import argparse
import os
import platform
import time

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from keras_loretrack import LoReTrack
from keras_loretrack.atomic_files import write_text
from keras_loretrack.models.cost import count_macs
from keras_loretrack.models.loretrack_presets import PRESETS


def time_preset(name, repeats, warmup, jit_compile):
    model = LoReTrack.from_preset(name, load_weights=False)
    rng = np.random.default_rng(0)
    inputs = {
        key: tf.constant(rng.normal(size=(1,) + tuple(t.shape[1:])).astype("float32"))
        for key, t in model.input.items()
    }
    forward = tf.function(
        lambda x: model(x, training=False)["boxes"], jit_compile=jit_compile
    )
    for _ in range(warmup):
        forward(inputs).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward(inputs).numpy()
        times.append(time.perf_counter() - start)
    times_ms = np.array(times) * 1e3
    return {
        "preset": name,
        "input": f"{model.search_size}/{model.template_size}",
        "params_m": model.count_params() / 1e6,
        "gmacs": count_macs(model) / 1e9,
        "median_ms": float(np.median(times_ms)),
        "p90_ms": float(np.percentile(times_ms, 90)),
    }


def to_markdown(rows, args):
    lines = [
        "# Forward latency per preset (Keras, TensorFlow backend, batch 1)",
        "",
        f"Command: `python benchmarks/model_latency.py --presets {args.presets} "
        f"--repeats {args.repeats}{' --jit-compile' if args.jit_compile else ''}`",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} "
        f"CPUs, TensorFlow {tf.__version__}. Random weights.",
        "",
        "| preset | search/template px | params (M) | GMACs | median ms | p90 ms "
        "| fps |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['preset']} | {r['input']} | {r['params_m']:.1f} | {r['gmacs']:.2f} "
            f"| {r['median_ms']:.1f} | {r['p90_ms']:.1f} | {1e3 / r['median_ms']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="res384,res256,res192,res128,res96")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument("--output", default="benchmarks/results/model_latency.md")
    args = parser.parse_args()
    names = args.presets.split(",")
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        parser.error(f"unknown presets {unknown}; known: {sorted(PRESETS)}")
    rows = [
        time_preset(n, args.repeats, args.warmup, args.jit_compile)
        for n in tqdm(names, desc="presets")
    ]
    table = to_markdown(rows, args)
    print(table)
    write_text(args.output, table)


if __name__ == "__main__":
    main()
