import types

import numpy as np
import pytest

from keras_loretrack.data.crops import IMAGENET_MEAN, IMAGENET_STD, normalize
from keras_loretrack.export.calibration import (
    calibration_samples,
    calibration_sequences,
)
from keras_loretrack.sequences import Sequence

GEOMETRY = types.SimpleNamespace(
    search_size=64, template_size=32, search_factor=5.0, template_factor=2.0
)


def moving_square_sequence(name, num_frames=6, top=90, size=(200, 240)):
    """A white square moving right by 5 px per frame on a ramp, with its boxes."""
    boxes = np.array([[100 + 5 * i, top, 16, 16] for i in range(num_frames)], float)

    def frame(index):
        rows, columns = np.indices(size)
        image = np.repeat(((rows + 2 * columns) % 200)[..., None], 3, axis=2)
        image = image.astype(np.uint8)
        x, y, w, h = boxes[index].astype(int)
        image[y : y + h, x : x + w] = 255
        return image

    return Sequence(name=name, frames=frame, ground_truth=boxes, num_frames=num_frames)


def manual_crop(image, box, factor, size):
    """The tracker's crop recomputed by hand for a box fully inside the image."""
    import math

    import cv2

    x, y, w, h = box
    side = math.ceil(math.sqrt(w * h) * factor)
    x1 = round(x + w / 2 - side / 2)
    y1 = round(y + h / 2 - side / 2)
    patch = image[y1 : y1 + side, x1 : x1 + side]
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_LINEAR)


def test_both_crops_centre_on_the_previous_box():
    sequence = moving_square_sequence("square", num_frames=6)
    samples = calibration_samples([sequence], GEOMETRY, num_frames=5)
    assert len(samples) == 5
    for index, sample in enumerate(samples, start=1):
        assert sample["template"].shape == (1, 32, 32, 3)
        assert sample["search"].shape == (1, 64, 64, 3)
        assert sample["search"].dtype == np.float32
        previous_box = sequence.ground_truth[index - 1]
        template = normalize(
            manual_crop(sequence.frame(index - 1), previous_box, 2.0, 32)
        )
        np.testing.assert_allclose(sample["template"][0], template, atol=1e-6)
        search = normalize(manual_crop(sequence.frame(index), previous_box, 5.0, 64))
        np.testing.assert_allclose(sample["search"][0], search, atol=1e-6)


def test_frames_are_spread_over_all_sequences_deterministically():
    sequences = [
        moving_square_sequence(f"s{i}", num_frames=9, top=80 + 5 * i) for i in range(3)
    ]
    first = calibration_samples(sequences, GEOMETRY, num_frames=6)
    second = calibration_samples(sequences, GEOMETRY, num_frames=6)
    assert len(first) == 6
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a["search"], b["search"])
    # 24 candidates (frames 1-8 of each), picks 0, 5, 9, 14, 18, 23: two per
    # sequence, early and late.
    expected = [(0, 1), (0, 6), (1, 2), (1, 7), (2, 3), (2, 8)]
    for sample, (which, index) in zip(first, expected):
        box = sequences[which].ground_truth[index - 1]
        search = manual_crop(sequences[which].frame(index), box, 5.0, 64)
        np.testing.assert_allclose(sample["search"][0], normalize(search), atol=1e-6)


def test_frames_after_an_unknown_box_are_skipped():
    sequence = moving_square_sequence("gap", num_frames=5)
    sequence.ground_truth[1:4] = np.nan
    samples = calibration_samples([sequence], GEOMETRY, num_frames=10)
    assert len(samples) == 1  # only frame 1, whose previous box (frame 0) is known


def test_real_sequences_give_normalised_image_crops(sequences_dir):
    sequences = calibration_sequences(sequences_dir)
    assert {s.name for s in sequences} >= {"Crossing", "bag", "wakeboard7"}
    samples = calibration_samples(sequences, GEOMETRY, num_frames=12)
    assert len(samples) == 12
    low = (0.0 - IMAGENET_MEAN) / IMAGENET_STD
    high = (1.0 - IMAGENET_MEAN) / IMAGENET_STD
    for sample in samples:
        for crops in sample.values():
            assert (crops >= low - 1e-5).all() and (crops <= high + 1e-5).all()
    # Templates from 12 frames, not the 3 first frames.
    assert len({s["template"].tobytes() for s in samples}) == 12


def test_a_single_sequence_folder_is_accepted(sequences_dir):
    sequences = calibration_sequences(sequences_dir / "Crossing")
    assert [s.name for s in sequences] == ["Crossing"]


def test_procedural_source():
    pytest.importorskip("skimage")
    sequences = calibration_sequences("procedural")
    assert len(sequences) == 4
    assert calibration_samples(sequences, GEOMETRY, num_frames=4)


def test_bad_calibration_directories_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Calibration directory not found"):
        calibration_sequences(tmp_path / "missing")
    (tmp_path / "empty_seq").mkdir()
    (tmp_path / "notes.txt").write_text("no sequences here")
    with pytest.raises(ValueError, match="holds no OTB-layout sequence"):
        calibration_sequences(tmp_path)


def test_unusable_sequences_and_counts_are_errors():
    sequence = moving_square_sequence("blank", num_frames=3)
    sequence.ground_truth[:2] = np.nan  # the last frame follows an unknown box
    with pytest.raises(ValueError, match="No calibration frames in sequences"):
        calibration_samples([sequence], GEOMETRY, num_frames=4)
    with pytest.raises(ValueError, match="num_frames must be a positive integer"):
        calibration_samples([moving_square_sequence("s")], GEOMETRY, num_frames=0)
