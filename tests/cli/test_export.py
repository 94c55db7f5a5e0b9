import numpy as np
import pytest

from keras_loretrack.cli.main import main
from tests.presets import TINY_TEST

pytestmark = pytest.mark.export


def test_export_tflite_then_track_from_the_file(tmp_path, capsys, sequences_dir):
    pytest.importorskip("ai_edge_litert")
    output = tmp_path / "tiny.tflite"
    status = main(
        [
            "export",
            "--preset",
            TINY_TEST,
            "--format",
            "tflite",
            "--output",
            str(output),
            "--no-weights",
        ]
    )
    assert status == 0
    assert "search 64 px x5.0, template 32 px x2.0" in capsys.readouterr().out
    boxes = tmp_path / "boxes.txt"
    status = main(
        [
            "track",
            "--model",
            str(output),
            "--frames",
            str(sequences_dir / "Crossing" / "img"),
            "--init",
            "205,151,17,50",
            "--max-frames",
            "3",
            "--output-boxes",
            str(boxes),
        ]
    )
    assert status == 0
    assert np.loadtxt(boxes, delimiter=",").shape == (3, 4)


def test_export_onnx_int8_calibrates_on_real_sequences(tmp_path, capsys, sequences_dir):
    pytest.importorskip("onnxruntime")
    output = tmp_path / "tiny_int8.onnx"
    status = main(
        [
            "export",
            "--preset",
            TINY_TEST,
            "--format",
            "onnx",
            "--quantize",
            "int8",
            "--calibration",
            str(sequences_dir),
            "--calibration-frames",
            "4",
            "--output",
            str(output),
            "--no-weights",
        ]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert f"calibration: 4 crop pairs from {sequences_dir}" in out
    assert "onnx int8" in out and output.is_file()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["--format", "onnx", "--quantize", "fp16", "--output", "m.onnx"],
            "--quantize 'fp16' is not available for onnx",
        ),
        (["--format", "tflite", "--output", "m.onnx"], "--output must end in .tflite"),
        (
            ["--format", "tflite", "--quantize", "int8", "--output", "m.tflite"],
            "--quantize int8 needs --calibration",
        ),
        (
            [
                "--format",
                "tflite",
                "--quantize",
                "int8-mixed",
                "--calibration",
                "/no/such/dir",
                "--output",
                "m.tflite",
            ],
            "Calibration directory not found: '/no/such/dir'",
        ),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    arguments, message, capsys, tmp_path
):
    arguments = [a.replace("m.", str(tmp_path / "m.")) for a in arguments]
    status = main(["export", "--preset", TINY_TEST, "--no-weights", *arguments])
    assert status == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_unknown_format_is_an_argparse_choice_error(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["export", "--preset", TINY_TEST, "--format", "coreml", "--output", "m"])
    assert exit.value.code == 2
    assert "--format: invalid choice: 'coreml'" in capsys.readouterr().err


def test_calibration_folder_without_sequences_exits_2(tmp_path, capsys):
    (tmp_path / "calib").mkdir()
    status = main(
        [
            "export",
            "--preset",
            TINY_TEST,
            "--format",
            "onnx",
            "--quantize",
            "int8",
            "--calibration",
            str(tmp_path / "calib"),
            "--output",
            str(tmp_path / "m.onnx"),
        ]
    )
    assert status == 2
    assert "holds no OTB-layout sequence" in capsys.readouterr().err
