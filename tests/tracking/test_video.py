import cv2
import numpy as np
import pytest

from keras_loretrack.sequences.sequence import natural_key
from keras_loretrack.tracking.video import (
    AnnotatedVideoWriter,
    CaptureFrames,
    FolderFrames,
    draw_box,
    open_frames,
)


def test_natural_key_orders_numbers_by_value():
    names = ["frame10.jpg", "frame2.jpg", "Frame1.jpg", "frame1b.jpg", "a.jpg"]
    assert sorted(names, key=natural_key) == [
        "a.jpg",
        "Frame1.jpg",
        "frame1b.jpg",
        "frame2.jpg",
        "frame10.jpg",
    ]


def write_frames(folder, names, size=(24, 32)):
    folder.mkdir(exist_ok=True)
    for index, name in enumerate(names):
        image = np.zeros(size + (3,), np.uint8)
        image[:, :, 2] = 10 * index  # RGB blue channel encodes the index
        cv2.imwrite(str(folder / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def test_folder_frames_natural_order_and_rgb(tmp_path):
    write_frames(tmp_path / "f", ["1.png", "2.png", "10.png"])
    (tmp_path / "f" / "notes.txt").write_text("not a frame")
    # A write in progress (atomic_files) and a macOS companion file are hidden.
    write_frames(tmp_path / "f", [".partial-x1.png", "._3.png"])
    source = FolderFrames(tmp_path / "f")
    assert len(source) == 3 and source.fps is None
    frames = list(source)
    assert [int(f[0, 0, 2]) for f in frames] == [0, 10, 20]
    assert frames[0].dtype == np.uint8 and frames[0].shape == (24, 32, 3)
    assert [p.rsplit("/", 1)[1] for p in source.paths] == ["1.png", "2.png", "10.png"]


def test_folder_frames_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Frame folder not found"):
        FolderFrames(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No image files"):
        FolderFrames(tmp_path / "empty")


def test_video_round_trip(tmp_path):
    path = tmp_path / "out.mp4"
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)]
    with AnnotatedVideoWriter(path, fps=12) as writer:
        for i, image in enumerate(frames):
            writer.write(image, (10, 8, 20, 16), score=0.5 if i else None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    with CaptureFrames(path) as source:
        assert source.num_frames == 5 and source.fps == pytest.approx(12)
        read = list(source)
    assert len(read) == 5 and read[0].shape == (48, 64, 3)
    # far from the box the grey level survives the codec
    assert abs(int(read[3][40, 60].mean()) - 120) < 10


def test_video_writer_discards_on_error(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(ValueError, match="must be 64x48, got frame 1 of size 32x48"):
        with AnnotatedVideoWriter(path) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
            writer.write(np.zeros((48, 32, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_draw_box_outlines_in_the_given_colour():
    image = np.zeros((40, 50, 3), np.uint8)
    drawn = draw_box(
        image, (10.4, 5.6, 20, 10), score=0.75, color=(255, 0, 0), thickness=1
    )
    assert image.sum() == 0  # input untouched
    # rounded corners (10, 6) and (30, 16)
    assert tuple(drawn[6, 20]) == (255, 0, 0) and tuple(drawn[16, 30]) == (255, 0, 0)
    assert drawn[11, 20].sum() == 0  # interior stays empty


def test_open_frames_needs_exactly_one_source(tmp_path):
    with pytest.raises(ValueError, match="exactly one frame source.*none"):
        open_frames()
    with pytest.raises(ValueError, match=r"\['camera', 'video'\]"):
        open_frames(video="a.mp4", camera=0)
    with pytest.raises(FileNotFoundError, match="Video file not found"):
        open_frames(video=tmp_path / "missing.mp4")
    with pytest.raises(ValueError, match="Camera index must be >= 0"):
        open_frames(camera=-1)


def test_undecodable_video_is_an_error(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"not a video")
    with pytest.raises(OSError, match="Could not open video file"):
        CaptureFrames(path)
