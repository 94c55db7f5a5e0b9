"""The one-pass runner with a test-double tracker: files, resume, shards, workers."""

import functools
import os

import numpy as np
import pytest

from keras_loretrack.evaluation import Sequence, read_result, runner


def blank_frame(index):
    """A tiny frame (a top-level function, so sequences pickle for workers)."""
    return np.full((8, 8, 3), index % 256, np.uint8)


class OracleTracker:
    """Returns the ground truth plus seeded noise; knows sequences by first box."""

    def __init__(self, ground_truths, noise=2.0):
        self.ground_truths = {tuple(gt[0]): np.asarray(gt) for gt in ground_truths}
        self.noise = noise
        self.initialized = []

    def initialize(self, frame, box):
        assert frame.dtype == np.uint8 and frame.shape == (8, 8, 3)
        self.truth = self.ground_truths[tuple(box)]
        self.index = 0
        self.rng = np.random.default_rng(int(box[0]))
        self.initialized.append(tuple(box))

    def track(self, frame):
        self.index += 1
        assert frame[0, 0, 0] == self.index
        box = self.truth[self.index] + self.rng.normal(0, self.noise, 4)
        box[2:] = np.abs(box[2:]) + 1
        return {"box": box, "score": 1.0 / self.index}


def make_oracle(ground_truths, noise=2.0):
    return OracleTracker(ground_truths, noise)


def make_sequences(count=5):
    rng = np.random.default_rng(1)
    sequences = []
    for k in range(count):
        frames = 4 + k
        gt = np.cumsum(rng.uniform(1, 3, (frames, 4)), axis=0) + [10 * k, 0, 20, 20]
        sequences.append(
            Sequence(f"seq{k}", blank_frame, gt, dataset="fake", num_frames=frames)
        )
    return sequences[::-1]  # not in name order


@pytest.fixture
def sequences():
    return make_sequences()


@pytest.fixture
def factory(sequences):
    return functools.partial(make_oracle, [s.ground_truth for s in sequences])


def test_track_sequence(sequences, factory):
    sequence = sequences[0]
    out = runner.track_sequence(factory(), sequence)
    assert out["boxes"].shape == (len(sequence), 4)
    np.testing.assert_array_equal(out["boxes"][0], sequence.ground_truth[0])
    assert np.abs(out["boxes"][1:] - sequence.ground_truth[1:]).max() < 20
    assert (out["times"] >= 0).all() and np.isnan(out["scores"][0])
    np.testing.assert_allclose(out["scores"][1:], 1 / np.arange(1, len(sequence)))


def test_run_writes_every_sequence(tmp_path, sequences, factory):
    summary = runner.run_evaluation(
        factory, sequences, tmp_path, "oracle", "fake", progress=False
    )
    assert summary["tracked"] == sorted(s.name for s in sequences)
    assert summary["frames"] == sum(len(s) for s in sequences)
    directory = os.path.join(tmp_path, "oracle", "fake")
    assert summary["directory"] == directory
    for sequence in sequences:
        written = read_result(directory, sequence.name)
        expected = runner.track_sequence(factory(), sequence)
        np.testing.assert_allclose(written["boxes"], expected["boxes"], atol=1e-4)
        np.testing.assert_allclose(written["scores"], expected["scores"], atol=1e-6)
        assert written["times"].shape == (len(sequence),)


def test_resume_skips_finished_sequences(tmp_path, sequences, factory):
    runner.run_evaluation(
        factory, sequences, tmp_path, "oracle", "fake", progress=False
    )
    directory = tmp_path / "oracle" / "fake"
    # A killed run: seq2's boxes never renamed into place, a temp file left.
    (directory / "seq2.txt").unlink()
    (directory / "seq2.txt.tmp-4242").write_text("1,2,3")
    before = {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}
    trackers = []

    def recording_factory():
        trackers.append(factory())
        return trackers[-1]

    summary = runner.run_evaluation(
        recording_factory, sequences, tmp_path, "oracle", "fake", progress=False
    )
    assert summary["tracked"] == ["seq2"]
    assert summary["skipped"] == ["seq0", "seq1", "seq3", "seq4"]
    assert len(trackers) == 1 and len(trackers[0].initialized) == 1
    for path in directory.iterdir():
        if not path.name.startswith("seq2"):
            assert path.stat().st_mtime_ns == before[path.name]
    assert read_result(directory, "seq2")["boxes"].shape == (6, 4)

    def failing_factory():
        raise AssertionError("no tracker is needed when everything is done")

    summary = runner.run_evaluation(
        failing_factory, sequences, tmp_path, "oracle", "fake", progress=False
    )
    assert summary["tracked"] == [] and len(summary["skipped"]) == 5


def test_shards_partition_the_sorted_sequences(tmp_path, sequences, factory):
    names = sorted(s.name for s in sequences)
    shards = [
        [s.name for s in runner.shard_sequences(sequences, (i, 3))] for i in range(3)
    ]
    assert shards == [names[0::3], names[1::3], names[2::3]]
    assert shards == [
        [s.name for s in runner.shard_sequences(sequences[::-1], (i, 3))]
        for i in range(3)
    ]
    tracked = [
        runner.run_evaluation(
            factory, sequences, tmp_path, "o", "fake", shard=(i, 2), progress=False
        )["tracked"]
        for i in range(2)
    ]
    assert not set(tracked[0]) & set(tracked[1])
    assert sorted(tracked[0] + tracked[1]) == names
    assert runner.parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "-1/2", "a/b", "1"):
        with pytest.raises(ValueError, match="0 <= i < n|'i/n'"):
            runner.parse_shard(bad)


def test_workers_give_the_same_results(tmp_path, sequences, factory):
    summary = runner.run_evaluation(
        factory, sequences, tmp_path, "par", "fake", workers=2, progress=False
    )
    assert sorted(summary["tracked"]) == sorted(s.name for s in sequences)
    for sequence in sequences:
        written = read_result(tmp_path / "par" / "fake", sequence.name)
        expected = runner.track_sequence(factory(), sequence)
        np.testing.assert_allclose(written["boxes"], expected["boxes"], atol=1e-4)
    with pytest.raises(TypeError, match="must be picklable"):
        runner.run_evaluation(
            lambda: factory(), sequences, tmp_path, "lam", "fake", workers=2
        )


class BrokenTracker(OracleTracker):
    def track(self, frame):
        if self.index == 2:
            raise ZeroDivisionError("boom")
        return super().track(frame)


def test_tracker_failures_name_sequence_and_frame(tmp_path, sequences):
    tracker = BrokenTracker([s.ground_truth for s in sequences])
    with pytest.raises(RuntimeError, match=r"'seq4', frame 3: ZeroDivisionError"):
        runner.track_sequence(tracker, sequences[0])
    tracker.track = lambda frame: {"box": [np.nan, 0, 1, 1], "score": 0.0}
    with pytest.raises(ValueError, match=r"'seq4', frame 1: expected 4 finite"):
        runner.track_sequence(tracker, sequences[0])
    with pytest.raises(ValueError, match="workers must be >= 1"):
        runner.run_evaluation(lambda: tracker, sequences, tmp_path, "t", "d", workers=0)
