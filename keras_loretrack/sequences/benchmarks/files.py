"""What the benchmark readers share: checked paths, listing and label files,
numbered frame names and the sequence tables bundled in `sequences/tables/`.

Every error names the file, and the line where there is one.
"""

import functools
import importlib.resources
import json
import os
import re

import numpy as np

_LABEL_SEPARATORS = re.compile(r"[,\s]+")


def require_file(path, what):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def require_dir(path, what):
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def read_names(path):
    """One name per non-empty line."""
    require_file(path, "Sequence list")
    with open(path, encoding="utf-8") as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError(f"Sequence list {path} is empty")
    return names


def read_labels(path, count):
    """Integer labels separated by commas, spaces or newlines; `count` of them."""
    require_file(path, "Label file")
    values = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            text = line.strip()
            if not text:
                continue
            for field in _LABEL_SEPARATORS.split(text):
                try:
                    values.append(int(float(field)))
                except ValueError:
                    raise ValueError(
                        f"{path}, line {number}: expected integer labels, got {field!r}"
                    ) from None
    if len(values) != count:
        raise ValueError(
            f"{path}: expected {count} labels (one per frame), got {len(values)}"
        )
    return np.asarray(values, dtype=np.int64)


def numbered_frames(folder, first, last, digits, ext="jpg"):
    """Paths `folder/<first>.<ext>` .. `folder/<last>.<ext>`, zero-padded."""
    return [
        os.path.join(folder, f"{index:0{digits}d}.{ext}")
        for index in range(first, last + 1)
    ]


def check_rows(ground_truth, count, path):
    if len(ground_truth) != count:
        raise ValueError(
            f"{path}: expected {count} boxes (one per frame), got {len(ground_truth)}"
        )


def subfolders(root):
    """Visible subfolder names of `root`, sorted."""
    return sorted(
        d
        for d in os.listdir(root)
        if not d.startswith(".") and os.path.isdir(os.path.join(root, d))
    )


@functools.cache
def read_table(name):
    """The bundled sequence table `sequences/tables/<name>.json` (name -> entry)."""
    tables = importlib.resources.files("keras_loretrack.sequences").joinpath("tables")
    return json.loads(tables.joinpath(f"{name}.json").read_text(encoding="utf-8"))
