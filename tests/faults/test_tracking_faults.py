"""Tracking under bad input and faults: clear errors, no traceback, no lost file."""

import errno
import os

import cv2
import numpy as np
import pytest

from keras_loretrack.cli.main import main
from keras_loretrack.sequences import Sequence, read_rgb
from keras_loretrack.tracking import Tracker
from keras_loretrack.tracking import video as video_module
from keras_loretrack.tracking.video import AnnotatedVideoWriter, CaptureFrames
from tests.presets import TINY_TEST

BASE = ["track", "--preset", TINY_TEST, "--no-weights"]


def frame(value=0, size=(48, 64)):
    image = np.full((*size, 3), value, np.uint8)
    cv2.rectangle(image, (20, 15), (35, 30), (255, 255, 255), -1)
    return image


@pytest.fixture
def frames_dir(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(5):
        cv2.imwrite(str(folder / f"{i + 1:04d}.jpg"), frame(10 * i))
    return folder


@pytest.fixture(scope="module")
def tracker():
    return Tracker.from_preset(TINY_TEST, load_weights=False)


def run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.err


def one_line(error, prefix="loretrack track: "):
    """The one message line of stderr (the progress bar may be there too)."""
    assert "Traceback" not in error, error
    lines = [line for line in error.splitlines() if line.startswith("loretrack")]
    assert len(lines) == 1 and lines[0].startswith(prefix), error
    return lines[0]


def test_truncated_jpeg_stops_naming_the_file(frames_dir, tmp_path, capsys):
    bad = frames_dir / "0003.jpg"
    bad.write_bytes(bad.read_bytes()[:300])
    status, error = run(
        BASE + ["--frames", str(frames_dir), "--init", "20,15,15,15"], capsys
    )
    assert status == 1
    assert f"Image file {bad} is truncated" in one_line(error)


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


def test_frames_of_mixed_sizes_are_refused(frames_dir, capsys):
    odd = frames_dir / "0004.jpg"
    cv2.imwrite(str(odd), frame(size=(50, 64)))
    status, error = run(
        BASE + ["--frames", str(frames_dir), "--init", "20,15,15,15"], capsys
    )
    assert status == 1
    assert f"Frame {odd} is 64x50, the frames before it 64x48" in one_line(error)


def write_avi(path, count):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(count):
        writer.write(frame(10 * i))
    writer.release()


def test_truncated_video_stops_naming_the_frame(tmp_path):
    path = tmp_path / "clip.avi"
    write_avi(path, 20)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with CaptureFrames(str(path)) as source, pytest.raises(ValueError) as error:
        for _ in source:
            pass
    message = str(error.value)
    assert message.startswith("Could not read frame ")
    assert "says it has 20 frames (truncated or corrupt)" in message


def test_output_video_that_is_the_input_is_refused(tmp_path, capsys):
    path = tmp_path / "clip.avi"
    write_avi(path, 5)
    before = path.read_bytes()
    status, error = run(
        BASE
        + ["--video", str(path), "--init", "20,15,15,15"]
        + ["--output-video", str(path)],
        capsys,
    )
    assert status == 2
    assert "--output-video" in one_line(error) and "input" in error
    assert path.read_bytes() == before


def test_output_boxes_over_an_input_frame_is_refused(frames_dir, capsys):
    target = frames_dir / "0002.jpg"
    before = target.read_bytes()
    status, error = run(
        BASE
        + ["--frames", str(frames_dir), "--init", "20,15,15,15"]
        + ["--output-boxes", str(target)],
        capsys,
    )
    assert status == 2
    assert "is one of the input frames" in one_line(error)
    assert target.read_bytes() == before


@pytest.mark.parametrize(
    "where, message",
    [
        (lambda tmp: "/proc/loretrack-boxes.txt", "Cannot write the --output-boxes"),
        (lambda tmp: str(tmp / "afile" / "boxes.txt"), "Cannot write the --output"),
        (lambda tmp: str(tmp), "is a folder, expected a file"),
    ],
)
def test_unwritable_outputs_fail_before_tracking(
    frames_dir, tmp_path, capsys, monkeypatch, where, message
):
    (tmp_path / "afile").write_text("x")
    tracked = []
    monkeypatch.setattr(
        "keras_loretrack.cli.track.track_frames",
        lambda *a, **k: tracked.append(1),
    )
    status, error = run(
        BASE
        + ["--frames", str(frames_dir), "--init", "20,15,15,15"]
        + ["--output-boxes", where(tmp_path)],
        capsys,
    )
    assert status == 2 and not tracked
    assert message in one_line(error)
    assert (tmp_path / "afile").read_text() == "x"


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


def test_a_video_that_cannot_be_written_keeps_the_old_one(
    frames_dir, tmp_path, capsys, monkeypatch
):
    output = tmp_path / "tracked.mp4"
    output.write_bytes(b"my earlier video")
    monkeypatch.setattr(video_module.cv2, "VideoWriter", DroppingWriter)
    status, error = run(
        BASE
        + ["--frames", str(frames_dir), "--init", "20,15,15,15"]
        + ["--output-video", str(output)],
        capsys,
    )
    assert status == 1
    assert "5 frames were written, the file holds 2" in one_line(error)
    assert output.read_bytes() == b"my earlier video"
    assert sorted(os.listdir(tmp_path)) == ["frames", "tracked.mp4"]


def test_a_full_disk_for_the_boxes_keeps_the_old_file(
    frames_dir, tmp_path, capsys, monkeypatch
):
    import keras_loretrack.sequences as sequences

    output = tmp_path / "boxes.txt"
    output.write_text("1,2,3,4\n")

    def full_disk(path, boxes):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(sequences, "write_boxes", full_disk)
    status, error = run(
        BASE
        + ["--frames", str(frames_dir), "--init", "20,15,15,15"]
        + ["--output-boxes", str(output)],
        capsys,
    )
    assert status == 1
    assert "No space left on device" in one_line(error)
    assert output.read_text() == "1,2,3,4\n"


def test_partial_videos_of_killed_runs_are_removed(frames_dir, tmp_path):
    output = tmp_path / "tracked.mp4"
    stale = tmp_path / ".tracked.mp4.partial-999999999.mp4"
    stale.write_bytes(b"half a video")
    live = tmp_path / f".tracked.mp4.partial-{os.getppid()}.mp4"
    live.write_bytes(b"another run, still writing")
    with AnnotatedVideoWriter(output, fps=5) as writer:
        writer.write(frame())
    assert not stale.exists() and live.exists()
    assert output.stat().st_size > 0


@pytest.mark.parametrize(
    "init, status, message",
    [
        ("0,0,20000,20000", 1, "more than 2x the 64x48 frame"),
        ("1e9,1,2,3", 1, "lies entirely outside the 64x48 frame"),
        ("20,15,0,15", 1, "Box width and height must be > 0"),
        ("20,15,nan,15", 1, "Box must be finite"),
        ("20,15,15", 2, "--init must be four numbers x,y,w,h, got '20,15,15'"),
    ],
)
def test_bad_initial_boxes(frames_dir, capsys, init, status, message):
    code, error = run(BASE + ["--frames", str(frames_dir), "--init", init], capsys)
    assert code == status
    assert message in one_line(error)


def test_negative_init_is_taken(frames_dir, tmp_path, capsys):
    boxes = tmp_path / "boxes.txt"
    status = main(
        BASE
        + ["--frames", str(frames_dir), "--init", "-10,-5,40,30"]
        + ["--output-boxes", str(boxes)]
    )
    assert status == 0
    assert np.loadtxt(boxes, delimiter=",")[0].tolist() == [-10, -5, 40, 30]


def test_max_frames_below_one_is_refused(frames_dir, capsys):
    status, error = run(
        BASE
        + ["--frames", str(frames_dir), "--init", "20,15,15,15", "--max-frames", "0"],
        capsys,
    )
    assert status == 2 and "--max-frames must be >= 1, got 0" in one_line(error)


def test_a_tiny_box_yields_boxes_inside_the_frame(tracker):
    tracker.initialize(frame(), [30, 20, 1e-6, 1e-6])
    x, y, w, h = tracker.track(frame())["box"]
    assert 0 <= x and x + w <= 64 and 0 <= y and y + h <= 48 and w > 0 and h > 0


def test_a_one_pixel_frame_yields_a_box_inside_it(tracker):
    pixel = np.zeros((1, 1, 3), np.uint8)
    tracker.initialize(pixel, [0, 0, 1, 1])
    np.testing.assert_array_equal(tracker.track(pixel)["box"], [0, 0, 1, 1])


@pytest.mark.parametrize(
    "image, error, message",
    [
        (np.zeros((48, 64, 3), np.float32), TypeError, "uint8"),
        (np.zeros((48, 64, 2), np.uint8), ValueError, "channels"),
        (np.zeros((0, 64, 3), np.uint8), ValueError, "empty"),
    ],
)
def test_bad_frames_from_python(tracker, image, error, message):
    with pytest.raises(error, match=message):
        tracker.initialize(image, [20, 15, 15, 15])


def test_a_sequence_without_a_first_box_says_so():
    sequence = Sequence(
        name="seq",
        frames=lambda i: frame(),
        num_frames=2,
        ground_truth=np.array([[np.nan] * 4, [1, 2, 3, 4]]),
    )
    with pytest.raises(ValueError, match="Sequence 'seq' has no initial box"):
        _ = sequence.init_box
