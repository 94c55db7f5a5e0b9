"""Timed closed-loop tracking: each engine alone in a fresh process, in rounds.

Runtimes that share a process compete: ONNX Runtime's and OpenMP's workers
spin while they wait for work, and slowed TensorFlow's calls in the same
process by up to 2x. So every engine is timed in a process of its own that
opens it, warms it up and tracks every sequence with `Tracker`; nothing else of
the bench runs meanwhile. A round times every engine once, in reversed order
every other round, after a process that measures the machine's matrix-multiply
rates (`machine_speed`), from which each engine's floor in that round follows:
the model's multiply-accumulates at the round's int8 rate for engines whose
products are int8, at its float32 rate for the others.
"""

import multiprocessing
import os
import time
from queue import Empty

import numpy as np

from keras_loretrack.benchmarking.engine_table import ENGINES
from keras_loretrack.benchmarking.engines import (
    TimedEngine,
    configure_threads,
    open_engine,
)

WARMUP_CALLS = 3
# Quantisations whose matrix products run in int8.
INT8_QUANTIZATIONS = ("int8", "int8-mixed", "dynamic")


def floor_kind(engine):
    """ "int8" if `engine`'s matrix products run in int8, else "fp32"."""
    return "int8" if ENGINES[engine][1] in INT8_QUANTIZATIONS else "fp32"


def floor_ms(probe, kind, gmacs):
    """The least model time (ms) at a round's probed rate; None without it.

    Args:
        probe: dict. A round's `_probe_child` result.
        kind: str. "int8" or "fp32" (see `floor_kind`).
        gmacs: float. The model's multiply-accumulates, in billions.
    """
    if kind == "int8":
        rate = probe.get("int8_gmacs")
        return None if rate is None else gmacs / rate * 1e3
    return 2 * gmacs / probe["fp32_gflops"] * 1e3


def percentiles(seconds):
    """(median, p90) of durations in seconds, in ms."""
    ms = np.asarray(seconds, dtype=np.float64) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 90))


def track_alone(engine, sequences, max_frames=None):
    """Tracks every sequence with one engine after `WARMUP_CALLS` warm-up steps.

    Frames are decoded before a sequence is tracked, so only `Tracker.track`
    is timed.

    Returns:
        dict with "boxes" {sequence: (N, 4) list, the first the initial box},
        the median and p90 ms of the engine call ("model_*") and of
        `Tracker.track` ("step_*"), and the number of "frames" timed.
    """
    from keras_loretrack.tracking import Tracker

    timed = TimedEngine(engine)
    tracker = Tracker(timed)
    boxes, steps, calls = {}, [], []
    for index, sequence in enumerate(sequences):
        count = len(sequence) if max_frames is None else min(len(sequence), max_frames)
        frames = [sequence.frame(i) for i in range(count)]
        if index == 0:
            for _ in range(WARMUP_CALLS):
                tracker.initialize(frames[0], sequence.init_box)
                tracker.track(frames[min(1, count - 1)])
        tracked = [tracker.initialize(frames[0], sequence.init_box)["box"]]
        timed.times.clear()
        for frame in frames[1:]:
            began = time.perf_counter()
            tracked.append(tracker.track(frame)["box"])
            steps.append(time.perf_counter() - began)
        calls.extend(timed.times)
        boxes[sequence.name] = np.asarray(tracked, dtype=np.float64).tolist()
    model_median, model_p90 = percentiles(calls)
    step_median, step_p90 = percentiles(steps)
    return {
        "boxes": boxes,
        "model_median_ms": model_median,
        "model_p90_ms": model_p90,
        "step_median_ms": step_median,
        "step_p90_ms": step_p90,
        "frames": len(steps),
    }


def _timing_child(spec, threads, sequences_source, max_frames, queue):
    from keras_loretrack.export.calibration import calibration_sequences

    configure_threads(threads)
    sequences = calibration_sequences(sequences_source, label="--sequences folder")
    result = track_alone(open_engine(spec, threads), sequences, max_frames)
    queue.put({**result, "pid": os.getpid()})


def _probe_child(shapes, threads, queue):
    from keras_loretrack.benchmarking.machine_speed import (
        int8_matmul_gmacs,
        matmul_gflops,
    )

    configure_threads(threads)
    probe = {"pid": os.getpid(), "fp32_gflops": matmul_gflops(threads)}
    if shapes is not None:
        probe["int8_gmacs"] = int8_matmul_gmacs(shapes, threads)
    queue.put(probe)


def in_fresh_process(target, args, what):
    """Runs `target(*args, queue)` in a spawned process; returns what it put."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = None
    # Read before joining: a child blocks on exit until its queue is drained.
    while result is None and (process.is_alive() or not queue.empty()):
        try:
            result = queue.get(timeout=1.0)
        except Empty:
            pass
    process.join()
    if process.exitcode != 0 or result is None:
        raise RuntimeError(
            f"{what} failed in its process (exit code {process.exitcode})"
        )
    return result


def round_order(engines, index):
    """The engines' order in round `index`: as given, reversed every other round."""
    return list(engines) if index % 2 == 0 else list(reversed(engines))


def measure_round(index, specs, settings, shapes, kept, save):
    """Probes the machine and times every engine alone, each in its own process.

    Args:
        index: int. The round (0-based), which sets the engines' order.
        specs: dict engine → `EngineSpec`.
        settings: `BenchSettings` (threads, sequences, max_frames).
        shapes: list of (M, K, N) for the int8 probe, or None (no ONNX Runtime).
        kept: dict. This round's results so far: {"probe": ..., "engines":
            {engine: `track_alone` result with "pid"}}; filled in place.
        save: callable. Called after each measurement, so a run resumes.

    Returns:
        `kept`.
    """
    kept.setdefault("engines", {})
    if "probe" not in kept:
        kept["probe"] = in_fresh_process(
            _probe_child, (shapes, settings.threads), "the machine-rate probe"
        )
        save()
    for name in round_order(specs, index):
        if name in kept["engines"]:
            continue
        kept["engines"][name] = in_fresh_process(
            _timing_child,
            (specs[name], settings.threads, settings.sequences, settings.max_frames),
            f"timing {name}",
        )
        row = kept["engines"][name]
        print(
            f"  round {index + 1}: {name} model {row['model_median_ms']:.1f} ms, "
            f"step {row['step_median_ms']:.1f} ms"
        )
        save()
    return kept
