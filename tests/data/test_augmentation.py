import numpy as np
import pytest

from keras_loretrack.data.augmentation import (
    PairAugmentation,
    adjust_brightness,
    flip_box,
    jitter_box,
    to_grayscale,
)


def test_jitter_statistics():
    rng = np.random.default_rng(0)
    box = np.array([100.0, 50.0, 40.0, 10.0])
    draws = np.array([jitter_box(box, rng, 4.5, 0.5) for _ in range(20000)])
    log_scale = np.log(draws[:, 2:] / box[2:])
    np.testing.assert_allclose(log_scale.mean(0), 0.0, atol=0.02)
    np.testing.assert_allclose(log_scale.std(0), 0.5, atol=0.02)
    center = draws[:, :2] + draws[:, 2:] / 2
    offset = (center - (box[:2] + box[2:] / 2)) / np.sqrt(draws[:, 2:3] * draws[:, 3:4])
    assert offset.min() >= -2.25 and offset.max() <= 2.25
    assert offset.min() < -2.2 and offset.max() > 2.2
    np.testing.assert_allclose(offset.mean(0), 0.0, atol=0.05)
    np.testing.assert_allclose(offset.var(0), 4.5**2 / 12, rtol=0.05)


def test_no_jitter_keeps_the_box_and_the_generator():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    box = [1.5, 2.5, 3.0, 4.0]
    np.testing.assert_array_equal(jitter_box(box, rng, 0.0, 0.0), box)
    assert rng.bit_generator.state == state


def test_flip_moves_the_box_with_the_image():
    image = np.zeros((30, 50, 3), np.uint8)
    image[5:12, 3:10] = 255  # box x=3, y=5, w=7, h=7
    box = [3, 5, 7, 7]
    aug = PairAugmentation.none()
    aug = PairAugmentation(**{**vars(aug), "flip_probability": 1.0})
    template, search, t_box, s_box = aug.joint(
        image, image, box, box, np.random.default_rng(0)
    )
    assert template is search
    ys, xs = np.nonzero(template[..., 0])
    np.testing.assert_array_equal(t_box, [xs.min(), ys.min(), 7, 7])
    np.testing.assert_array_equal(t_box, s_box)
    np.testing.assert_array_equal(flip_box(flip_box(box, 50), 50), box)
    np.testing.assert_array_equal(flip_box([1.25, 2, 3.5, 4], 10), [5.25, 2, 3.5, 4])


def test_flip_is_joint_and_by_frame_width():
    aug = PairAugmentation(flip_probability=1.0, grayscale_probability=0.0)
    a, b = np.zeros((10, 20, 3), np.uint8), np.zeros((10, 40, 3), np.uint8)
    *_, t_box, s_box = aug.joint(
        a, b, [0, 0, 5, 5], [0, 0, 5, 5], np.random.default_rng(1)
    )
    np.testing.assert_array_equal(t_box, [15, 0, 5, 5])
    np.testing.assert_array_equal(s_box, [35, 0, 5, 5])


def test_grayscale_is_joint():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    gray = to_grayscale(image)
    assert gray.shape == (8, 8, 3)
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    expected = np.rint(image @ np.array([0.299, 0.587, 0.114]))
    assert np.abs(gray[..., 0] - expected).max() <= 1
    aug = PairAugmentation(grayscale_probability=1.0, flip_probability=0.0)
    t, s, *_ = aug.joint(image, image.copy(), [0, 0, 1, 1], [0, 0, 1, 1], rng)
    np.testing.assert_array_equal(t, gray)
    np.testing.assert_array_equal(s, gray)
    aug = PairAugmentation(grayscale_probability=0.0, flip_probability=0.0)
    t, *_ = aug.joint(image, image, [0, 0, 1, 1], [0, 0, 1, 1], rng)
    np.testing.assert_array_equal(t, image)


def test_joint_probabilities():
    aug = PairAugmentation()
    rng = np.random.default_rng(0)
    image = np.zeros((4, 8, 3), np.uint8)
    image[:, :2] = (10, 200, 30)
    flips = grays = 0
    for _ in range(4000):
        t, *_ = aug.joint(image, image, [0, 0, 2, 4], [0, 0, 2, 4], rng)
        flipped = bool(t[0, -1].any())
        column = -1 if flipped else 0
        flips += flipped
        grays += t[0, column, 0] == t[0, column, 1]
    assert abs(flips / 4000 - 0.5) < 0.03
    assert abs(grays / 4000 - 0.05) < 0.015


def test_brightness_is_clipped_and_in_range():
    crop = np.array([[[100, 200, 250]]], np.uint8)
    np.testing.assert_allclose(adjust_brightness(crop, 1.2), [[[120, 240, 255]]])
    assert adjust_brightness(crop, 0.8).dtype == np.float32
    aug = PairAugmentation()
    rng = np.random.default_rng(0)
    factors = np.array(
        [
            aug.brightness(np.full((1, 1, 3), 100, np.uint8), rng)[0, 0, 0] / 100
            for _ in range(5000)
        ]
    )
    assert 0.8 <= factors.min() < 0.81 and 1.19 < factors.max() <= 1.2
    np.testing.assert_array_equal(PairAugmentation.none().brightness(crop, rng), crop)


def test_presets_and_validation():
    assert PairAugmentation().search_center_jitter == 4.5
    assert PairAugmentation().search_scale_jitter == 0.5
    assert PairAugmentation().template_center_jitter == 0.0
    val = PairAugmentation.validation()
    assert val.search_center_jitter == 4.5 and val.flip_probability == 0.0
    assert val.grayscale_probability == 0.0 and val.brightness_jitter == 0.0
    with pytest.raises(ValueError, match="flip_probability must be <= 1"):
        PairAugmentation(flip_probability=1.5)
    with pytest.raises(ValueError, match="search_scale_jitter must be finite and >= 0"):
        PairAugmentation(search_scale_jitter=-0.1)
