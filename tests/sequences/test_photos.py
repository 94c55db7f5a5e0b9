"""Still photographs as one-frame sequences (static-image training pairs)."""

import numpy as np
import pytest

pytest.importorskip("skimage")

from keras_loretrack.data.crops import CropGeometry  # noqa: E402
from keras_loretrack.data.pipeline import make_training_dataset  # noqa: E402
from keras_loretrack.data.sampling import PairSampler  # noqa: E402
from keras_loretrack.sequences.procedural.photos import (  # noqa: E402
    _ring_contrast,
    make_photo_sequence,
    photo_dataset,
)


def test_photo_sequence_is_one_frame_with_box_inside():
    for sequence in photo_dataset(12, split="val"):
        image = sequence.frame(0)
        assert len(sequence) == 1 and image.dtype == np.uint8 and image.ndim == 3
        x, y, w, h = sequence.ground_truth[0]
        assert w > 0 and h > 0
        assert x >= 0 and y >= 0
        assert x + w <= image.shape[1] and y + h <= image.shape[0]
        assert 240 <= max(image.shape[:2]) <= 720


def test_same_seed_same_photo_and_box():
    a, b = make_photo_sequence(7), make_photo_sequence(7)
    np.testing.assert_array_equal(a.frame(0), b.frame(0))
    np.testing.assert_array_equal(a.ground_truth, b.ground_truth)
    assert not np.array_equal(a.ground_truth, make_photo_sequence(8).ground_truth)


def test_splits_do_not_share_seeds():
    train = {s.name for s in photo_dataset(5, split="train")}
    val = {s.name for s in photo_dataset(5, split="val")}
    assert len(train) == 5 and not train & val


def test_ring_contrast_prefers_a_distinct_object():
    image = np.full((100, 100, 3), 40.0, np.float32)
    image[30:50, 30:50] = 220.0
    on_object = _ring_contrast(image, (30, 30, 20, 20))
    on_background = _ring_contrast(image, (70, 70, 20, 20))
    assert on_object > 100 and on_background < 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"box_side": (0.3, 0.1)}, "box_side"),
        ({"box_side": (0.0, 0.1)}, "box_side"),
        ({"image_side": (16, 64)}, "image_side"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_photo_sequence(0, **kwargs)


def test_bad_split_is_named():
    with pytest.raises(ValueError, match="Unknown photo split 'tests'"):
        photo_dataset(1, split="tests")


def test_photos_give_static_pairs_to_the_pipeline():
    photos = photo_dataset(3)
    pair = PairSampler([photos]).sample(np.random.default_rng(0))
    assert pair.template_index == pair.search_index == 0
    geometry = CropGeometry(
        search_size=64, template_size=32, search_factor=5.0, template_factor=2.0
    )
    inputs, targets = next(
        iter(
            make_training_dataset(
                [photos], geometry=geometry, batch_size=4, samples_per_epoch=4
            )
        )
    )
    assert inputs["search"].shape == (4, 64, 64, 3)
    box = targets["box"].numpy()
    assert np.all(box[:, 2:] > box[:, :2])
