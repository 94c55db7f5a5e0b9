import cv2
import numpy as np
import pytest

from keras_loretrack.cli.main import main
from keras_loretrack.sequences import read_boxes
from tests.presets import TINY_TEST


@pytest.fixture
def frames_dir(sequences_dir, tmp_path):
    """The first 10 frames of Crossing, linked into a folder of their own."""
    source = sequences_dir / "Crossing" / "img"
    folder = tmp_path / "frames"
    folder.mkdir()
    for path in sorted(source.iterdir())[:10]:
        (folder / path.name).symlink_to(path)
    return folder


def test_track_frames_end_to_end(frames_dir, tmp_path, capsys):
    video, boxes = tmp_path / "out" / "crossing.mp4", tmp_path / "out" / "boxes.txt"
    status = main(
        [
            "track",
            "--preset",
            TINY_TEST,
            "--no-weights",
            "--frames",
            str(frames_dir),
            "--init",
            "205,151,17,50",
            "--output-video",
            str(video),
            "--output-boxes",
            str(boxes),
        ]
    )
    assert status == 0
    assert "tracked 10 frames" in capsys.readouterr().out
    result = read_boxes(boxes)
    assert result.shape == (10, 4)
    np.testing.assert_array_equal(result[0], [205, 151, 17, 50])
    assert np.isfinite(result).all() and (result[1:, 2:] >= 10).all()
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    ok, image = capture.read()
    capture.release()
    assert ok and image.shape == (240, 360, 3)


def test_track_video_file(frames_dir, tmp_path, capsys):
    from keras_loretrack.tracking.video import AnnotatedVideoWriter, FolderFrames

    video = tmp_path / "input.mp4"
    with AnnotatedVideoWriter(video, fps=10) as writer:
        for image in FolderFrames(frames_dir):
            writer.write(image)
    boxes = tmp_path / "boxes.txt"
    argv = ["track", "--preset", TINY_TEST, "--no-weights", "--video", str(video)]
    argv += ["--init", "205,151,17,50", "--max-frames", "5"]
    assert main(argv + ["--output-boxes", str(boxes)]) == 0
    assert "tracked 5 frames" in capsys.readouterr().out
    assert read_boxes(boxes).shape == (5, 4)


def test_track_max_frames(frames_dir, tmp_path):
    boxes = tmp_path / "boxes.txt"
    argv = ["track", "--preset", TINY_TEST, "--no-weights", "--frames"]
    argv += [str(frames_dir), "--init", "205,151,17,50", "--max-frames", "4"]
    assert main(argv + ["--output-boxes", str(boxes)]) == 0
    assert read_boxes(boxes).shape == (4, 4)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--preset", TINY_TEST, "--init", "1,2,3"], "four finite numbers x,y,w,h"),
        (["--preset", TINY_TEST, "--init", "1,2,0,4"], "must be > 0"),
        (["--preset", TINY_TEST, "--init", "1,2,3,4", "--max-frames", "0"], ">= 1"),
        (["--preset", "no_such_preset", "--init", "1,2,3,4"], "Unknown preset"),
        (["--model", "model.xyz", "--init", "1,2,3,4"], "No tracking engine"),
        (
            ["--model", "model.onnx", "--runtime", "tvm", "--init", "1,2,3,4"],
            "Runtime 'tvm' does not open .onnx files",
        ),
        (
            ["--preset", TINY_TEST, "--runtime", "openvino", "--init", "1,2,3,4"],
            "--runtime openvino runs a --model file, not a preset",
        ),
        (
            ["--preset", TINY_TEST, "--init", "1,2,3,4", "--fps", "-1"]
            + ["--output-video", "out.mp4"],
            "fps must be a positive number, got -1.0",
        ),
    ],
)
def test_track_reports_bad_arguments(frames_dir, capsys, extra, message):
    argv = ["track", "--no-weights", "--frames", str(frames_dir)] + extra
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("loretrack track: ") and error.count("\n") == 1
    assert message in error


def test_track_missing_frame_folder(tmp_path, capsys):
    argv = ["track", "--preset", TINY_TEST, "--no-weights", "--init", "1,2,3,4"]
    assert main(argv + ["--frames", str(tmp_path / "nope")]) == 2
    assert "Frame folder not found" in capsys.readouterr().err
