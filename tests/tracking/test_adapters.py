"""The got10k toolkit and pytracking adapters give the `Tracker`'s own boxes."""

import collections
import os
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from keras_loretrack.tracking import Tracker, adapters
from tests.presets import TINY_TEST

INIT_BOX = (40.0, 30.0, 24.0, 18.0)
SEQUENCES = ("GOT-10k_Test_000001", "GOT-10k_Test_000002")


def synthetic_frames(count=6, seed=0, size=(96, 128)):
    """A textured square drifting over noise: RGB uint8 frames."""
    rng = np.random.default_rng(seed)
    height, width = size
    background = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    patch = rng.integers(0, 256, (18, 24, 3), dtype=np.uint8)
    frames = []
    for index in range(count):
        frame = np.roll(background, index, axis=1).copy()
        y, x = 30 + index, 40 + 2 * index
        frame[y : y + 18, x : x + 24] = patch
        frames.append(frame)
    return frames


def write_frames(folder, frames):
    """Writes frames as `%08d.jpg` files holding PNG data: the toolkit globs
    `*.jpg`, and lossless data makes PIL and OpenCV decode the same pixels."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for index, frame in enumerate(frames, start=1):
        path = os.path.join(folder, f"{index:08d}.jpg")
        Image.fromarray(frame).save(path, format="PNG")
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def tiny_tracker():
    return Tracker.from_preset(TINY_TEST, load_weights=False)


def reference_boxes(tracker, frames, box=INIT_BOX):
    tracker.initialize(frames[0], box)
    return np.stack([box] + [tracker.track(f)["box"] for f in frames[1:]])


def test_got10k_adapter_is_a_toolkit_tracker(tiny_tracker):
    from got10k.trackers import Tracker as ToolkitTracker

    tracker = adapters.Got10kTracker(tiny_tracker, name="tiny")
    assert isinstance(tracker, ToolkitTracker)
    assert tracker.name == "tiny" and tracker.is_deterministic
    from keras_loretrack.tracking.adapters import Got10kTracker

    assert Got10kTracker is type(tracker)


def test_got10k_toolkit_loop_matches_tracker(tiny_tracker, tmp_path):
    frames = synthetic_frames()
    paths = write_frames(tmp_path / "seq", frames)
    tracker = adapters.Got10kTracker(tiny_tracker, name="tiny")
    boxes, times = tracker.track(paths, np.asarray(INIT_BOX))
    decoded = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    np.testing.assert_array_equal(decoded[3], frames[3])
    expected = reference_boxes(tiny_tracker, decoded)
    np.testing.assert_array_equal(boxes, expected)
    assert times.shape == (len(frames),) and (times > 0).all()
    assert np.isfinite(tracker.last_score)


def test_got10k_experiment_writes_the_packed_layout(tiny_tracker, tmp_path):
    """ExperimentGOT10k runs the adapter, and its result files carry the names
    and boxes that `loretrack eval` + `pack` put in the submission zip."""
    import zipfile

    from got10k.experiments import ExperimentGOT10k

    from keras_loretrack.evaluation import get_dataset, run_evaluation
    from keras_loretrack.evaluation.submission import pack_submission

    root = tmp_path / "GOT10k"
    (root / "test").mkdir(parents=True)
    (root / "test" / "list.txt").write_text("\n".join(SEQUENCES) + "\n")
    for k, name in enumerate(SEQUENCES):
        write_frames(root / "test" / name, synthetic_frames(5 + k, seed=k))
        (root / "test" / name / "groundtruth.txt").write_text(
            ",".join(f"{v:g}" for v in INIT_BOX) + "\n"
        )
    experiment = ExperimentGOT10k(
        str(root),
        subset="test",
        result_dir=str(tmp_path / "toolkit"),
        report_dir=str(tmp_path / "reports"),
    )
    sleep = sys.modules["got10k.experiments.got10k"].time
    original_sleep = sleep.sleep
    sleep.sleep = lambda seconds: None  # the toolkit's 2 s warning pause
    try:
        experiment.run(adapters.Got10kTracker(tiny_tracker, name="tiny"))
    finally:
        sleep.sleep = original_sleep

    run_evaluation(
        lambda: tiny_tracker,
        get_dataset("got10k", root, "test"),
        tmp_path / "results",
        "tiny",
        "got10k_test",
        progress=False,
    )
    output = tmp_path / "submission.zip"
    pack_submission("got10k", tmp_path / "results", root, output)
    toolkit_dir = tmp_path / "toolkit" / "GOT-10k" / "tiny"
    toolkit_files = sorted(
        os.path.relpath(os.path.join(d, f), toolkit_dir).replace(os.sep, "/")
        for d, _, names in os.walk(toolkit_dir)
        for f in names
    )
    with zipfile.ZipFile(output) as archive:
        packed = sorted(n for n in archive.namelist() if not n.endswith("/"))
        assert packed == toolkit_files
        for name in packed:
            ours = np.loadtxt(archive.open(name), delimiter=",", ndmin=2)
            theirs = np.loadtxt(toolkit_dir / name, delimiter=",", ndmin=2)
            assert ours.shape == theirs.shape
            if not name.endswith("_time.txt"):
                # The toolkit writes 3 decimals, the archive 4.
                np.testing.assert_allclose(ours, theirs, atol=6e-4)


def test_got10k_adapter_without_the_toolkit(tiny_tracker, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "got10k", None)
    monkeypatch.setitem(sys.modules, "got10k.trackers", None)
    cls = adapters.got10k_tracker_class.__wrapped__()
    assert issubclass(cls, adapters._ToolkitTracker)
    frames = synthetic_frames(4, seed=3)
    paths = write_frames(tmp_path / "seq", frames)
    boxes, _ = cls(tiny_tracker, name="tiny").track(paths, INIT_BOX)
    np.testing.assert_array_equal(boxes, reference_boxes(tiny_tracker, frames))


def track_like_pytracking(tracker, frame_paths, init_bbox):
    """What pytracking's `Tracker._track_sequence` does with a tracker."""

    def read_image(path):  # pytracking's `Tracker._read_image`
        return cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)

    output = {"target_bbox": [], "time": []}
    assert not tracker.params.visualization
    out = tracker.initialize(read_image(frame_paths[0]), {"init_bbox": init_bbox})
    out = {} if out is None else out
    prev_output = collections.OrderedDict(out)
    output["target_bbox"].append(out.get("target_bbox", init_bbox))
    for path in frame_paths[1:]:
        info = {"previous_output": prev_output}
        out = tracker.track(read_image(path), info)
        prev_output = collections.OrderedDict(out)
        output["target_bbox"].append(out["target_bbox"])
    return output


def test_pytracking_adapter_matches_tracker(tiny_tracker, tmp_path):
    frames = synthetic_frames(6, seed=1)
    paths = write_frames(tmp_path / "seq", frames)
    tracker = adapters.PytrackingTracker.wrap(tiny_tracker)
    assert not tracker.predicts_segmentation_mask()
    output = track_like_pytracking(tracker, paths, list(INIT_BOX))
    boxes = output["target_bbox"]
    assert all(isinstance(b, list) and len(b) == 4 for b in boxes)
    np.testing.assert_array_equal(
        np.asarray(boxes), reference_boxes(tiny_tracker, frames)
    )


def test_pytracking_adapter_builds_from_params(tmp_path):
    params = adapters.PytrackingParams(preset=TINY_TEST, load_weights=False)
    assert params.get("load_weights") is False and params.get("absent", 3) == 3
    tracker = adapters.PytrackingTracker(params)
    assert isinstance(tracker.tracker, Tracker) and tracker.params is params
    frames = synthetic_frames(2)
    tracker.initialize(frames[0], {"init_bbox": list(INIT_BOX)})
    box = tracker.track(frames[1])["target_bbox"]
    assert len(box) == 4 and np.isfinite(box).all()
    with pytest.raises(ValueError, match="tracker`, `preset` or `model"):
        adapters.PytrackingTracker(adapters.PytrackingParams())
