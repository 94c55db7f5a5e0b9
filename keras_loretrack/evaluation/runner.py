"""One-pass evaluation: run a tracker over sequences and write result files.

The tracker contract is `tracker.initialize(frame, box)` on frame 0 with the
ground-truth box, then `tracker.track(frame) -> {"box": (x, y, w, h),
"score": float}` on frames 1..N-1. Each call is timed (frame reading is not).
Sequences whose boxes file exists are skipped, so a killed run resumes where
it stopped; `shard=(i, n)` takes every n-th sequence of the name-sorted list
from the i-th, so n machines split a benchmark without overlap; `workers > 1`
tracks sequences in parallel processes (spawn context), each building its own
tracker from `tracker_factory`.

Example:
```python
factory = functools.partial(Tracker.from_preset, "res128")
run_evaluation(factory, get_dataset("otb", root), "results", "res128", "otb")
```
"""

import multiprocessing
import pickle
import time

import numpy as np
from tqdm import tqdm

from keras_loretrack.evaluation.results import (
    has_result,
    layout_for,
    tracker_dir,
    write_result,
)

_WORKER_TRACKER = None


def parse_shard(text):
    """Parses `"i/n"` (0 <= i < n) into `(i, n)`."""
    parts = str(text).split("/")
    try:
        shard = tuple(int(p) for p in parts)
    except ValueError:
        shard = ()
    if len(shard) != 2:
        raise ValueError(f"A shard is 'i/n' with integers 0 <= i < n, got {text!r}")
    return check_shard(shard)


def check_shard(shard):
    """Validates a shard `(i, n)`: integers with 0 <= i < n."""
    try:
        index, count = (int(v) for v in shard)
    except (TypeError, ValueError):
        raise ValueError(f"A shard is a pair (i, n), got {shard!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"A shard (i, n) needs 0 <= i < n, got {shard!r}")
    return index, count


def shard_sequences(sequences, shard=(0, 1)):
    """The sequences of one shard: every n-th of the name-sorted list from i.

    Args:
        sequences: iterable of `Sequence`.
        shard: (i, n). The shard index and count.

    Returns:
        list of `Sequence`, sorted by name. The n shards partition the input.
    """
    index, count = check_shard(shard)
    ordered = sorted(sequences, key=lambda s: s.name)
    names = [s.name for s in ordered]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Sequence names must be unique, got repeats {duplicates[:5]}")
    return ordered[index::count]


def _check_box(box, name, frame):
    box = np.asarray(box, dtype=np.float64).reshape(-1)
    if box.shape != (4,) or not np.isfinite(box).all():
        raise ValueError(
            f"Tracker returned an invalid box on sequence {name!r}, frame {frame}: "
            f"expected 4 finite numbers x, y, w, h, got {box.tolist()}"
        )
    return box


def track_sequence(tracker, sequence, on_frame=None):
    """Runs one pass of `tracker` over `sequence`, timing each call.

    Args:
        tracker: object with `initialize(frame, box)` and `track(frame)`.
        sequence: `Sequence`. Its first ground-truth box initialises.
        on_frame: callable `seconds -> None` or None. Called after every frame.

    Returns:
        dict of "boxes" float64 (N, 4) (the first is the initial box),
        "times" (N,) seconds and "scores" (N,) (NaN for frame 0).
    """
    count = len(sequence)
    boxes = np.empty((count, 4), dtype=np.float64)
    times = np.empty(count, dtype=np.float64)
    scores = np.full(count, np.nan, dtype=np.float64)
    boxes[0] = np.asarray(sequence.init_box, dtype=np.float64)
    if not np.isfinite(boxes[0]).all():
        raise ValueError(
            f"Sequence {sequence.name!r} has no initial box (its first "
            f"ground-truth row is {boxes[0].tolist()})"
        )
    for index in range(count):
        frame = sequence.frame(index)
        start = time.perf_counter()
        try:
            if index == 0:
                tracker.initialize(frame, boxes[0].copy())
            else:
                out = tracker.track(frame)
        except Exception as error:
            raise RuntimeError(
                f"Tracking failed on sequence {sequence.name!r}, frame {index}: "
                f"{type(error).__name__}: {error}"
            ) from error
        times[index] = time.perf_counter() - start
        if index > 0:
            boxes[index] = _check_box(out["box"], sequence.name, index)
            scores[index] = float(out.get("score", np.nan))
        if on_frame is not None:
            on_frame(times[index])
    return {"boxes": boxes, "times": times, "scores": scores}


def _evaluate_sequence(tracker, sequence, directory, layout, on_frame=None):
    result = track_sequence(tracker, sequence, on_frame)
    write_result(directory, sequence.name, layout=layout, **result)
    return sequence.name, len(sequence), float(np.sum(result["times"]))


def _init_worker(tracker_factory):
    global _WORKER_TRACKER
    _WORKER_TRACKER = tracker_factory()


def _evaluate_in_worker(task):
    sequence, directory, layout = task
    return _evaluate_sequence(_WORKER_TRACKER, sequence, directory, layout)


def run_evaluation(
    tracker_factory,
    sequences,
    results_dir,
    tracker_name,
    dataset_name,
    workers=1,
    shard=(0, 1),
    progress=True,
    layout=None,
):
    """Tracks every unfinished sequence of a shard and writes its result files.

    Args:
        tracker_factory: callable `() -> tracker`. Called once per worker
            (only if a sequence is left to track); must be picklable when
            `workers > 1` (e.g. `functools.partial` of a top-level function).
        sequences: iterable of `Sequence` (a `Dataset` works).
        results_dir: str. Results root.
        tracker_name: str. Results go to
            `<results_dir>/<tracker>/<dataset_name>/`.
        dataset_name: str. The dataset folder name; "got10k*" selects the
            GOT-10k submission layout.
        workers: int. Parallel processes (1: in this process).
        shard: (i, n). Track only shard i of n (see `shard_sequences`).
        progress: bool. Show a progress bar with the tracking speed.
        layout: str or None. "pytracking" or "got10k"; None: by dataset name.

    Returns:
        dict with "directory", "tracked" and "skipped" (sequence names),
        "incomplete" (names whose earlier result had fewer rows than frames and
        was tracked again), "frames" (frames tracked) and "seconds" (time in the
        tracker).
    """
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    workers = int(workers)
    layout = layout or layout_for(dataset_name)
    directory = tracker_dir(results_dir, tracker_name, dataset_name)
    selected = shard_sequences(sequences, shard)
    summary = {
        "directory": directory,
        "tracked": [],
        "skipped": [],
        "incomplete": [],
        "frames": 0,
        "seconds": 0.0,
    }
    pending = []
    for sequence in selected:
        if has_result(directory, sequence.name, layout, len(sequence)):
            summary["skipped"].append(sequence.name)
            continue
        if has_result(directory, sequence.name, layout):
            summary["incomplete"].append(sequence.name)
        pending.append(sequence)
    if not pending:
        return summary
    bar = tqdm(
        total=sum(len(s) for s in pending),
        unit="frame",
        desc=f"{tracker_name} on {dataset_name}",
        dynamic_ncols=True,
        disable=not progress,
    )

    def record(name, frames, seconds):
        summary["tracked"].append(name)
        summary["frames"] += frames
        summary["seconds"] += seconds
        fps = summary["frames"] / max(summary["seconds"], 1e-12)
        bar.set_postfix(seq=name, fps=f"{fps:.1f}", refresh=False)

    with bar:
        if workers == 1:
            tracker = tracker_factory()
            for sequence in pending:
                record(
                    *_evaluate_sequence(
                        tracker, sequence, directory, layout, lambda s: bar.update(1)
                    )
                )
        else:
            try:
                pickle.dumps(tracker_factory)
            except (pickle.PicklingError, AttributeError, TypeError) as error:
                raise TypeError(
                    "tracker_factory must be picklable when workers > 1 (e.g. "
                    f"functools.partial of a top-level function): {error}"
                ) from error
            # Longest first, so that no worker is left alone with a long one.
            pending.sort(key=len, reverse=True)
            tasks = [(s, directory, layout) for s in pending]
            context = multiprocessing.get_context("spawn")
            with context.Pool(
                min(workers, len(pending)),
                initializer=_init_worker,
                initargs=(tracker_factory,),
            ) as pool:
                for name, frames, seconds in pool.imap_unordered(
                    _evaluate_in_worker, tasks
                ):
                    bar.update(frames)
                    record(name, frames, seconds)
    return summary
