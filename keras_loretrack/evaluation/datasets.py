"""Benchmark datasets: a registry of readers that yield `Sequence`s lazily.

`get_dataset(name, root, split)` returns a `Dataset`: the sequence names are
known at once, each `Sequence` is read (annotation files parsed, frame paths
listed) only when asked for. Readers follow the release layouts of DESIGN §7
and pytracking's sequence tables (OTB-2015 special cases, UAV123 sub-sequences
sharing a folder). Missing or malformed files raise errors that name the file,
and the line where there is one.

Example:
```python
dataset = get_dataset("lasot", "/data/LaSOTBenchmark")      # test split
print(len(dataset), dataset.sequence_names[:3])
sequence = dataset["airplane-1"]
frame = sequence.frame(0)
```
"""

import collections
import configparser
import dataclasses
import os
import re

import numpy as np

from keras_loretrack.evaluation.annotations import read_boxes
from keras_loretrack.evaluation.sequence import Sequence, image_files

_LABEL_SEPARATORS = re.compile(r"[,\s]+")


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


def limit_frames(sequence, max_frames):
    """The first `max_frames` frames of `sequence` (itself if already shorter).

    Ground truth, visibility and per-frame attributes are cut alike, except a
    first-frame-only ground truth (test splits), which is kept.

    Args:
        sequence: `Sequence`.
        max_frames: int or None. The frame budget (None: no limit).
    """
    if max_frames is None or len(sequence) <= max_frames:
        return sequence
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    ground_truth = sequence.ground_truth
    visible = sequence.visible
    if len(ground_truth) > 1:
        ground_truth = ground_truth[:max_frames]
        visible = None if visible is None else visible[:max_frames]
    attributes = dict(sequence.attributes)
    for key, value in sequence.attributes.items():
        if isinstance(value, np.ndarray) and value.shape[:1] == (len(sequence),):
            attributes[key] = value[:max_frames]
    if callable(sequence.frames):
        frames, num_frames = sequence.frames, max_frames
    else:
        frames, num_frames = sequence.frames[:max_frames], None
    return dataclasses.replace(
        sequence,
        frames=frames,
        num_frames=num_frames,
        ground_truth=ground_truth,
        visible=visible,
        attributes=attributes,
    )


# === File helpers ===


def _require_file(path, what):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def _require_dir(path, what):
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def _read_names(path):
    """One name per non-empty line."""
    _require_file(path, "Sequence list")
    with open(path, encoding="utf-8") as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError(f"Sequence list {path} is empty")
    return names


def _read_labels(path, count):
    """Integer labels separated by commas, spaces or newlines; `count` of them."""
    _require_file(path, "Label file")
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


def _numbered_frames(folder, first, last, digits, ext="jpg"):
    return [
        os.path.join(folder, f"{index:0{digits}d}.{ext}")
        for index in range(first, last + 1)
    ]


def _check_rows(ground_truth, count, path):
    if len(ground_truth) != count:
        raise ValueError(
            f"{path}: expected {count} boxes (one per frame), got {len(ground_truth)}"
        )


def _subfolders(root):
    return sorted(
        d
        for d in os.listdir(root)
        if not d.startswith(".") and os.path.isdir(os.path.join(root, d))
    )


# === LaSOT and its extension ===


def _lasot_sequence(root, name, dataset):
    category, dash, number = name.rpartition("-")
    if not dash or not category or not number.isdigit():
        raise ValueError(f"LaSOT sequence names are '<category>-<n>', got {name!r}")
    folder = os.path.join(root, category, name)
    _require_dir(folder, f"LaSOT sequence folder of {name!r}")
    gt_path = os.path.join(folder, "groundtruth.txt")
    ground_truth = read_boxes(gt_path)
    count = len(ground_truth)
    occluded = _read_labels(os.path.join(folder, "full_occlusion.txt"), count)
    out_of_view = _read_labels(os.path.join(folder, "out_of_view.txt"), count)
    return Sequence(
        name=name,
        frames=_numbered_frames(os.path.join(folder, "img"), 1, count, 8),
        ground_truth=ground_truth,
        visible=(occluded == 0) & (out_of_view == 0),
        dataset=dataset,
        attributes={"category": category},
    )


def _lasot_folders(root):
    """Every `<category>/<category>-<n>` folder holding a groundtruth.txt."""
    names = []
    for category in _subfolders(root):
        for name in _subfolders(os.path.join(root, category)):
            if name.rpartition("-")[0] == category and os.path.isfile(
                os.path.join(root, category, name, "groundtruth.txt")
            ):
                names.append(name)
    if not names:
        raise FileNotFoundError(
            f"No '<category>/<category>-<n>/groundtruth.txt' sequences under {root}"
        )
    return names


@register_dataset(
    "lasot",
    splits=("test", "train", "all"),
    default_split="test",
    description="LaSOT: <cat>/<cat>-<n>/img/%08d.jpg; test split from testing_set.txt",
)
def _read_lasot(root, split):
    if split == "all":
        names = _lasot_folders(root)
    else:
        list_file = "testing_set.txt" if split == "test" else "training_set.txt"
        names = _read_names(os.path.join(root, list_file))
    return Dataset(
        "lasot", root, split, names, lambda n: _lasot_sequence(root, n, "lasot")
    )


@register_dataset(
    "lasot_extension_subset",
    description="LaSOT extension (150 sequences), LaSOT's per-sequence layout",
)
def _read_lasot_extension(root, split):
    return Dataset(
        "lasot_extension_subset",
        root,
        split,
        _lasot_folders(root),
        lambda n: _lasot_sequence(root, n, "lasot_extension_subset"),
    )


# === GOT-10k ===


def _got10k_resolution(path):
    """(width, height) from meta_info.ini, or None when absent."""
    if not os.path.isfile(path):
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as error:
        raise ValueError(f"Malformed meta info file {path}: {error}") from None
    for section in parser.sections():
        if parser.has_option(section, "resolution"):
            text = parser.get(section, "resolution")
            numbers = re.findall(r"\d+", text)
            if len(numbers) != 2:
                raise ValueError(
                    f"{path}: resolution must be '(width, height)', got {text!r}"
                )
            return int(numbers[0]), int(numbers[1])
    return None


def _got10k_sequence(root, split, name):
    folder = os.path.join(root, split, name)
    _require_dir(folder, f"GOT-10k sequence folder of {name!r}")
    gt_path = os.path.join(folder, "groundtruth.txt")
    ground_truth = read_boxes(gt_path)
    attributes = {}
    resolution = _got10k_resolution(os.path.join(folder, "meta_info.ini"))
    if resolution is not None:
        attributes["resolution"] = resolution
    if split == "test":
        frames = image_files(folder)
        if len(ground_truth) != 1:
            raise ValueError(
                f"{gt_path}: the GOT-10k test split annotates only the first "
                f"frame, got {len(ground_truth)} boxes"
            )
        visible = None
    else:
        count = len(ground_truth)
        frames = _numbered_frames(folder, 1, count, 8)
        absence = _read_labels(os.path.join(folder, "absence.label"), count)
        cover = _read_labels(os.path.join(folder, "cover.label"), count)
        attributes["cover"] = cover
        visible = (absence == 0) & (cover > 0)
    return Sequence(
        name=name,
        frames=frames,
        ground_truth=ground_truth,
        visible=visible,
        dataset="got10k",
        attributes=attributes,
    )


@register_dataset(
    "got10k",
    splits=("test", "val", "train"),
    default_split="test",
    description="GOT-10k: <split>/list.txt, <seq>/%08d.jpg, absence/cover labels",
)
def _read_got10k(root, split):
    names = _read_names(os.path.join(root, split, "list.txt"))
    return Dataset(
        "got10k", root, split, names, lambda n: _got10k_sequence(root, split, n)
    )


# === TrackingNet ===


def _trackingnet_sequence(root, split, name):
    gt_path = os.path.join(root, split, "anno", f"{name}.txt")
    ground_truth = read_boxes(gt_path)
    folder = os.path.join(root, split, "frames", name)
    if len(ground_truth) == 1:
        count = len(image_files(folder))
    else:
        _require_dir(folder, f"TrackingNet frame folder of {name!r}")
        count = len(ground_truth)
    return Sequence(
        name=name,
        frames=[os.path.join(folder, f"{i}.jpg") for i in range(count)],
        ground_truth=ground_truth,
        dataset="trackingnet",
    )


@register_dataset(
    "trackingnet",
    splits=("TEST",) + tuple(f"TRAIN_{k}" for k in range(12)),
    default_split="TEST",
    description="TrackingNet: <split>/anno/<vid>.txt, <split>/frames/<vid>/<i>.jpg",
)
def _read_trackingnet(root, split):
    anno_dir = _require_dir(
        os.path.join(root, split, "anno"), "TrackingNet anno folder"
    )
    names = sorted(f[:-4] for f in os.listdir(anno_dir) if f.endswith(".txt"))
    if not names:
        raise FileNotFoundError(f"No annotation files in {anno_dir}")
    return Dataset(
        "trackingnet",
        root,
        split,
        names,
        lambda n: _trackingnet_sequence(root, split, n),
    )


# === UAV123 ===


def _uav123_sequence(root, name):
    folder, first, last = UAV123_SEQUENCES[name]
    gt_path = os.path.join(root, "anno", "UAV123", f"{name}.txt")
    ground_truth = read_boxes(gt_path)
    _check_rows(ground_truth, last - first + 1, gt_path)
    image_dir = os.path.join(root, "data_seq", "UAV123", folder)
    _require_dir(image_dir, f"UAV123 frame folder of {name!r}")
    return Sequence(
        name=name,
        frames=_numbered_frames(image_dir, first, last, 6),
        ground_truth=ground_truth,
        dataset="uav123",
        attributes={"folder": folder, "first_frame": first},
    )


@register_dataset(
    "uav123",
    description="UAV123: data_seq/UAV123/<folder>/%06d.jpg, anno/UAV123/<seq>.txt",
)
def _read_uav123(root, split):
    return Dataset(
        "uav123",
        root,
        split,
        list(UAV123_SEQUENCES),
        lambda n: _uav123_sequence(root, n),
    )


# === OTB-2015 ===


def _otb_sequence(root, name):
    entry = OTB_SEQUENCES[name]
    folder = os.path.join(root, entry.folder)
    _require_dir(folder, f"OTB sequence folder of {name!r}")
    gt_path = os.path.join(folder, entry.annotation)
    ground_truth = read_boxes(gt_path)
    _check_rows(ground_truth, entry.last - entry.first + 1, gt_path)
    frames = _numbered_frames(
        os.path.join(folder, "img"),
        entry.first + entry.skip,
        entry.last,
        entry.digits,
        entry.ext,
    )
    return Sequence(
        name=name,
        frames=frames,
        ground_truth=ground_truth[entry.skip :],
        dataset="otb",
    )


@register_dataset(
    "otb",
    description="OTB-2015 (100 targets): <Seq>/img/%04d.jpg + groundtruth_rect.txt",
)
def _read_otb(root, split):
    return Dataset(
        "otb", root, split, list(OTB_SEQUENCES), lambda n: _otb_sequence(root, n)
    )


# === NfS ===


def _read_nfs_boxes(path):
    """Reads NfS rows `id xmin ymin xmax ymax frame lost occluded ...` as x,y,w,h."""
    _require_file(path, "Annotation file")
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                box = [float(v) for v in fields[1:5]]
            except ValueError:
                box = []
            if len(box) != 4:
                raise ValueError(
                    f"{path}, line {number}: expected 'id xmin ymin xmax ymax ...' "
                    f"(NfS format), got {line.strip()!r}"
                )
            rows.append(box)
    if not rows:
        raise ValueError(f"Annotation file {path} holds no boxes")
    boxes = np.asarray(rows, dtype=np.float64)
    boxes[:, 2:] -= boxes[:, :2]
    return boxes


def _nfs_sequence(root, name):
    base = os.path.join(root, name, "30")
    gt_path = os.path.join(base, f"{name}.txt")
    ground_truth = _read_nfs_boxes(gt_path)
    frames = image_files(os.path.join(base, name))
    # Some 30 fps folders carry the 240 fps annotation (8 rows per frame), and
    # some differ from the frame count by one: the NfS toolkit's own fix-ups.
    if (
        len(ground_truth) != len(frames)
        and abs(len(ground_truth) / len(frames) - 8) < 1
    ):
        ground_truth = ground_truth[::8]
    if 0 < abs(len(ground_truth) - len(frames)) <= 1:
        count = min(len(ground_truth), len(frames))
        ground_truth, frames = ground_truth[:count], frames[:count]
    _check_rows(ground_truth, len(frames), gt_path)
    return Sequence(name=name, frames=frames, ground_truth=ground_truth, dataset="nfs")


@register_dataset(
    "nfs",
    description="NfS (30 fps): <seq>/30/<seq>/%05d.jpg + <seq>/30/<seq>.txt",
)
def _read_nfs(root, split):
    names = [
        n
        for n in _subfolders(root)
        if os.path.isfile(os.path.join(root, n, "30", f"{n}.txt"))
    ]
    if not names:
        raise FileNotFoundError(f"No '<seq>/30/<seq>.txt' NfS sequences under {root}")
    return Dataset("nfs", root, split, names, lambda n: _nfs_sequence(root, n))


# === Generic OTB-layout folder ===


@register_dataset(
    "folder",
    description="any folder of OTB-layout sequences: <seq>/img/, groundtruth_rect.txt",
)
def _read_folder(root, split):
    names = [
        n
        for n in _subfolders(root)
        if os.path.isdir(os.path.join(root, n, "img"))
        and os.path.isfile(os.path.join(root, n, "groundtruth_rect.txt"))
    ]
    if not names:
        raise FileNotFoundError(
            f"No sequence folders (<seq>/img/ + groundtruth_rect.txt) under {root}"
        )
    return Dataset(
        "folder",
        root,
        split,
        names,
        lambda n: Sequence.from_otb_folder(os.path.join(root, n), dataset="folder"),
    )


# === Sequence tables ===

# UAV123: name -> (frame folder, first frame, last frame). Several sequences
# are segments of one folder (e.g. bird1_1/2/3); the table is the benchmark's.
UAV123_SEQUENCES = {
    name: (folder, first, last)
    for name, folder, first, last in (
        ("bike1", "bike1", 1, 3085),
        ("bike2", "bike2", 1, 553),
        ("bike3", "bike3", 1, 433),
        ("bird1_1", "bird1", 1, 253),
        ("bird1_2", "bird1", 775, 1477),
        ("bird1_3", "bird1", 1573, 2437),
        ("boat1", "boat1", 1, 901),
        ("boat2", "boat2", 1, 799),
        ("boat3", "boat3", 1, 901),
        ("boat4", "boat4", 1, 553),
        ("boat5", "boat5", 1, 505),
        ("boat6", "boat6", 1, 805),
        ("boat7", "boat7", 1, 535),
        ("boat8", "boat8", 1, 685),
        ("boat9", "boat9", 1, 1399),
        ("building1", "building1", 1, 469),
        ("building2", "building2", 1, 577),
        ("building3", "building3", 1, 829),
        ("building4", "building4", 1, 787),
        ("building5", "building5", 1, 481),
        ("car1_1", "car1", 1, 751),
        ("car1_2", "car1", 751, 1627),
        ("car1_3", "car1", 1627, 2629),
        ("car2", "car2", 1, 1321),
        ("car3", "car3", 1, 1717),
        ("car4", "car4", 1, 1345),
        ("car5", "car5", 1, 745),
        ("car6_1", "car6", 1, 487),
        ("car6_2", "car6", 487, 1807),
        ("car6_3", "car6", 1807, 2953),
        ("car6_4", "car6", 2953, 3925),
        ("car6_5", "car6", 3925, 4861),
        ("car7", "car7", 1, 1033),
        ("car8_1", "car8", 1, 1357),
        ("car8_2", "car8", 1357, 2575),
        ("car9", "car9", 1, 1879),
        ("car10", "car10", 1, 1405),
        ("car11", "car11", 1, 337),
        ("car12", "car12", 1, 499),
        ("car13", "car13", 1, 415),
        ("car14", "car14", 1, 1327),
        ("car15", "car15", 1, 469),
        ("car16_1", "car16", 1, 415),
        ("car16_2", "car16", 415, 1993),
        ("car17", "car17", 1, 1057),
        ("car18", "car18", 1, 1207),
        ("group1_1", "group1", 1, 1333),
        ("group1_2", "group1", 1333, 2515),
        ("group1_3", "group1", 2515, 3925),
        ("group1_4", "group1", 3925, 4873),
        ("group2_1", "group2", 1, 907),
        ("group2_2", "group2", 907, 1771),
        ("group2_3", "group2", 1771, 2683),
        ("group3_1", "group3", 1, 1567),
        ("group3_2", "group3", 1567, 2827),
        ("group3_3", "group3", 2827, 4369),
        ("group3_4", "group3", 4369, 5527),
        ("person1", "person1", 1, 799),
        ("person2_1", "person2", 1, 1189),
        ("person2_2", "person2", 1189, 2623),
        ("person3", "person3", 1, 643),
        ("person4_1", "person4", 1, 1501),
        ("person4_2", "person4", 1501, 2743),
        ("person5_1", "person5", 1, 877),
        ("person5_2", "person5", 877, 2101),
        ("person6", "person6", 1, 901),
        ("person7_1", "person7", 1, 1249),
        ("person7_2", "person7", 1249, 2065),
        ("person8_1", "person8", 1, 1075),
        ("person8_2", "person8", 1075, 1525),
        ("person9", "person9", 1, 661),
        ("person10", "person10", 1, 1021),
        ("person11", "person11", 1, 721),
        ("person12_1", "person12", 1, 601),
        ("person12_2", "person12", 601, 1621),
        ("person13", "person13", 1, 883),
        ("person14_1", "person14", 1, 847),
        ("person14_2", "person14", 847, 1813),
        ("person14_3", "person14", 1813, 2923),
        ("person15", "person15", 1, 1339),
        ("person16", "person16", 1, 1147),
        ("person17_1", "person17", 1, 1501),
        ("person17_2", "person17", 1501, 2347),
        ("person18", "person18", 1, 1393),
        ("person19_1", "person19", 1, 1243),
        ("person19_2", "person19", 1243, 2791),
        ("person19_3", "person19", 2791, 4357),
        ("person20", "person20", 1, 1783),
        ("person21", "person21", 1, 487),
        ("person22", "person22", 1, 199),
        ("person23", "person23", 1, 397),
        ("truck1", "truck1", 1, 463),
        ("truck2", "truck2", 1, 385),
        ("truck3", "truck3", 1, 535),
        ("truck4_1", "truck4", 1, 577),
        ("truck4_2", "truck4", 577, 1261),
        ("uav1_1", "uav1", 1, 1555),
        ("uav1_2", "uav1", 1555, 2377),
        ("uav1_3", "uav1", 2473, 3469),
        ("uav2", "uav2", 1, 133),
        ("uav3", "uav3", 1, 265),
        ("uav4", "uav4", 1, 157),
        ("uav5", "uav5", 1, 139),
        ("uav6", "uav6", 1, 109),
        ("uav7", "uav7", 1, 373),
        ("uav8", "uav8", 1, 301),
        ("wakeboard1", "wakeboard1", 1, 421),
        ("wakeboard2", "wakeboard2", 1, 733),
        ("wakeboard3", "wakeboard3", 1, 823),
        ("wakeboard4", "wakeboard4", 1, 697),
        ("wakeboard5", "wakeboard5", 1, 1675),
        ("wakeboard6", "wakeboard6", 1, 1165),
        ("wakeboard7", "wakeboard7", 1, 199),
        ("wakeboard8", "wakeboard8", 1, 1543),
        ("wakeboard9", "wakeboard9", 1, 355),
        ("wakeboard10", "wakeboard10", 1, 469),
        ("car1_s", "car1_s", 1, 1475),
        ("car2_s", "car2_s", 1, 320),
        ("car3_s", "car3_s", 1, 1300),
        ("car4_s", "car4_s", 1, 830),
        ("person1_s", "person1_s", 1, 1600),
        ("person2_s", "person2_s", 1, 250),
        ("person3_s", "person3_s", 1, 505),
    )
}


@dataclasses.dataclass(frozen=True)
class _OtbEntry:
    """One OTB-2015 target: frames `first + skip .. last` of `folder/img`."""

    folder: str
    annotation: str
    first: int
    last: int
    digits: int
    ext: str
    skip: int


def _otb(
    name,
    last,
    first=1,
    folder=None,
    annotation="groundtruth_rect.txt",
    digits=4,
    ext="jpg",
    skip=0,
):
    return name, _OtbEntry(folder or name, annotation, first, last, digits, ext, skip)


# OTB-2015: the 100 targets with the benchmark's frame ranges (pytracking's
# table). Special cases: David and BlurCar1/3/4 start late; Diving, Football1,
# Freeman3 and Freeman4 end before their folder does; Board has 5-digit and
# KiteSurf png frames; Tiger1 skips its first 5 frames and boxes; Human4 is
# evaluated on its second target; Jogging and Skating2 have two targets each.
OTB_SEQUENCES = dict(
    (
        _otb("Basketball", 725),
        _otb("Biker", 142),
        _otb("Bird1", 408),
        _otb("Bird2", 99),
        _otb("BlurBody", 334),
        _otb("BlurCar1", 988, first=247),
        _otb("BlurCar2", 585),
        _otb("BlurCar3", 359, first=3),
        _otb("BlurCar4", 397, first=18),
        _otb("BlurFace", 493),
        _otb("BlurOwl", 631),
        _otb("Board", 698, digits=5),
        _otb("Bolt", 350),
        _otb("Bolt2", 293),
        _otb("Box", 1161),
        _otb("Boy", 602),
        _otb("Car1", 1020),
        _otb("Car2", 913),
        _otb("Car24", 3059),
        _otb("Car4", 659),
        _otb("CarDark", 393),
        _otb("CarScale", 252),
        _otb("ClifBar", 472),
        _otb("Coke", 291),
        _otb("Couple", 140),
        _otb("Coupon", 327),
        _otb("Crossing", 120),
        _otb("Crowds", 347),
        _otb("Dancer", 225),
        _otb("Dancer2", 150),
        _otb("David", 770, first=300),
        _otb("David2", 537),
        _otb("David3", 252),
        _otb("Deer", 71),
        _otb("Diving", 215),
        _otb("Dog", 127),
        _otb("Dog1", 1350),
        _otb("Doll", 3872),
        _otb("DragonBaby", 113),
        _otb("Dudek", 1145),
        _otb("FaceOcc1", 892),
        _otb("FaceOcc2", 812),
        _otb("Fish", 476),
        _otb("FleetFace", 707),
        _otb("Football", 362),
        _otb("Football1", 74),
        _otb("Freeman1", 326),
        _otb("Freeman3", 460),
        _otb("Freeman4", 283),
        _otb("Girl", 500),
        _otb("Girl2", 1500),
        _otb("Gym", 767),
        _otb("Human2", 1128),
        _otb("Human3", 1698),
        _otb("Human4_2", 667, folder="Human4", annotation="groundtruth_rect.2.txt"),
        _otb("Human5", 713),
        _otb("Human6", 792),
        _otb("Human7", 250),
        _otb("Human8", 128),
        _otb("Human9", 305),
        _otb("Ironman", 166),
        _otb("Jogging_1", 307, folder="Jogging", annotation="groundtruth_rect.1.txt"),
        _otb("Jogging_2", 307, folder="Jogging", annotation="groundtruth_rect.2.txt"),
        _otb("Jump", 122),
        _otb("Jumping", 313),
        _otb("KiteSurf", 84, ext="png"),
        _otb("Lemming", 1336),
        _otb("Liquor", 1741),
        _otb("Man", 134),
        _otb("Matrix", 100),
        _otb("Mhyang", 1490),
        _otb("MotorRolling", 164),
        _otb("MountainBike", 228),
        _otb("Panda", 1000),
        _otb("RedTeam", 1918),
        _otb("Rubik", 1997),
        _otb("Shaking", 365),
        _otb("Singer1", 351),
        _otb("Singer2", 366),
        _otb("Skater", 160),
        _otb("Skater2", 435),
        _otb("Skating1", 400),
        _otb("Skating2_1", 473, folder="Skating2", annotation="groundtruth_rect.1.txt"),
        _otb("Skating2_2", 473, folder="Skating2", annotation="groundtruth_rect.2.txt"),
        _otb("Skiing", 81),
        _otb("Soccer", 392),
        _otb("Subway", 175),
        _otb("Surfer", 376),
        _otb("Suv", 945),
        _otb("Sylvester", 1345),
        _otb("Tiger1", 354, skip=5),
        _otb("Tiger2", 365),
        _otb("Toy", 271),
        _otb("Trans", 124),
        _otb("Trellis", 569),
        _otb("Twinnings", 472),
        _otb("Vase", 271),
        _otb("Walking", 412),
        _otb("Walking2", 500),
        _otb("Woman", 597),
    )
)
