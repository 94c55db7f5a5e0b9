"""OSTrack's crop geometry (`sample_target`), checked by hand at the image edges."""

import cv2
import numpy as np
import pytest

from keras_loretrack.data.crops import crop_window, normalize, sample_target


@pytest.fixture
def image():
    """10x10 RGB image whose pixel (r, c) holds 1 + 10 r + c in every channel."""
    values = 1 + np.arange(100, dtype=np.uint8).reshape(10, 10)
    return np.repeat(values[:, :, None], 3, axis=2)


def crop_of(image, box):
    # factor 1 and a 4x4 box: a 4 px crop, output 4 px, so no resize.
    crop, resize_factor = sample_target(image, box, factor=1.0, output_size=4)
    assert resize_factor == 1.0
    return crop[:, :, 0].astype(int)


def grid(rows, cols):
    """Expected values of image rows x cols, 0 where an index is None."""
    return np.array(
        [[0 if r is None or c is None else 1 + 10 * r + c for c in cols] for r in rows]
    )


def test_crop_inside_the_image(image):
    np.testing.assert_array_equal(
        crop_of(image, (2, 3, 4, 4)), grid(range(3, 7), range(2, 6))
    )


def test_crop_pads_left_and_top_with_black(image):
    # x1 = -1, y1 = -2: one black column, two black rows.
    expected = grid([None, None, 0, 1], [None, 0, 1, 2])
    np.testing.assert_array_equal(crop_of(image, (-1, -2, 4, 4)), expected)


def test_crop_right_edge_quirk_pads_the_last_existing_column(image):
    # x1 = 6, x2 = 10 = W: the official pad max(x2 - W + 1, 0) = 1 blanks
    # column 9 although it exists.
    expected = grid(range(0, 4), [6, 7, 8, None])
    np.testing.assert_array_equal(crop_of(image, (6, 0, 4, 4)), expected)


def test_crop_bottom_edge_quirk(image):
    expected = grid([6, 7, 8, None], range(0, 4))
    np.testing.assert_array_equal(crop_of(image, (0, 6, 4, 4)), expected)


def test_crop_ending_at_last_index_is_not_padded(image):
    # x2 = 9 = W - 1: no pad, columns 5..8.
    np.testing.assert_array_equal(
        crop_of(image, (5, 5, 4, 4)), grid(range(5, 9), range(5, 9))
    )


def test_crop_entirely_outside_is_black(image):
    assert crop_of(image, (20, 20, 4, 4)).sum() == 0
    assert crop_of(image, (-30, 2, 4, 4)).sum() == 0


def test_crop_window_uses_python_round_and_ceil():
    # cx - crop/2 = 0.5 rounds to 0 (half to even), 1.5 rounds to 2.
    assert crop_window((0.5, 1.5, 4, 4), 1.0) == (0, 2, 4)
    # crop side = ceil(sqrt(3 * 5) * 2) = ceil(7.746) = 8.
    assert crop_window((10, 10, 3, 5), 2.0)[2] == 8


def test_crop_resize_factor_and_bilinear_resize(image):
    box = (1, 1, 4, 4)  # factor 2: 8 px crop, x1 = y1 = round(3 - 4) = -1
    crop, resize_factor = sample_target(image, box, factor=2.0, output_size=16)
    assert resize_factor == 2.0
    padded = np.zeros((8, 8, 3), np.uint8)
    padded[1:, 1:] = image[0:7, 0:7]
    expected = cv2.resize(padded, (16, 16), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(crop, expected)


def test_normalize_matches_imagenet_statistics():
    crop = np.array([[[0, 128, 255]]], np.uint8)
    expected = (np.array([0, 128, 255]) / 255 - [0.485, 0.456, 0.406]) / [
        0.229,
        0.224,
        0.225,
    ]
    np.testing.assert_allclose(normalize(crop)[0, 0], expected, rtol=1e-6)
