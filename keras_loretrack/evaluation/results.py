"""Result files of one-pass evaluation, in the pytracking and GOT-10k layouts.

pytracking layout (every dataset but GOT-10k), under
`<results>/<tracker>/<dataset>/`, where `<dataset>` is the dataset's result name
(`<name>_<split>`, or `<name>` for datasets without splits):

- `<seq>.txt`: one `x,y,w,h` line per frame, the first being the initial box;
- `<seq>_time.txt`: seconds spent in `initialize` / `track`, one per frame;
- `<seq>_score.txt`: the tracker's score per frame (`nan` for frame 0).

GOT-10k submission layout, under the same folder (zip its content to submit):

- `<seq>/<seq>_001.txt`: boxes, as above;
- `<seq>/<seq>_time.txt`: seconds per frame.

Every file is written atomically (a temporary file renamed into place) and the
boxes file last, so its presence marks a finished sequence; temporary files
left by a killed run are ignored.
"""

import os
import typing

import numpy as np

from keras_loretrack.atomic_files import atomic_output
from keras_loretrack.sequences.annotations import read_boxes, write_boxes

LAYOUTS = ("pytracking", "got10k")


class ResultPaths(typing.NamedTuple):
    """The files of one sequence's result (`scores` is None where not kept)."""

    boxes: str
    times: str
    scores: str | None


def layout_for(dataset_name):
    """The layout results of `dataset_name` use ("got10k" for GOT-10k splits)."""
    if dataset_name == "got10k" or dataset_name.startswith("got10k_"):
        return "got10k"
    return "pytracking"


def tracker_dir(results_dir, tracker_name, dataset_name):
    """`<results>/<tracker>/<dataset>`: where a tracker's results on a dataset go."""
    for label, value in (("tracker", tracker_name), ("dataset", dataset_name)):
        _check_name(value, label)
    return os.path.join(os.fspath(results_dir), tracker_name, dataset_name)


def _check_name(name, label):
    if not name or name in (".", "..") or "/" in name or os.sep in name:
        raise ValueError(f"A {label} name must be a plain file name, got {name!r}")


def result_paths(directory, sequence_name, layout="pytracking"):
    """The result files of one sequence in `directory` (see module docstring).

    Args:
        directory: str. A `tracker_dir`.
        sequence_name: str.
        layout: str. "pytracking" or "got10k".
    """
    _check_name(sequence_name, "sequence")
    directory = os.fspath(directory)
    if layout == "pytracking":
        base = os.path.join(directory, sequence_name)
        return ResultPaths(f"{base}.txt", f"{base}_time.txt", f"{base}_score.txt")
    if layout == "got10k":
        base = os.path.join(directory, sequence_name, sequence_name)
        return ResultPaths(f"{base}_001.txt", f"{base}_time.txt", None)
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def has_result(directory, sequence_name, layout="pytracking", num_frames=None):
    """Whether the sequence has a finished result.

    With `num_frames`, the boxes file must also hold at least that many rows:
    a result cut short (a `--max-frames` run, a file truncated by hand) is not
    taken for a complete one, where pytracking only checks that the file exists.
    """
    path = result_paths(directory, sequence_name, layout).boxes
    if not os.path.isfile(path):
        return False
    if num_frames is None:
        return True
    return result_rows(path) >= num_frames


def result_rows(path):
    """Non-empty lines of a boxes file."""
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def _write_column(path, values, fmt):
    with atomic_output(path) as tmp:
        np.savetxt(tmp, np.asarray(values, dtype=np.float64).reshape(-1), fmt=fmt)


def _read_column(path, count):
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=1)
    except ValueError as error:
        raise ValueError(f"Malformed result file {path}: {error}") from None
    if values.ndim != 1 or len(values) != count:
        raise ValueError(
            f"{path}: expected {count} values (one per frame), got shape {values.shape}"
        )
    return values


def write_result(
    directory, sequence_name, boxes, times=None, scores=None, layout="pytracking"
):
    """Writes one sequence's result files atomically, boxes last.

    Args:
        directory: str. A `tracker_dir`.
        sequence_name: str.
        boxes: float array (N, 4). x, y, w, h per frame.
        times: float array (N,) or None. Seconds per frame.
        scores: float array (N,) or None. Ignored by the GOT-10k layout.
        layout: str. "pytracking" or "got10k".

    Returns:
        `ResultPaths`.
    """
    paths = result_paths(directory, sequence_name, layout)
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
        raise ValueError(
            f"{sequence_name}: boxes must have shape (N, 4) with N > 0, "
            f"got {boxes.shape}"
        )
    for label, values in (("times", times), ("scores", scores)):
        if values is not None and np.shape(values) != (len(boxes),):
            raise ValueError(
                f"{sequence_name}: {label} must have shape ({len(boxes)},), "
                f"got {np.shape(values)}"
            )
    if times is not None:
        _write_column(paths.times, times, "%.8f")
    if scores is not None and paths.scores is not None:
        _write_column(paths.scores, scores, "%.6f")
    write_boxes(paths.boxes, boxes)
    return paths


def read_result(directory, sequence_name, layout="pytracking"):
    """Reads one sequence's result.

    Returns:
        dict with "boxes" float64 (N, 4), "times" (N,) or None and "scores"
        (N,) or None (None where the file is absent).

    Raises:
        FileNotFoundError: no boxes file.
        ValueError: a malformed file, naming it.
    """
    paths = result_paths(directory, sequence_name, layout)
    if not os.path.isfile(paths.boxes):
        raise FileNotFoundError(f"Result file not found: {paths.boxes}")
    boxes = read_boxes(paths.boxes)
    result = {"boxes": boxes, "times": None, "scores": None}
    for key in ("times", "scores"):
        path = getattr(paths, key)
        if path is not None and os.path.isfile(path):
            result[key] = _read_column(path, len(boxes))
    return result
