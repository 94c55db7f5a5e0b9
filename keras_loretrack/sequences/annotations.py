"""Reading and writing box files (one `x,y,w,h` row per frame)."""

import os
import re

import numpy as np

from keras_loretrack.atomic_files import atomic_output

_SEPARATORS = re.compile(r"[,\t ]+")


def read_boxes(path, columns=4, allow_nan=True):
    """Reads a box file separated by commas, tabs or spaces.

    Args:
        path: str. The file.
        columns: int. Values expected on every line.
        allow_nan: bool. Whether `NaN` values (absent target) are accepted.

    Returns:
        float64 array (N, columns).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a line is malformed; the message names the file and line.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Annotation file not found: {path}")
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            text = line.strip()
            if not text:
                continue
            fields = _SEPARATORS.split(text)
            try:
                values = [float(v) for v in fields]
            except ValueError:
                raise ValueError(
                    f"{path}, line {number}: expected {columns} numbers, got {text!r}"
                ) from None
            if len(values) != columns:
                raise ValueError(
                    f"{path}, line {number}: expected {columns} values, "
                    f"got {len(values)} ({text!r})"
                )
            if not allow_nan and np.isnan(values).any():
                raise ValueError(f"{path}, line {number}: NaN is not allowed here")
            rows.append(values)
    if not rows:
        raise ValueError(f"Annotation file {path} holds no boxes")
    return np.asarray(rows, dtype=np.float64)


def write_boxes(path, boxes, delimiter=",", fmt="%.4f"):
    """Writes boxes atomically: a temporary file renamed into place."""
    with atomic_output(path) as tmp:
        np.savetxt(
            tmp, np.asarray(boxes, dtype=np.float64), delimiter=delimiter, fmt=fmt
        )
