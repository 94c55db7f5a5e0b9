"""The tracking API under bad input and faults: clear errors, no lost file.

The command line (`loretrack track`) over the same faults is in
`test_track_cli_faults.py`.
"""

import os

import cv2
import numpy as np
import pytest

from keras_loretrack.data.crops import sample_target
from keras_loretrack.sequences import Sequence, read_rgb
from keras_loretrack.tracking import Tracker
from keras_loretrack.tracking import video as video_module
from keras_loretrack.tracking.video import (
    AnnotatedVideoWriter,
    CaptureFrames,
    FolderFrames,
)
from tests.presets import TINY_TEST

# A process id no process has (Linux pids stay below 2**22).
DEAD_PID = 999999999


def frame(value=0, size=(48, 64)):
    image = np.full((*size, 3), value, np.uint8)
    cv2.rectangle(image, (20, 15), (35, 30), (255, 255, 255), -1)
    return image


@pytest.fixture(scope="module")
def tracker():
    return Tracker.from_preset(TINY_TEST, load_weights=False)


def write_avi(path, count):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(count):
        writer.write(frame(10 * i))
    writer.release()


def test_truncated_jpeg_in_a_folder_stops_naming_the_file(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.jpg"), frame(10 * i))
    bad = tmp_path / "1.jpg"
    bad.write_bytes(bad.read_bytes()[:300])
    frames = iter(FolderFrames(tmp_path))
    assert next(frames).shape == (48, 64, 3)
    with pytest.raises(ValueError, match=rf"^Image file {bad} is truncated: it has"):
        next(frames)


def test_truncated_png_is_refused(tmp_path):
    path = tmp_path / "f.png"
    cv2.imwrite(str(path), frame())
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match=rf"Image file {path} is truncated"):
        read_rgb(path)


def test_undecodable_image_names_the_file(tmp_path):
    path = tmp_path / "f.jpg"
    path.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=rf"Could not decode image file {path}"):
        read_rgb(path)


def test_frames_of_mixed_sizes_stop_at_the_first_odd_one(tmp_path):
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"{i}.png"), frame(size=(50 if i > 1 else 48, 64)))
    frames = iter(FolderFrames(tmp_path))
    next(frames), next(frames)
    with pytest.raises(ValueError) as error:
        next(frames)
    assert str(error.value) == (
        f"Frame {tmp_path / '2.png'} is 64x50, the frames before it 64x48: the "
        "frames of one folder must have one size"
    )


def test_truncated_video_stops_naming_the_frame(tmp_path):
    path = tmp_path / "clip.avi"
    write_avi(path, 20)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    read = 0
    with CaptureFrames(str(path)) as source, pytest.raises(ValueError) as error:
        for _ in source:
            read += 1
    assert 0 < read < 20
    assert str(error.value) == (
        f"Could not read frame {read} of video file {path}, which says it has 20 "
        "frames (truncated or corrupt)"
    )


def test_a_file_that_is_no_video_is_refused(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\0" * 1000)
    with pytest.raises(OSError, match=rf"Could not open video file {path} with"):
        CaptureFrames(str(path))


REAL_VIDEO_WRITER = cv2.VideoWriter


class DroppingWriter:
    """A cv2.VideoWriter whose writes stop landing after two frames (a full disk)."""

    def __init__(self, *args):
        self._writer = REAL_VIDEO_WRITER(*args)
        self._count = 0

    def isOpened(self):
        return self._writer.isOpened()

    def write(self, image):
        self._count += 1
        if self._count <= 2:
            self._writer.write(image)

    def release(self):
        self._writer.release()


def test_a_video_missing_frames_keeps_the_old_file(tmp_path, monkeypatch):
    output = tmp_path / "tracked.mp4"
    output.write_bytes(b"my earlier video")
    monkeypatch.setattr(video_module.cv2, "VideoWriter", DroppingWriter)
    writer = AnnotatedVideoWriter(output, fps=5)
    for _ in range(4):
        writer.write(frame())
    with pytest.raises(OSError) as error:
        writer.close()
    assert str(error.value) == (
        f"Could not write {output}: 4 frames were written, the file holds 2 "
        "(disk full?); any existing file was left as it was"
    )
    assert output.read_bytes() == b"my earlier video"
    assert os.listdir(tmp_path) == ["tracked.mp4"]


def test_a_video_left_by_an_error_is_deleted_and_the_old_kept(tmp_path):
    output = tmp_path / "tracked.mp4"
    output.write_bytes(b"my earlier video")
    with pytest.raises(RuntimeError, match="tracking failed"):
        with AnnotatedVideoWriter(output, fps=5) as writer:
            writer.write(frame())
            raise RuntimeError("tracking failed")
    assert output.read_bytes() == b"my earlier video"
    assert os.listdir(tmp_path) == ["tracked.mp4"]


def test_partial_videos_of_killed_runs_are_removed(tmp_path):
    output = tmp_path / "tracked.mp4"
    stale = tmp_path / f".partial-{DEAD_PID}-abc_1234-tracked.mp4"
    legacy = tmp_path / f"tracked.tmp-{DEAD_PID}.mp4"  # keras_loretrack 0.1.0
    live = tmp_path / f".partial-{os.getppid()}-abc_1234-tracked.mp4"
    other = tmp_path / f".partial-{DEAD_PID}-abc_1234-other.mp4"
    for path in (stale, legacy, live, other):
        path.write_bytes(b"half a video")
    with AnnotatedVideoWriter(output, fps=5) as writer:
        writer.write(frame())
    assert not stale.exists() and not legacy.exists() and not other.exists()
    assert live.read_bytes() == b"half a video"
    assert output.stat().st_size > 0


@pytest.mark.parametrize(
    "box, message",
    [
        ([20, 15, np.nan, 15], "Box must be finite (no NaN or inf)"),
        ([20, np.inf, 15, 15], "Box must be finite (no NaN or inf)"),
        ([20, 15, 0, 15], "Box width and height must be > 0, got w=0.0, h=15.0"),
        ([20, 15, 15, -3], "Box width and height must be > 0, got w=15.0, h=-3.0"),
        ([1e9, 1, 2, 3], "lies entirely outside the 64x48 frame"),
        ([-50, 0, 40, 10], "lies entirely outside the 64x48 frame"),
        ([0, 0, 20000, 20000], "is 20000x20000, more than 2x the 64x48 frame"),
        ([0, 0, 1e9, 1e9], "is 1e+09x1e+09, more than 2x the 64x48 frame"),
        ([1, 2, 3], "Box must be 4 numbers x, y, w, h, got shape (3,)"),
        (["a", 2, 3, 4], "Box must be 4 numbers x, y, w, h, got ['a', 2, 3, 4]"),
    ],
)
def test_bad_initial_boxes(tracker, box, message):
    with pytest.raises(ValueError) as error:
        tracker.initialize(frame(), box)
    assert message in str(error.value)


def test_a_crop_far_larger_than_the_image_is_refused_without_allocating():
    with pytest.raises(ValueError) as error:
        sample_target(frame(), [0, 0, 1e9, 1e9], 5.0, 64)
    assert str(error.value) == (
        "Crop of box [0.0, 0.0, 1000000000.0, 1000000000.0] with factor 5 is "
        "5000000000 px wide, more than 32x the 64x48 image: the box is far larger "
        "than the image"
    )
    with pytest.raises(ValueError, match="with factor 5.0 is too large"):
        sample_target(frame(), [0, 0, 1e300, 1e300], 5.0, 64)


def test_a_tiny_box_yields_boxes_inside_the_frame(tracker):
    tracker.initialize(frame(), [30, 20, 1e-6, 1e-6])
    for _ in range(3):
        x, y, w, h = tracker.track(frame())["box"]
        assert 0 <= x and x + w <= 64 and 0 <= y and y + h <= 48
        assert w >= 10 and h >= 10


@pytest.mark.parametrize("size", [(1, 1), (3, 200)])
def test_frames_smaller_than_the_clip_margin_keep_boxes_inside(tracker, size):
    image = np.zeros((*size, 3), np.uint8)
    tracker.initialize(image, [0, 0, 1, 1])
    for _ in range(2):
        x, y, w, h = tracker.track(image)["box"]
        assert 0 <= x and x + w <= size[1] and 0 <= y and y + h <= size[0]
        assert w > 0 and h > 0


@pytest.mark.parametrize(
    "image, error, message",
    [
        (np.zeros((48, 64, 3), np.float32), TypeError, "got dtype float32"),
        (np.zeros((48, 64, 2), np.uint8), ValueError, r"1, 3 or 4 channels.*got 2"),
        (np.zeros((0, 64, 3), np.uint8), ValueError, r"Frame is empty: shape \(0,"),
        (np.zeros((1, 48, 64, 3), np.uint8), ValueError, r"got \(1, 48, 64, 3\)"),
        ([[0, 1], [2, 3]], TypeError, "numpy uint8 arrays .* got list"),
    ],
)
def test_bad_frames_from_python(tracker, image, error, message):
    with pytest.raises(error, match=message):
        tracker.initialize(image, [20, 15, 15, 15])
    tracker.initialize(frame(), [20, 15, 15, 15])
    with pytest.raises(error, match=message):
        tracker.track(image)


def test_track_before_initialize_says_so():
    fresh = Tracker.from_preset(TINY_TEST, load_weights=False)
    with pytest.raises(RuntimeError, match="track called before Tracker.initialize"):
        fresh.track(frame())


@pytest.mark.parametrize("first_row", [[np.nan] * 4, [1, 2, 0, 4], [1, np.inf, 3, 4]])
def test_a_sequence_without_a_first_box_says_so(first_row):
    sequence = Sequence(
        name="seq",
        frames=lambda i: frame(),
        num_frames=2,
        ground_truth=np.array([first_row, [1, 2, 3, 4]], dtype=np.float64),
    )
    with pytest.raises(ValueError) as error:
        _ = sequence.init_box
    assert str(error.value) == (
        "Sequence 'seq' has no initial box: its first ground-truth row is "
        f"{np.asarray(first_row, dtype=np.float64).tolist()}"
    )
