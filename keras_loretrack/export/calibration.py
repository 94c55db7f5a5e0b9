"""int8 calibration data: real crops made by the tracker's own crop function.

Static int8 quantisation fixes every activation range from a few forward passes.
Those passes see what the tracker will feed the network: each search region is
cut around the previous frame's box with the search factor, and the template
around a box with the template factor, by
`keras_loretrack.data.crops.sample_target`, then normalised with
`keras_loretrack.data.crops.normalize`. Never random tensors: their ranges have
nothing to do with images.

The template of a pair comes from the frame before its search frame, not from
each sequence's first frame: a tracker only ever sees first frames as templates,
but a calibration set holds a handful of sequences, and ranges fitted to three
or four templates clip the templates of other videos (on the `mini_teacher`
preset in ONNX static int8, the template patch embedding's
signal-to-quantisation-noise ratio rose from 19.5 dB to 33.3 dB with templates
from 64 frames).
"""

import collections.abc
import os

import numpy as np

from keras_loretrack.data.crops import CropGeometry, normalize, sample_target
from keras_loretrack.sequences.sequence import Sequence

PROCEDURAL = "procedural"
PROCEDURAL_SEQUENCES = 4
PROCEDURAL_FRAMES = 60
GROUND_TRUTH_FILE = "groundtruth_rect.txt"


def _is_sequence_folder(path):
    return os.path.isdir(os.path.join(path, "img")) and os.path.isfile(
        os.path.join(path, GROUND_TRUTH_FILE)
    )


def calibration_sequences(source, seed=0, label="Calibration directory"):
    """The sequences to calibrate on.

    Args:
        source: str. An OTB-layout sequence folder (`img/` and
            `groundtruth_rect.txt`), a folder of such folders, or
            `"procedural"` for procedurally rendered videos (the "val" split of
            `keras_loretrack.sequences.procedural`, seeds from `seed`).
        seed: int. First procedural seed.
        label: str. What `source` is, for error messages.

    Returns:
        list of `Sequence`.

    Raises:
        FileNotFoundError: `source` is not a directory.
        ValueError: the directory holds no OTB-layout sequence.
    """
    source = os.fspath(source)
    if source == PROCEDURAL:
        from keras_loretrack.sequences.procedural import procedural_dataset

        return procedural_dataset(
            PROCEDURAL_SEQUENCES, seed=seed, split="val", num_frames=PROCEDURAL_FRAMES
        )
    if not os.path.isdir(source):
        raise FileNotFoundError(
            f"{label} not found: {source!r}; expected a folder of "
            f"OTB-layout sequences (<seq>/img/ and <seq>/{GROUND_TRUTH_FILE}) or "
            f"{PROCEDURAL!r}"
        )
    if _is_sequence_folder(source):
        folders = [source]
    else:
        folders = [
            os.path.join(source, name)
            for name in sorted(os.listdir(source))
            if _is_sequence_folder(os.path.join(source, name))
        ]
    if not folders:
        raise ValueError(
            f"{label} {source!r} holds no OTB-layout sequence: "
            f"expected <seq>/img/ with frames and <seq>/{GROUND_TRUTH_FILE}"
        )
    return [
        Sequence.from_otb_folder(folder, dataset="calibration") for folder in folders
    ]


def _usable(box):
    return bool(np.isfinite(box).all() and box[2] > 0 and box[3] > 0)


def _search_frames(sequence):
    """Frames i >= 1 whose previous box is known (both crops centre on it)."""
    gt = sequence.ground_truth
    if len(gt) != len(sequence):
        return []
    return [i for i in range(1, len(sequence)) if _usable(gt[i - 1])]


class CalibrationSamples(collections.abc.Sequence):
    """Normalised (template, search) crop pairs, cut when read (never all held).

    A read-only sequence: `samples[i]` cuts pair `i` from its frames (see
    `calibration_samples`), a slice gives another `CalibrationSamples`, and
    iterating cuts one pair at a time, so a converter that streams its
    calibration (TFLite's representative dataset, ONNX Runtime's calibration
    reader) holds one pair, whatever the number of frames.
    """

    def __init__(self, frames, sides):
        self._frames = list(frames)
        self._sides = sides

    def __len__(self):
        return len(self._frames)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return CalibrationSamples(self._frames[index], self._sides)
        sequence, frame = self._frames[index]
        box = sequence.ground_truth[frame - 1]
        pair = {}
        for name, at in (("template", frame - 1), ("search", frame)):
            crop, _ = sample_target(sequence.frame(at), box, *self._sides[name])
            pair[name] = normalize(crop)[None]
        return pair


def calibration_samples(sequences, geometry, num_frames=64):
    """Normalised (template, search) crop pairs spread over `sequences`.

    For each chosen frame `i` of a sequence, the search crop is cut from frame
    `i` around the box of frame `i - 1`, where the tracker centres it after a
    correct step, and the template from frame `i - 1` around the same box, as
    `Tracker.initialize` would cut it there (see the module docstring). The
    `num_frames` frames are spread evenly over all usable frames of all
    sequences.

    Args:
        sequences: list of `Sequence` (see `calibration_sequences`).
        geometry: a `CropGeometry`, or anything `CropGeometry.of` reads (a
            model, an engine, `ExportMetadata`).
        num_frames: int. How many pairs to make.

    Returns:
        `CalibrationSamples`: a sequence of dicts {"template": float32
        (1, t, t, 3), "search": float32 (1, s, s, 3)}, each cut when read.

    Raises:
        ValueError: `num_frames` < 1, or no sequence has a frame whose previous
            box is known.
    """
    if int(num_frames) != num_frames or num_frames < 1:
        raise ValueError(f"num_frames must be a positive integer, got {num_frames!r}")
    geometry = CropGeometry.of(geometry)
    sides = {
        "template": (geometry.template_factor, geometry.template_size),
        "search": (geometry.search_factor, geometry.search_size),
    }
    candidates = [(s, i) for s in sequences for i in _search_frames(s)]
    if not candidates:
        names = [s.name for s in sequences]
        raise ValueError(
            f"No calibration frames in sequences {names}: each needs a frame after "
            "one whose box is known"
        )
    picks = np.unique(
        np.linspace(0, len(candidates) - 1, int(num_frames)).round().astype(int)
    )
    return CalibrationSamples([candidates[pick] for pick in picks], sides)


def load_calibration(source, geometry, num_frames=64, seed=0):
    """`calibration_samples` of `calibration_sequences(source)`."""
    return calibration_samples(
        calibration_sequences(source, seed=seed), geometry, num_frames=num_frames
    )
