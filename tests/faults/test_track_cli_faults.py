"""`loretrack track` under bad input and faults: one line, an exit code, no lost file.

Exit 2 is a bad argument or input found before tracking, exit 1 a failure while
working. Every case that could touch an existing file checks it is unchanged.
"""

import errno
import os
import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from keras_loretrack.cli.main import main
from keras_loretrack.tracking import video as video_module
from tests.presets import TINY_TEST

BASE = ["track", "--preset", TINY_TEST, "--no-weights"]
INIT = ["--init", "20,15,15,15"]
DEAD_PID = 999999999


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


@pytest.fixture
def old_boxes(tmp_path):
    """An earlier boxes file that a failing run must leave as it is."""
    path = tmp_path / "boxes.txt"
    path.write_text("1,2,3,4\n")
    return path


def run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.err, captured.out


def one_line(error):
    """The one message line of stderr (the progress bar may be there too)."""
    assert "Traceback" not in error, error
    lines = [line for line in error.splitlines() if line.startswith("loretrack")]
    assert len(lines) == 1 and lines[0].startswith("loretrack track: "), error
    return lines[0]


def write_avi(path, count):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(count):
        writer.write(frame(10 * i))
    writer.release()


def test_truncated_jpeg_stops_naming_the_file(frames_dir, old_boxes, capsys):
    bad = frames_dir / "0003.jpg"
    bad.write_bytes(bad.read_bytes()[:300])
    status, error, _ = run(
        BASE + ["--frames", str(frames_dir), *INIT, "--output-boxes", str(old_boxes)],
        capsys,
    )
    assert status == 1
    assert f"Image file {bad} is truncated" in one_line(error)
    assert old_boxes.read_text() == "1,2,3,4\n"


def test_frames_of_mixed_sizes_are_refused(frames_dir, old_boxes, capsys):
    odd = frames_dir / "0004.jpg"
    cv2.imwrite(str(odd), frame(size=(50, 64)))
    status, error, _ = run(
        BASE + ["--frames", str(frames_dir), *INIT, "--output-boxes", str(old_boxes)],
        capsys,
    )
    assert status == 1
    assert f"Frame {odd} is 64x50, the frames before it 64x48" in one_line(error)
    assert old_boxes.read_text() == "1,2,3,4\n"


def test_truncated_video_stops_naming_the_frame(tmp_path, old_boxes, capsys):
    video = tmp_path / "clip.avi"
    write_avi(video, 20)
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    status, error, _ = run(
        BASE + ["--video", str(video), *INIT, "--output-boxes", str(old_boxes)],
        capsys,
    )
    assert status == 1
    assert re.search(
        rf"Could not read frame \d+ of video file {video}, which says it has 20 "
        r"frames \(truncated or corrupt\)",
        one_line(error),
    )
    assert old_boxes.read_text() == "1,2,3,4\n"


@pytest.mark.parametrize(
    "source, message",
    [
        (["--video", "missing.mp4"], "Video file not found: missing.mp4"),
        (["--frames", "missing"], "Frame folder not found: missing"),
        (["--camera", "-1"], "Camera index must be >= 0, got -1"),
    ],
)
def test_missing_sources(tmp_path, monkeypatch, capsys, source, message):
    monkeypatch.chdir(tmp_path)
    status, error, _ = run(BASE + source + INIT, capsys)
    assert status == 2 and message in one_line(error)


def test_a_file_that_is_no_video_is_refused(tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0" * 1000)
    status, error, _ = run(BASE + ["--video", str(video), *INIT], capsys)
    assert status == 2
    assert f"Could not open video file {video} with OpenCV" in one_line(error)


def test_output_video_that_is_the_input_is_refused(tmp_path, capsys):
    video = tmp_path / "clip.avi"
    write_avi(video, 5)
    before = video.read_bytes()
    status, error, _ = run(
        BASE + ["--video", str(video), *INIT, "--output-video", str(video)], capsys
    )
    assert status == 2
    assert f"--output-video {video} is one of the input frames or video" in one_line(
        error
    )
    assert video.read_bytes() == before


@pytest.mark.parametrize("link", [os.symlink, os.link])
def test_output_video_linked_to_the_input_is_refused(tmp_path, capsys, link):
    video = tmp_path / "clip.avi"
    write_avi(video, 5)
    before = video.read_bytes()
    alias = tmp_path / "alias.avi"
    link(video, alias)
    status, error, _ = run(
        BASE + ["--video", str(video), *INIT, "--output-video", str(alias)], capsys
    )
    assert status == 2
    assert f"--output-video {alias} is one of the input" in one_line(error)
    assert video.read_bytes() == before


def test_output_boxes_over_an_input_frame_is_refused(frames_dir, capsys):
    target = frames_dir / "0002.jpg"
    before = target.read_bytes()
    status, error, _ = run(
        BASE + ["--frames", str(frames_dir), *INIT, "--output-boxes", str(target)],
        capsys,
    )
    assert status == 2
    assert f"--output-boxes {target} is one of the input frames" in one_line(error)
    assert target.read_bytes() == before


def test_one_file_for_both_outputs_is_refused(frames_dir, tmp_path, capsys):
    out = str(tmp_path / "out.mp4")
    status, error, _ = run(
        BASE
        + ["--frames", str(frames_dir), *INIT]
        + ["--output-video", out, "--output-boxes", out],
        capsys,
    )
    assert status == 2
    assert "--output-video and --output-boxes name the same file" in one_line(error)


@pytest.fixture
def no_tracking(monkeypatch):
    """Records whether tracking started (it must not, for a bad output)."""
    calls = []
    monkeypatch.setattr(
        "keras_loretrack.cli.track.track_frames", lambda *a, **k: calls.append(1)
    )
    return calls


@pytest.mark.parametrize(
    "where, message",
    [
        (
            lambda tmp: "/proc/loretrack-boxes.txt",
            "Cannot write the --output-boxes /proc/loretrack-boxes.txt: ",
        ),
        (
            lambda tmp: str(tmp / "afile" / "boxes.txt"),
            "Cannot write the --output-boxes {tmp}/afile/boxes.txt: ",
        ),
        (
            lambda tmp: str(tmp),
            "The --output-boxes {tmp} is a folder, expected a file",
        ),
    ],
)
def test_unwritable_outputs_fail_before_tracking(
    frames_dir, tmp_path, capsys, no_tracking, where, message
):
    (tmp_path / "afile").write_text("x")
    status, error, _ = run(
        BASE
        + ["--frames", str(frames_dir), *INIT]
        + ["--output-boxes", where(tmp_path)],
        capsys,
    )
    assert status == 2 and not no_tracking
    assert message.format(tmp=tmp_path) in one_line(error)
    assert (tmp_path / "afile").read_text() == "x"


def test_a_read_only_folder_fails_before_tracking(
    frames_dir, tmp_path, capsys, monkeypatch, no_tracking
):
    """The probe file of `check_writable` meets a read-only file system."""
    import keras_loretrack.atomic_files as atomic_files

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic_files.tempfile, "mkstemp", read_only)
    output = tmp_path / "tracked.mp4"
    status, error, _ = run(
        BASE + ["--frames", str(frames_dir), *INIT, "--output-video", str(output)],
        capsys,
    )
    assert status == 2 and not no_tracking
    assert (
        f"Cannot write the --output-video {output}: Read-only file system"
        in one_line(error)
    )


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
    boxes = tmp_path / "boxes.txt"
    monkeypatch.setattr(video_module.cv2, "VideoWriter", DroppingWriter)
    status, error, out = run(
        BASE
        + ["--frames", str(frames_dir), *INIT]
        + ["--output-video", str(output), "--output-boxes", str(boxes)],
        capsys,
    )
    assert status == 1
    assert one_line(error) == (
        f"loretrack track: --output-video: Could not write {output}: 5 frames were "
        "written, the file holds 2 (disk full?); any existing file was left as it was"
    )
    assert "annotated video:" not in out
    assert output.read_bytes() == b"my earlier video"
    # The boxes, written independently, are kept; no temporary file is left.
    assert np.loadtxt(boxes, delimiter=",").shape == (5, 4)
    assert sorted(os.listdir(tmp_path)) == ["boxes.txt", "frames", "tracked.mp4"]


def test_a_full_disk_for_the_boxes_keeps_the_old_file(
    frames_dir, tmp_path, old_boxes, capsys, monkeypatch
):
    import keras_loretrack.sequences as sequences

    def full_disk(path, boxes):
        with open(path, "w") as f:
            f.write("0,0,")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sequences, "write_boxes", full_disk)
    status, error, out = run(
        BASE + ["--frames", str(frames_dir), *INIT, "--output-boxes", str(old_boxes)],
        capsys,
    )
    assert status == 1
    assert one_line(error) == (
        f"loretrack track: could not write --output-boxes {old_boxes}: No space "
        "left on device; any existing file was left as it was"
    )
    assert "boxes:" not in out and "tracked 5 frames" in out
    assert old_boxes.read_text() == "1,2,3,4\n"
    assert sorted(os.listdir(tmp_path)) == ["boxes.txt", "frames"]


def test_a_boxes_file_missing_rows_keeps_the_old_file(
    frames_dir, tmp_path, old_boxes, capsys, monkeypatch
):
    import keras_loretrack.sequences as sequences

    real_write_boxes = sequences.write_boxes
    monkeypatch.setattr(
        sequences, "write_boxes", lambda path, boxes: real_write_boxes(path, boxes[:3])
    )
    status, error, _ = run(
        BASE + ["--frames", str(frames_dir), *INIT, "--output-boxes", str(old_boxes)],
        capsys,
    )
    assert status == 1
    assert one_line(error) == (
        f"loretrack track: --output-boxes: Could not write {old_boxes}: 3 rows were "
        "written for 5 frames; any existing file was left as it was"
    )
    assert old_boxes.read_text() == "1,2,3,4\n"
    assert sorted(os.listdir(tmp_path)) == ["boxes.txt", "frames"]


def test_temporaries_of_killed_runs_are_removed(frames_dir, tmp_path, capsys):
    video, boxes = tmp_path / "tracked.mp4", tmp_path / "boxes.txt"
    orphans = [
        tmp_path / f".partial-{DEAD_PID}-k1ll3d_x-tracked.mp4",
        tmp_path / f"tracked.tmp-{DEAD_PID}.mp4",  # keras_loretrack 0.1.0
        tmp_path / f".partial-{DEAD_PID}-k1ll3d_x-boxes.txt",
    ]
    live = tmp_path / f".partial-{os.getppid()}-r4nn1ng_-tracked.mp4"
    for path in orphans + [live]:
        path.write_bytes(b"half written")
    status, _, _ = run(
        BASE
        + ["--frames", str(frames_dir), *INIT]
        + ["--output-video", str(video), "--output-boxes", str(boxes)],
        capsys,
    )
    assert status == 0
    assert sorted(os.listdir(tmp_path)) == sorted(
        [live.name, "boxes.txt", "frames", "tracked.mp4"]
    )
    assert live.read_bytes() == b"half written"


@pytest.mark.parametrize(
    "init, message",
    [
        ("0,0,20000,20000", "is 20000x20000, more than 2x the 64x48 frame"),
        ("0,0,1e9,1e9", "is 1e+09x1e+09, more than 2x the 64x48 frame"),
        ("1e9,1,2,3", "lies entirely outside the 64x48 frame"),
        ("20,15,0,15", "--init width and height must be > 0, got '20,15,0,15'"),
        ("20,15,nan,15", "--init must be four finite numbers x,y,w,h, got '20,15,nan"),
        ("20,15,inf,15", "--init must be four finite numbers x,y,w,h, got '20,15,inf"),
        ("20,15,15", "--init must be four finite numbers x,y,w,h, got '20,15,15'"),
        ("a,b,c,d", "--init must be four finite numbers x,y,w,h, got 'a,b,c,d'"),
    ],
)
def test_bad_initial_boxes(frames_dir, old_boxes, capsys, init, message):
    status, error, _ = run(
        BASE
        + ["--frames", str(frames_dir), "--init", init]
        + ["--output-boxes", str(old_boxes)],
        capsys,
    )
    assert status == 2
    assert message in one_line(error)
    assert old_boxes.read_text() == "1,2,3,4\n"


def test_an_initial_box_left_of_the_frame_is_taken(frames_dir, tmp_path, capsys):
    boxes = tmp_path / "boxes.txt"
    status = main(
        BASE
        + ["--frames", str(frames_dir), "--init", "-10,-5,40,30"]
        + ["--output-boxes", str(boxes)]
    )
    assert status == 0
    result = np.loadtxt(boxes, delimiter=",")
    assert result.shape == (5, 4) and result[0].tolist() == [-10, -5, 40, 30]
    x, y, w, h = result[1:].T
    assert (x >= 0).all() and (y >= 0).all() and (x + w <= 64).all()


def test_max_frames_below_one_is_refused(frames_dir, capsys):
    status, error, _ = run(
        BASE + ["--frames", str(frames_dir), *INIT, "--max-frames", "0"], capsys
    )
    assert status == 2 and "--max-frames must be >= 1, got 0" in one_line(error)


def test_one_speed_on_the_bar_and_in_the_summary(frames_dir, capsys):
    status, error, out = run(BASE + ["--frames", str(frames_dir), *INIT], capsys)
    assert status == 0
    summary = re.fullmatch(r"tracked 5 frames at ([0-9.]+) fps\n", out)
    assert summary, out
    bar_speeds = re.findall(r"fps=([0-9.-]+)", error)
    assert bar_speeds and bar_speeds[-1] == summary.group(1)
    assert "frame/s" not in error and "it/s" not in error


@pytest.fixture
def small_disk(tmp_path):
    """A 200 KiB tmpfs (root only, where mounting is allowed)."""
    mount = shutil.which("mount")
    folder = tmp_path / "disk"
    folder.mkdir()
    if not mount or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(folder)],
        capture_output=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {result.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_real_full_disk_keeps_the_old_video(small_disk, tmp_path, capsys):
    """The issue's reproduction: a good video on a 200 KiB disk, tracked onto."""
    frames = tmp_path / "noise"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        noise = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
        cv2.imwrite(str(frames / f"{i:03d}.png"), noise)
    output = small_disk / "tracked.mp4"
    with video_module.AnnotatedVideoWriter(output, fps=5) as writer:
        writer.write(frame())
    before = output.read_bytes()
    status, error, _ = run(
        BASE
        + ["--frames", str(frames), "--init", "100,80,40,40"]
        + ["--output-video", str(output)],
        capsys,
    )
    assert status == 1
    assert one_line(error).startswith(
        f"loretrack track: --output-video: Could not write {output}: 12 frames were "
        "written, the file holds "
    )
    assert output.read_bytes() == before
    assert os.listdir(small_disk) == ["tracked.mp4"]
