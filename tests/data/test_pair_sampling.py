import numpy as np
import pytest

from keras_loretrack.data.sampling import JoinedSequences, PairSampler, sample_rng
from keras_loretrack.sequences import Sequence


def _sequence(num_frames, visible=None, name="s", boxes=None):
    if boxes is None:
        boxes = np.tile([10.0, 10.0, 5.0, 5.0], (num_frames, 1))
    return Sequence(
        name=name,
        frames=lambda i: np.zeros((4, 4, 3), np.uint8),
        ground_truth=boxes,
        visible=visible,
        num_frames=num_frames,
    )


def _draws(sampler, seed, count):
    return [
        (p.source, p.sequence.name, p.template_index, p.search_index)
        for p in (sampler.sample(sample_rng(seed, 0, i)) for i in range(count))
    ]


def test_same_seed_same_pairs_and_different_seeds_differ():
    sources = [
        [_sequence(500, name=f"a{i}") for i in range(5)],
        [_sequence(80, name=f"b{i}") for i in range(5)],
    ]
    sampler = PairSampler(sources)
    assert _draws(sampler, 3, 50) == _draws(sampler, 3, 50)
    assert _draws(sampler, 3, 50) != _draws(sampler, 4, 50)
    assert _draws(sampler, 3, 50) != [
        (p.source, p.sequence.name, p.template_index, p.search_index)
        for p in (sampler.sample(sample_rng(3, 1, i)) for i in range(50))
    ]


def test_template_before_search_within_gap_on_visible_frames():
    rng = np.random.default_rng(0)
    visible = rng.random(1000) < 0.6
    boxes = np.tile([10.0, 10.0, 5.0, 5.0], (1000, 1))
    boxes[::7, 2] = 0.0  # zero-width boxes are invalid too
    sequence = _sequence(1000, visible, boxes=boxes)
    valid = sequence.valid_mask()
    sampler = PairSampler([[sequence]], max_gap=30)
    gaps = []
    for i in range(2000):
        pair = sampler.sample(sample_rng(0, 0, i))
        assert pair.template_index < pair.search_index <= pair.template_index + 30
        assert valid[pair.template_index] and valid[pair.search_index]
        gaps.append(pair.search_index - pair.template_index)
    assert max(gaps) > 25 and min(gaps) == 1


def test_gap_too_large_makes_a_sequence_unusable():
    visible = np.zeros(400, bool)
    visible[[0, 300]] = True
    far = _sequence(400, visible, name="far")
    visible = np.zeros(400, bool)
    visible[[5, 150]] = True
    near = _sequence(400, visible, name="near")
    sampler = PairSampler([[far, near]], max_gap=200)
    for i in range(20):
        pair = sampler.sample(sample_rng(1, 0, i))
        assert (pair.sequence.name, pair.template_index, pair.search_index) == (
            "near",
            5,
            150,
        )
    with pytest.raises(RuntimeError, match="No valid template/search pair"):
        PairSampler([[far]], max_gap=200, max_tries=5).sample(sample_rng(0, 0, 0))


def test_unusable_sequences_are_skipped():
    hidden = _sequence(50, np.zeros(50, bool), name="hidden")
    first_only = Sequence(
        "first_only",
        frames=lambda i: None,
        ground_truth=[[1.0, 1.0, 4.0, 4.0]],
        num_frames=50,
    )
    image = _sequence(1, name="image")
    sampler = PairSampler([[hidden, first_only, image]])
    for i in range(20):
        pair = sampler.sample(sample_rng(2, 0, i))
        assert pair.sequence.name == "image"
        assert pair.template_index == pair.search_index == 0


def test_sources_are_drawn_by_ratio():
    sources = [[_sequence(10, name="a")], [_sequence(10, name="b")], [_sequence(10)]]
    sampler = PairSampler(sources, ratios=[3, 1, 0])
    counts = np.bincount([s for s, *_ in _draws(sampler, 0, 4000)], minlength=3)
    assert counts[2] == 0
    assert abs(counts[0] / 4000 - 0.75) < 0.03


@pytest.mark.parametrize(
    "sources, kwargs, error, message",
    [
        ([[]], {}, ValueError, "Source 0 holds no sequences"),
        ([], {}, ValueError, "non-empty list"),
        ([[_sequence(3)]], {"ratios": [1, 2]}, ValueError, "one ratio per source"),
        ([[_sequence(3)]], {"ratios": [-1]}, ValueError, "must be finite, >= 0"),
        ([[_sequence(3)]], {"max_gap": 0}, ValueError, "max_gap must be >= 1"),
        (_sequence(3), {}, ValueError, "non-empty list of sequence collections"),
        ([[_sequence(3)], _sequence(3)], {}, ValueError, "Source 1 is a single"),
    ],
)
def test_invalid_arguments(sources, kwargs, error, message):
    with pytest.raises(error, match=message):
        PairSampler(sources, **kwargs)


def test_joined_sequences_index_across_collections():
    joined = JoinedSequences(
        [[_sequence(3, name="a"), _sequence(3, name="b")], [], [_sequence(3, name="c")]]
    )
    assert len(joined) == 3
    assert [joined[i].name for i in range(3)] == ["a", "b", "c"]
    with pytest.raises(IndexError, match="holds 3, got index 3"):
        joined[3]


class _CountingSource:
    def __init__(self, sequences):
        self.sequences = sequences
        self.loads = 0

    def __len__(self):
        return len(self.sequences)

    def __getitem__(self, index):
        self.loads += 1
        return self.sequences[index]


def test_loaded_sequences_are_cached():
    source = _CountingSource([_sequence(20, name=f"s{i}") for i in range(3)])
    cached = PairSampler([source], cache_size=8)
    draws = _draws(cached, 0, 50)
    assert source.loads == 3
    uncached = PairSampler([source], cache_size=0)
    assert _draws(uncached, 0, 50) == draws
    assert source.loads == 53
