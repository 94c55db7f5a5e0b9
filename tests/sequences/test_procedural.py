import sys

import cv2
import numpy as np
import pytest

from keras_loretrack.sequences import Sequence
from keras_loretrack.sequences.procedural import (
    SPLIT_SEED_RANGES,
    ProceduralVideo,
    make_sequence,
    procedural_dataset,
    rendering,
    textures,
    write_sequence,
)

SMALL = {"num_frames": 24, "image_size": (72, 96)}
STILL = {
    "noise": 0.0,
    "light_change": 0.0,
    "motion_blur": 0.0,
    "shake_probability": 0.0,
    "camera_drift": 0.0,
    "num_distractors": (0, 0),
    "num_occluders": (0, 0),
}


def _fully_inside(box, image_size, margin=1.0):
    x, y, w, h = box
    height, width = image_size
    return (
        x >= margin
        and y >= margin
        and x + w <= width - margin
        and (y + h <= height - margin)
    )


def test_same_seed_same_video_and_different_seeds_differ():
    a = ProceduralVideo(seed=11, **SMALL)
    frames_a = [a.frame(i) for i in (0, 7, 23)]
    rendering.video_textures.cache_clear()
    b = ProceduralVideo(seed=11, **SMALL)
    assert b.script is not a.script
    for frame, index in zip(frames_a, (0, 7, 23)):
        np.testing.assert_array_equal(frame, b.frame(index))
    np.testing.assert_array_equal(a.ground_truth, b.ground_truth)
    np.testing.assert_array_equal(a.visible, b.visible)

    c = ProceduralVideo(seed=12, **SMALL)
    assert not np.allclose(a.ground_truth, c.ground_truth)
    assert np.abs(a.frame(7).astype(int) - c.frame(7).astype(int)).mean() > 5


def test_frames_are_rgb_uint8_of_the_configured_size():
    video = ProceduralVideo(seed=3, **SMALL)
    frame = video.frame(5)
    assert frame.shape == (72, 96, 3) and frame.dtype == np.uint8
    assert video.ground_truth.shape == (24, 4)
    assert (video.ground_truth[:, 2:] > 0).all()
    with pytest.raises(IndexError, match="24 frames"):
        video.frame(24)


def test_box_centre_is_the_mask_centroid_for_symmetric_shapes():
    checked = 0
    for seed in range(4):
        video = ProceduralVideo(seed=seed, irregularity=0.0, **SMALL, **STILL)
        for index in range(0, 24, 3):
            box = video.ground_truth[index]
            if not _fully_inside(box, video.image_size):
                continue
            alpha = video.object_alpha(index).astype(np.float64)
            ys, xs = np.mgrid[: alpha.shape[0], : alpha.shape[1]] + 0.5
            centroid = (
                (alpha * xs).sum() / alpha.sum(),
                (alpha * ys).sum() / alpha.sum(),
            )
            np.testing.assert_allclose(
                centroid, box[:2] + box[2:] / 2, atol=0.2, err_msg=f"seed {seed}"
            )
            checked += 1
    assert checked >= 8


def test_box_is_the_tight_box_of_the_irregular_mask():
    checked = 0
    for seed in range(4):
        video = ProceduralVideo(seed=seed, irregularity=0.9, **SMALL, **STILL)
        for index in range(0, 24, 3):
            box = video.ground_truth[index]
            if not _fully_inside(box, video.image_size):
                continue
            ys, xs = np.nonzero(video.object_alpha(index) >= 0.5)
            drawn = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            expected = [box[0], box[1], box[0] + box[2], box[1] + box[3]]
            np.testing.assert_allclose(drawn, expected, atol=1.0)
            checked += 1
    assert checked >= 8


def test_pixels_that_change_between_frames_lie_in_the_boxes():
    """Static background, no effects: only the object changes pixels."""
    video = ProceduralVideo(seed=5, **SMALL, **STILL)
    height, width = video.image_size
    for index in range(0, 20, 4):
        changed = np.any(video.frame(index) != video.frame(index + 1), axis=2)
        ys, xs = np.nonzero(changed)
        assert len(xs) > 0
        boxes = video.ground_truth[index : index + 2]
        union = [
            max(boxes[:, 0].min(), 0),
            max(boxes[:, 1].min(), 0),
            min((boxes[:, 0] + boxes[:, 2]).max(), width),
            min((boxes[:, 1] + boxes[:, 3]).max(), height),
        ]
        observed = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        np.testing.assert_allclose(observed, union, atol=2.0)


def _video_with_hidden_frames(**config):
    for seed in range(40):
        video = ProceduralVideo(seed=seed, **config)
        if (~video.visible).any() and video.visible.any():
            return video
    raise AssertionError("no seed in 0..39 hides the object")


def test_visible_false_where_occluders_cover_the_object():
    video = _video_with_hidden_frames(
        num_frames=40, image_size=(72, 96), num_occluders=(2, 2), motion_blur=0.0
    )
    assert video.visible[0]
    checked = 0
    for index in range(video.num_frames):
        box = video.ground_truth[index]
        if not _fully_inside(box, video.image_size):
            continue
        area = (video.object_alpha(index) >= 0.5).sum()
        seen = (video.object_alpha(index, occluded=True) >= 0.5).sum()
        assert abs(seen / area - video.visible_fraction[index]) < 0.1, index
        assert video.visible[index] == (video.visible_fraction[index] >= 0.05)
        checked += 1
    assert checked > 10
    hidden = np.flatnonzero(~video.visible)
    for index in hidden:
        alpha = video.object_alpha(index, occluded=True)
        assert (alpha >= 0.5).sum() <= 0.1 * max(
            (video.object_alpha(index) >= 0.5).sum(), 1
        )


def test_visible_false_when_the_object_leaves_the_frame():
    config = {
        "num_frames": 60,
        "image_size": (64, 64),
        "num_occluders": (0, 0),
        "out_of_view_probability": 1.0,
        "speed": 0.6,
    }
    found = 0
    for seed in range(20):
        video = ProceduralVideo(seed=seed, **config)
        x, y, w, h = video.ground_truth.T
        outside = (x + w <= 0) | (y + h <= 0) | (x >= 64) | (y >= 64)
        assert not video.visible[outside].any()
        found += outside.sum()
    assert found > 0


def test_sequence_interface():
    sequence = make_sequence(4, **SMALL)
    assert isinstance(sequence, Sequence)
    assert sequence.dataset == "procedural" and len(sequence) == 24
    assert sequence.name == "procedural-000000004"
    video = ProceduralVideo(seed=4, **SMALL)
    np.testing.assert_array_equal(sequence.frame(9), video.frame(9))
    np.testing.assert_array_equal(sequence.ground_truth, video.ground_truth)
    np.testing.assert_array_equal(sequence.valid_mask(), video.visible)
    assert sequence.attributes["config"]["image_size"] == (72, 96)


def test_dataset_splits_use_disjoint_seeds():
    train = procedural_dataset(3, **SMALL)
    test = procedural_dataset(3, split="test", **SMALL)
    train_seeds = {s.attributes["seed"] for s in train}
    test_seeds = {s.attributes["seed"] for s in test}
    assert train_seeds == {0, 1, 2}
    assert test_seeds == {SPLIT_SEED_RANGES["test"].start + i for i in range(3)}
    ranges = sorted(SPLIT_SEED_RANGES.values(), key=lambda r: r.start)
    assert all(a.stop <= b.start for a, b in zip(ranges, ranges[1:]))
    with pytest.raises(ValueError, match="Unknown procedural split 'dev'"):
        procedural_dataset(2, split="dev")
    with pytest.raises(ValueError, match="holds seeds"):
        procedural_dataset(2, seed=len(SPLIT_SEED_RANGES["val"]) - 1, split="val")


def test_written_sequence_reads_back_in_otb_layout(tmp_path):
    sequence = make_sequence(
        7, num_frames=40, image_size=(72, 96), num_occluders=(2, 2)
    )
    folder = write_sequence(sequence, tmp_path / "seq7")
    back = Sequence.from_otb_folder(folder)
    assert len(back) == len(sequence)
    assert back.frames[0].endswith("img/0001.jpg")
    visible = sequence.visible
    np.testing.assert_allclose(
        back.ground_truth[visible], sequence.ground_truth[visible], atol=1e-4
    )
    assert np.isnan(back.ground_truth[~visible]).all()
    np.testing.assert_array_equal(back.valid_mask(), visible)
    difference = np.abs(back.frame(3).astype(int) - sequence.frame(3).astype(int))
    assert difference.mean() < 4

    first = back.frames[0]
    cv2.imwrite(first, np.zeros((72, 96, 3), np.uint8))
    write_sequence(sequence, tmp_path / "seq7")
    assert cv2.imread(first).max() == 0


def test_missing_scikit_image_is_a_clear_error(monkeypatch):
    textures.load_texture.cache_clear()
    monkeypatch.setitem(sys.modules, "skimage", None)
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    try:
        with pytest.raises(ImportError, match=r"keras-loretrack\[procedural\]"):
            textures.load_texture("astronaut")
    finally:
        textures.load_texture.cache_clear()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"seed": 0, "num_frames": 0}, "num_frames must be >= 1"),
        ({"seed": 0, "object_size": (0.3, 0.1)}, "object_size must satisfy"),
        ({"seed": 0, "image_size": (8, 8)}, "at least 16x16"),
        ({"seed": 0, "num_occluders": (2, 1)}, "num_occluders must satisfy"),
        ({"seed": 0, "noise": -1.0}, "noise must be >= 0"),
        ({"seed": 0, "aspect_range": -0.1}, "aspect_range must be >= 0"),
        ({"seed": 0, "irregularity": 0.95}, "irregularity must be <= 0.9"),
        (
            {"seed": 0, "visible_threshold": 2.0},
            r"visible_threshold must be in \[0, 1\]",
        ),
    ],
)
def test_invalid_configs_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ProceduralVideo(**kwargs)


def test_aspect_range_bounds_the_first_box():
    def first_aspects(aspect_range):
        videos = [
            ProceduralVideo(seed=s, num_frames=1, aspect_range=aspect_range)
            for s in range(40)
        ]
        return np.array([v.ground_truth[0, 2] / v.ground_truth[0, 3] for v in videos])

    narrow, wide = first_aspects(0.0), first_aspects(1.1)
    # The tight box of an irregular mask moves w/h a little off the drawn ratio.
    assert np.all(np.abs(np.log(narrow)) < 0.45)
    assert np.abs(np.log(wide)).max() > 0.8
    assert np.all(np.abs(np.log(wide)) < 1.1 + 0.45)
