"""Timed closed-loop tracking: every engine over the same frames, round-robin.

All engines run in one process, in chunks of `CHUNK` frames each, so that the
load of other processes falls on all of them alike. Each runtime waits for work
as it does by default (ONNX Runtime's and OpenMP's workers spin), with a pause
of `SETTLE_SECONDS` after each chunk that lets spinning workers go idle before
the next engine runs.
"""

import time

import numpy as np

from keras_loretrack.benchmarking.engines import TimedEngine

CHUNK = 8
# Seconds between two engines' chunks. ONNX Runtime's spinning workers slowed a
# TFLite call made right after an ONNX Runtime call by 36 ms (res128); 0.1 s
# later, not at all.
SETTLE_SECONDS = 0.2
WARMUP_CALLS = 3


def percentiles(seconds):
    """(median, p90) of durations in seconds, in ms."""
    ms = np.asarray(seconds, dtype=np.float64) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 90))


def warm_up(engines, pair, calls=WARMUP_CALLS):
    """Runs every engine `calls` times on one crop pair."""
    for engine in engines.values():
        for _ in range(calls):
            engine(pair["template"], pair["search"])


def track_round_robin(engines, sequences, max_frames=None):
    """Tracks every sequence with every engine, in chunks of `CHUNK` frames each.

    Args:
        engines: dict name → engine.
        sequences: list of `Sequence`.
        max_frames: int or None. Track at most this many frames per sequence.

    Returns:
        dict engine → {"boxes": {seq: (N, 4)}, "model": [s], "step": [s]}:
        the boxes of every frame (the first is the initial box), and the
        duration of every engine call and of every `Tracker.track`.
    """
    from tqdm import tqdm

    from keras_loretrack.tracking import Tracker

    results = {n: {"boxes": {}, "model": [], "step": []} for n in engines}
    for sequence in sequences:
        count = len(sequence) if max_frames is None else min(len(sequence), max_frames)
        frames = [sequence.frame(i) for i in range(count)]
        trackers = {n: Tracker(TimedEngine(e)) for n, e in engines.items()}
        boxes = {n: [] for n in engines}
        for name, tracker in trackers.items():
            boxes[name].append(tracker.initialize(frames[0], sequence.init_box)["box"])
            tracker.engine.times.clear()
        bar = tqdm(total=(count - 1) * len(engines), desc=sequence.name, leave=False)
        for start in range(1, count, CHUNK):
            for name, tracker in trackers.items():
                for frame in frames[start : start + CHUNK]:
                    began = time.perf_counter()
                    out = tracker.track(frame)
                    results[name]["step"].append(time.perf_counter() - began)
                    boxes[name].append(out["box"])
                    bar.update(1)
                time.sleep(SETTLE_SECONDS)
        bar.close()
        for name, tracker in trackers.items():
            results[name]["model"].extend(tracker.engine.times)
            results[name]["boxes"][sequence.name] = np.array(boxes[name])
    return results
