"""The tracker's post-processing: Hann window, decoding, map-back, clipping."""

import numpy as np
import pytest

from keras_loretrack.tracking.postprocess import (
    clip_box,
    decode_box,
    hann_window,
    map_box_back,
)


def test_hann_window_hand_values():
    # hann1d(4) = 0.5 (1 - cos(2 pi k / 5)), k = 1..4
    a = 0.5 * (1 - np.cos(2 * np.pi / 5))  # 0.3454915
    b = 0.5 * (1 - np.cos(4 * np.pi / 5))  # 0.9045085
    window = hann_window(4)
    assert window.shape == (4, 4) and window.dtype == np.float32
    np.testing.assert_allclose(window[0], [a * a, a * b, a * b, a * a], rtol=1e-6)
    np.testing.assert_allclose(window[1, 1], b * b, rtol=1e-6)
    np.testing.assert_allclose(
        hann_window(5)[2], [0.25, 0.75, 1.0, 0.75, 0.25], rtol=1e-6
    )


@pytest.mark.parametrize("size", [1, 4, 8, 16, 24])
def test_hann_window_matches_numpy_hanning_interior(size):
    # np.hanning(fs + 2) without its two zero end points is hann1d(fs).
    hann1d = np.hanning(size + 2)[1:-1]
    np.testing.assert_allclose(
        hann_window(size), np.outer(hann1d, hann1d), rtol=1e-6, atol=1e-7
    )


def test_hann_window_rejects_bad_size():
    with pytest.raises(ValueError, match="must be >= 1, got 0"):
        hann_window(0)


def test_decode_box_at_argmax():
    response = np.zeros((4, 4), np.float32)
    response[1, 2] = 1.0
    size = np.zeros((4, 4, 2), np.float32)
    offset = np.zeros((4, 4, 2), np.float32)
    size[1, 2] = (0.3, 0.1)
    offset[1, 2] = (0.25, 0.5)
    box, cell = decode_box(response, size, offset)
    assert cell == (1, 2)
    np.testing.assert_allclose(
        box, [(2 + 0.25) / 4, (1 + 0.5) / 4, 0.3, 0.1], rtol=1e-6
    )


def test_decode_box_ties_go_to_first_cell_row_major():
    response = np.zeros((3, 3), np.float32)
    response[2, 0] = response[1, 2] = 5.0
    _, cell = decode_box(response, np.ones((3, 3, 2)), np.zeros((3, 3, 2)))
    assert cell == (1, 2)


def test_map_box_back_hand_case():
    # previous centre (110, 70); crop spans 64 / 0.5 = 128 px, half side 64.
    box = map_box_back(
        [0.5625, 0.375, 0.25, 0.125], (100, 50, 20, 40), 64, resize_factor=0.5
    )
    # crop px (72, 48, 32, 16) -> centre (72 + 46, 48 + 6) = (118, 54)
    np.testing.assert_allclose(box, [102, 46, 32, 16])


def test_map_box_back_keeps_the_unrounded_previous_centre():
    box = map_box_back([0.5, 0.5, 0.1, 0.1], (100.3, 50.7, 20, 40), 64, 0.5)
    # crop centre maps to the previous centre (110.3, 70.7) exactly.
    np.testing.assert_allclose(box[:2] + box[2:] / 2, [110.3, 70.7], atol=1e-12)
    np.testing.assert_allclose(box[2:], [12.8, 12.8])


@pytest.mark.parametrize(
    "box, expected",
    [
        ((10, 20, 30, 40), (10, 20, 30, 40)),  # inside: unchanged
        ((-50, 20, 30, 40), (0, 20, 10, 40)),  # left of the image
        ((250, 20, 30, 40), (190, 20, 10, 40)),  # right of the image
        ((180, 20, 40, 40), (180, 20, 20, 40)),  # partly outside on the right
        ((10, 95, 30, 40), (10, 90, 30, 10)),  # below, in the bottom band
        ((195, 20, 3, 40), (190, 20, 10, 40)),  # narrow box in the right band
        ((50, 50, 0, 0), (50, 50, 10, 10)),  # shrunk to nothing
        ((50, 50, -20, -20), (50, 50, 10, 10)),  # negative size
        ((-100, -100, 1000, 1000), (0, 0, 200, 100)),  # covers the image
    ],
)
def test_clip_box_margin_10(box, expected):
    # H = 100, W = 200, margin 10
    np.testing.assert_allclose(clip_box(box, 100, 200), expected)


def test_clip_box_always_keeps_ten_pixels():
    rng = np.random.default_rng(0)
    boxes = rng.uniform(-500, 500, size=(200, 4))
    for box in boxes:
        x, y, w, h = clip_box(box, 120, 160)
        assert w >= 10 and h >= 10
        assert 0 <= x <= 150 and 0 <= y <= 110
