"""`Sequence`: one video with ground truth, the unit every dataset yields.

Also the frame-folder helpers (`image_files`, `read_rgb`) and `limit_frames`,
which cuts a sequence to its first frames.
"""

import dataclasses
import os
import re
from collections.abc import Callable, Iterator

import cv2
import numpy as np

from keras_loretrack.sequences.annotations import read_boxes

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

_DIGITS = re.compile(r"(\d+)")


def natural_key(name):
    """Sort key comparing digit runs as numbers: frame2 < frame10."""
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part.lower())
        for part in _DIGITS.split(name)
        if part
    ]


def image_files(folder):
    """The image files of a frame folder, in natural order.

    Hidden files (a write in progress, macOS `._` companions) are skipped.

    Raises:
        FileNotFoundError: the folder is missing or holds no image files.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Frame folder not found: {folder}")
    names = sorted(
        (
            n
            for n in os.listdir(folder)
            if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith(".")
        ),
        key=natural_key,
    )
    if not names:
        raise FileNotFoundError(
            f"No image files ({', '.join(IMAGE_EXTENSIONS)}) in {folder}"
        )
    return [os.path.join(folder, n) for n in names]


def read_rgb(path):
    """Reads an image file as an RGB uint8 array, naming the file if it fails."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Frame file not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    check_complete_image(data, path)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"Could not decode image file {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


# JPEG ends with the EOI marker, PNG with its IEND chunk; decoders fill a file cut
# short with grey instead of failing, so a truncated frame is caught here.
_END_MARKERS = {b"\xff\xd8": b"\xff\xd9", b"\x89P": b"IEND"}
_END_SEARCH_BYTES = 4096


def check_complete_image(data, path):
    """Raises ValueError if a JPEG or PNG file's bytes stop before its end marker.

    `data` is bytes or a uint8 array; only its first 2 and last 4096 bytes are read.
    """
    end = _END_MARKERS.get(bytes(data[:2]))
    if end is not None and end not in bytes(data[-_END_SEARCH_BYTES:]):
        raise ValueError(
            f"Image file {path} is truncated: it has no end marker ({len(data)} bytes)"
        )


@dataclasses.dataclass(frozen=True)
class Sequence:
    """A tracking sequence whose frames are read lazily.

    Args:
        name: str. The sequence name (result files are named after it).
        frames: list of paths, or a callable `index -> RGB uint8 array` paired
            with `num_frames`.
        ground_truth: float array (N, 4). Boxes x, y, w, h in pixels (0-based
            top-left corner); rows of NaN where the annotation is absent. Test
            splits that only annotate the first frame have N == 1.
        visible: bool array (N,) or None. False where the target is absent,
            occluded or out of view by the dataset's own labels.
        dataset: str. The dataset the sequence belongs to.
        num_frames: int or None. Needed only when `frames` is a callable.
        attributes: dict. Extra per-sequence information (category, labels).

    Example:
    ```python
    seq = Sequence.from_otb_folder("/data/OTB100/Crossing")
    first = seq.frame(0)          # (240, 360, 3) uint8
    x, y, w, h = seq.ground_truth[0]
    ```
    """

    name: str
    frames: list | Callable
    ground_truth: np.ndarray
    visible: np.ndarray | None = None
    dataset: str = "custom"
    num_frames: int | None = None
    attributes: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        gt = np.asarray(self.ground_truth, dtype=np.float64)
        if gt.ndim != 2 or gt.shape[1] != 4:
            raise ValueError(
                f"Sequence {self.name!r}: ground_truth must have shape (N, 4), "
                f"got {gt.shape}"
            )
        object.__setattr__(self, "ground_truth", gt)
        if callable(self.frames):
            if self.num_frames is None:
                raise ValueError(
                    f"Sequence {self.name!r}: num_frames is required when frames "
                    "is a callable"
                )
        else:
            object.__setattr__(self, "frames", [os.fspath(f) for f in self.frames])
            object.__setattr__(self, "num_frames", len(self.frames))
        if len(gt) not in (1, self.num_frames):
            raise ValueError(
                f"Sequence {self.name!r}: {self.num_frames} frames but "
                f"{len(gt)} ground-truth rows"
            )
        if self.visible is not None:
            visible = np.asarray(self.visible, dtype=bool)
            if visible.shape != (len(gt),):
                raise ValueError(
                    f"Sequence {self.name!r}: visible must have shape "
                    f"({len(gt)},), got {visible.shape}"
                )
            object.__setattr__(self, "visible", visible)

    def __len__(self):
        return self.num_frames

    def __repr__(self):
        return (
            f"Sequence({self.name!r}, dataset={self.dataset!r}, "
            f"{self.num_frames} frames)"
        )

    def frame(self, index):
        """Returns frame `index` as an RGB uint8 array (H, W, 3)."""
        if not 0 <= index < self.num_frames:
            raise IndexError(
                f"Sequence {self.name!r} has {self.num_frames} frames, "
                f"got index {index}"
            )
        if callable(self.frames):
            return self.frames(index)
        return read_rgb(self.frames[index])

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(self.num_frames):
            yield self.frame(index)

    def in_memory(self):
        """This sequence with every frame decoded (or rendered) once, up front.

        For clips read more than once (tracked by several models, then drawn):
        later reads are list lookups. Cut it first with `limit_frames` to keep
        only the first frames.
        """
        images = [self.frame(i) for i in range(len(self))]
        return dataclasses.replace(
            self, frames=lambda i: images[i], num_frames=len(images)
        )

    @property
    def init_box(self):
        """The first frame's ground-truth box (x, y, w, h).

        Raises:
            ValueError: the first row is not a box (NaN, or w / h <= 0): one-pass
                evaluation starts from frame 0, as pytracking does.
        """
        box = self.ground_truth[0].copy()
        if not (np.isfinite(box).all() and box[2] > 0 and box[3] > 0):
            raise ValueError(
                f"Sequence {self.name!r} has no initial box: its first ground-truth "
                f"row is {box.tolist()}"
            )
        return box

    def valid_mask(self):
        """Frames that count in the metrics: gt w > 0, h > 0 and target visible."""
        gt = self.ground_truth
        with np.errstate(invalid="ignore"):
            valid = (gt[:, 2] > 0) & (gt[:, 3] > 0)
        if self.visible is not None:
            valid &= self.visible
        return valid

    @classmethod
    def from_otb_folder(cls, folder, name=None, dataset="otb"):
        """Reads an OTB-layout folder: `img/*.jpg` and `groundtruth_rect.txt`."""
        folder = os.fspath(folder)
        image_dir = os.path.join(folder, "img")
        if not os.path.isdir(image_dir):
            raise FileNotFoundError(f"No img/ folder in sequence folder {folder}")
        frames = image_files(image_dir)
        ground_truth = read_boxes(os.path.join(folder, "groundtruth_rect.txt"))
        return cls(
            name=name or os.path.basename(os.path.normpath(folder)),
            frames=frames,
            ground_truth=ground_truth,
            dataset=dataset,
        )


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
