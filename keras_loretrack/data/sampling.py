"""Template/search pair sampling for training (OSTrack's causal mode, Ye et al. 2022).

A draw picks a source (dataset) by ratio, a sequence uniformly within it, then a
template frame and a later search frame at most `max_gap` frames after it, both
valid (gt w, h > 0 and visible). One-frame sequences (still images such as
COCO) give the same frame for both. Sequences without such a pair are skipped
and the draw starts over.

Unlike OSTrack, which widens the gap by 5 frames per failed attempt, a
template is only drawn among frames that have a valid search frame within
`max_gap`, so the gap never grows.
"""

import bisect
import dataclasses
import functools

import numpy as np

from keras_loretrack.sequences.sequence import Sequence


def sample_rng(seed, epoch, index):
    """The Generator of one training sample, a pure function of its indices.

    Args:
        seed: int >= 0. The run's seed.
        epoch: int >= 0. The epoch.
        index: int >= 0. The sample's position within the epoch.
    """
    return np.random.default_rng([int(seed), int(epoch), int(index)])


class JoinedSequences:
    """Several sequence collections seen as one (e.g. TrackingNet's chunks).

    Args:
        collections: list of sequence collections (`len()` and integer indexing).

    Example:
    ```python
    trackingnet = JoinedSequences(
        [get_dataset("trackingnet", root, f"TRAIN_{k}") for k in range(4)]
    )
    ```
    """

    def __init__(self, collections):
        self.collections = list(collections)
        self._ends = np.cumsum([len(c) for c in self.collections]).tolist()

    def __len__(self):
        return self._ends[-1] if self._ends else 0

    def __getitem__(self, index):
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"JoinedSequences holds {len(self)}, got index {index}")
        which = bisect.bisect_right(self._ends, index)
        start = self._ends[which - 1] if which else 0
        return self.collections[which][index - start]


@dataclasses.dataclass(frozen=True)
class SampledPair:
    """A template frame and a search frame of one sequence.

    Args:
        sequence: `Sequence`. Where the frames come from.
        template_index: int. The template frame.
        search_index: int. The search frame (== template_index for images).
        source: int. Index of the source the sequence was drawn from.
    """

    sequence: Sequence
    template_index: int
    search_index: int
    source: int

    @property
    def template_box(self):
        """Ground truth x, y, w, h of the template frame."""
        return self.sequence.ground_truth[self.template_index].copy()

    @property
    def search_box(self):
        """Ground truth x, y, w, h of the search frame."""
        return self.sequence.ground_truth[self.search_index].copy()


class PairSampler:
    """Draws template/search pairs from several sources by ratio.

    Args:
        sources: list of sequence collections. Each supports `len()` and
            integer indexing returning a `Sequence` (a list, `CocoImageSet`, ...).
        ratios: list of float or None. Relative draw probability per source
            (default equal; LoReTrack draws LaSOT, GOT-10k, TrackingNet and
            COCO 1:1:1:1).
        max_gap: int. Largest search - template frame distance.
        max_tries: int. Draws attempted before giving up.
        cache_size: int. Sequences kept after loading (readers parse annotation
            files on every access); 0 disables the cache.

    Example:
    ```python
    sampler = PairSampler([procedural_dataset(10)], max_gap=200)
    pair = sampler.sample(sample_rng(seed=0, epoch=0, index=7))
    pair.template_index < pair.search_index  # True for videos
    ```
    """

    def __init__(self, sources, ratios=None, max_gap=200, max_tries=100, cache_size=64):
        if isinstance(sources, Sequence) or not len(sources):
            raise ValueError(
                "sources must be a non-empty list of sequence collections, got "
                f"{type(sources).__name__}"
            )
        self.sources = list(sources)
        for i, source in enumerate(self.sources):
            if isinstance(source, Sequence):
                raise ValueError(
                    f"Source {i} is a single Sequence; wrap it in a list of sequences"
                )
            if len(source) == 0:
                raise ValueError(f"Source {i} holds no sequences")
        if ratios is None:
            ratios = [1.0] * len(self.sources)
        ratios = np.asarray(ratios, dtype=np.float64)
        if ratios.shape != (len(self.sources),):
            raise ValueError(
                f"Expected one ratio per source ({len(self.sources)}), got "
                f"{ratios.tolist()}"
            )
        if (ratios < 0).any() or not np.isfinite(ratios).all() or ratios.sum() <= 0:
            raise ValueError(
                f"Ratios must be finite, >= 0 and not all 0, got {ratios.tolist()}"
            )
        if max_gap < 1:
            raise ValueError(f"max_gap must be >= 1, got {max_gap!r}")
        if max_tries < 1:
            raise ValueError(f"max_tries must be >= 1, got {max_tries!r}")
        self.ratios = ratios / ratios.sum()
        self.max_gap = int(max_gap)
        self.max_tries = int(max_tries)
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size!r}")
        self._sequence = self._load_sequence
        if cache_size:
            self._sequence = functools.lru_cache(maxsize=cache_size)(self._sequence)

    def _load_sequence(self, source, index):
        return self.sources[source][index]

    def sample(self, rng):
        """Draws one pair.

        Args:
            rng: `numpy.random.Generator`. Its state decides the pair.

        Returns:
            `SampledPair`.

        Raises:
            RuntimeError: no valid pair was found in `max_tries` draws.
        """
        for _ in range(self.max_tries):
            source = int(rng.choice(len(self.sources), p=self.ratios))
            index = int(rng.integers(len(self.sources[source])))
            sequence = self._sequence(source, index)
            frames = self.sample_frames(sequence, rng)
            if frames is not None:
                return SampledPair(sequence, frames[0], frames[1], source)
        raise RuntimeError(
            f"No valid template/search pair found in {self.max_tries} draws; the "
            "sources need sequences with valid (visible, w > 0, h > 0) frames no "
            f"more than max_gap={self.max_gap} apart"
        )

    def sample_frames(self, sequence, rng):
        """Template and search frame indices in one sequence, or None.

        Args:
            sequence: `Sequence`. Needs a box for every frame.
            rng: `numpy.random.Generator`.

        Returns:
            (template_index, search_index), template < search <= template +
            max_gap for videos and (0, 0) for one-frame sequences; None when the
            sequence has no such pair.
        """
        if len(sequence.ground_truth) != len(sequence):
            return None
        valid = np.flatnonzero(sequence.valid_mask())
        if len(sequence) == 1:
            return (0, 0) if len(valid) else None
        if len(valid) < 2:
            return None
        candidates = np.flatnonzero(np.diff(valid) <= self.max_gap)
        if not len(candidates):
            return None
        position = int(candidates[rng.integers(len(candidates))])
        template = int(valid[position])
        last = int(np.searchsorted(valid, template + self.max_gap, side="right"))
        search = int(valid[rng.integers(position + 1, last)])
        return template, search
