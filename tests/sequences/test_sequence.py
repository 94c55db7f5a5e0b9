"""`Sequence`: validation, lazy frames, `in_memory`, `limit_frames`, repr."""

import dataclasses

import numpy as np
import pytest

from keras_loretrack.sequences import Sequence, get_dataset, limit_frames


def _sequence(count=5, **kwargs):
    return Sequence(
        name="dots",
        frames=lambda i: np.full((4, 6, 3), i, np.uint8),
        ground_truth=np.tile([[1.0, 2.0, 3.0, 4.0]], (count, 1)),
        num_frames=count,
        **kwargs,
    )


def test_repr_is_short():
    frames = [f"/data/clip/img/{i:04d}.jpg" for i in range(1, 301)]
    sequence = Sequence("clip", frames, np.zeros((300, 4)), dataset="otb")
    assert repr(sequence) == "Sequence('clip', dataset='otb', 300 frames)"
    assert repr(_sequence()) == "Sequence('dots', dataset='custom', 5 frames)"


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"must have shape \(N, 4\)"):
        Sequence("bad", ["a.jpg"], np.zeros((1, 3)))
    with pytest.raises(ValueError, match="2 frames but 3 ground-truth rows"):
        Sequence("bad", ["a.jpg", "b.jpg"], np.zeros((3, 4)))
    with pytest.raises(ValueError, match="num_frames is required"):
        Sequence("bad", lambda i: None, np.zeros((1, 4)))
    with pytest.raises(IndexError, match="5 frames, got index 5"):
        _sequence().frame(5)


def test_limit_frames_keeps_callable_frames():
    short = limit_frames(_sequence(visible=np.ones(5, bool)), 2)
    assert len(short) == 2 and short.visible.shape == (2,)
    assert short.frame(1)[0, 0, 0] == 1
    with pytest.raises(ValueError, match="max_frames must be >= 1"):
        limit_frames(_sequence(), 0)


def test_in_memory_reads_each_frame_once(sequences_dir):
    sequence = limit_frames(
        get_dataset("otb", sequences_dir).select(["Crossing"])[0], 4
    )
    reads = []

    def counted(index):
        reads.append(index)
        return sequence.frame(index)

    counting = dataclasses.replace(sequence, frames=counted, num_frames=4)
    cached = counting.in_memory()
    assert reads == [0, 1, 2, 3]
    for index in (0, 3, 3):
        np.testing.assert_array_equal(cached.frame(index), sequence.frame(index))
    assert reads == [0, 1, 2, 3]
    assert len(cached) == 4 and cached.name == sequence.name
    np.testing.assert_array_equal(cached.ground_truth, sequence.ground_truth)
