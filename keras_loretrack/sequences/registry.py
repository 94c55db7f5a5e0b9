"""Benchmark datasets by name: the `Dataset` a reader returns, and the registry.

`get_dataset(name, root, split)` returns a `Dataset`: the sequence names are
known at once, each `Sequence` is read (annotation files parsed, frame paths
listed) only when asked for. The readers of `keras_loretrack.sequences.benchmarks`
register themselves here when `keras_loretrack.sequences` is imported.

Example:
```python
dataset = get_dataset("lasot", "/data/LaSOTBenchmark")      # test split
print(len(dataset), dataset.sequence_names[:3])
sequence = dataset["airplane-1"]
frame = sequence.frame(0)
```
"""

import collections
import dataclasses
import os

import numpy as np


class Dataset:
    """A benchmark split whose `Sequence`s are built on access.

    Args:
        name: str. Registry name of the dataset (e.g. "lasot").
        root: str. The dataset root folder.
        split: str or None. The split read (None for single-split datasets).
        sequence_names: list of str. The sequences, in the dataset's order.
        loader: callable `name -> Sequence`.
    """

    def __init__(self, name, root, split, sequence_names, loader):
        self.name = name
        self.root = os.fspath(root)
        self.split = split
        self.sequence_names = list(sequence_names)
        self._loader = loader
        duplicates = [
            n for n, c in collections.Counter(self.sequence_names).items() if c > 1
        ]
        if duplicates:
            raise ValueError(
                f"Dataset {name!r} lists sequences more than once: {duplicates[:5]}"
            )

    @property
    def result_name(self):
        """The folder name results are filed under (`<name>` or `<name>_<split>`)."""
        return self.name if self.split is None else f"{self.name}_{self.split.lower()}"

    def __len__(self):
        return len(self.sequence_names)

    def __repr__(self):
        return (
            f"Dataset({self.name!r}, split={self.split!r}, "
            f"{len(self)} sequences, root={self.root!r})"
        )

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self._loader(self.sequence_names[key])
        if key not in self.sequence_names:
            raise KeyError(
                f"Dataset {self.name!r} has no sequence {key!r} "
                f"({len(self)} sequences, e.g. {self.sequence_names[:3]})"
            )
        return self._loader(key)

    def __iter__(self):
        for name in self.sequence_names:
            yield self._loader(name)

    def select(self, names):
        """The same dataset restricted to `names` (kept in the given order).

        Raises:
            ValueError: a name is not in the dataset.
        """
        names = list(names)
        unknown = [n for n in names if n not in self.sequence_names]
        if unknown:
            raise ValueError(
                f"Unknown sequences for dataset {self.name!r}: {unknown[:5]}; "
                f"it has {len(self)} sequences, e.g. {self.sequence_names[:3]}"
            )
        return Dataset(self.name, self.root, self.split, names, self._loader)


@dataclasses.dataclass(frozen=True)
class _Reader:
    function: object
    splits: tuple
    default_split: str | None
    description: str


_READERS = {}


def register_dataset(name, splits=(None,), default_split=None, description=""):
    """Registers a reader `function(root, split) -> Dataset` under `name`.

    Args:
        name: str. Registry key.
        splits: tuple of str (or (None,)). The accepted splits.
        default_split: str or None. The split read when none is given.
        description: str. One line for `list_datasets`.
    """

    def decorator(function):
        if name in _READERS:
            raise ValueError(f"Dataset {name!r} is already registered")
        _READERS[name] = _Reader(function, tuple(splits), default_split, description)
        return function

    return decorator


def list_datasets():
    """Registered dataset names with their splits and a description."""
    return {
        name: {
            "splits": [s for s in reader.splits if s is not None],
            "default_split": reader.default_split,
            "description": reader.description,
        }
        for name, reader in sorted(_READERS.items())
    }


def get_dataset(name, root, split=None):
    """Reads a benchmark dataset.

    Args:
        name: str. A registered name (see `list_datasets()`).
        root: str. The dataset root folder.
        split: str or None. The split; None reads the default split.

    Returns:
        `Dataset`.

    Raises:
        ValueError: unknown name or split.
        FileNotFoundError: the root or a listing file is missing.
    """
    if name not in _READERS:
        raise ValueError(
            f"Unknown dataset {name!r}; expected one of {sorted(_READERS)}"
        )
    reader = _READERS[name]
    if split is None:
        split = reader.default_split
    canonical = {s.lower(): s for s in reader.splits if s is not None}
    if split is not None:
        if split.lower() not in canonical:
            raise ValueError(
                f"Dataset {name!r} has no split {split!r}; expected one of "
                f"{sorted(canonical.values()) or [None]}"
            )
        split = canonical[split.lower()]
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"Dataset root for {name!r} not found: {root}")
    return reader.function(root, split)
