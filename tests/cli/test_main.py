"""The `loretrack` parser: light to build, and the model flags its commands share."""

import subprocess
import sys

import pytest

from keras_loretrack.cli.arguments import model_name, parse_list
from keras_loretrack.cli.main import build_parser


def test_building_the_parser_imports_no_tensorflow():
    code = (
        "import sys\n"
        "from keras_loretrack.cli.main import build_parser\n"
        "build_parser()\n"
        "heavy = {m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'}\n"
        "assert not heavy, sorted(heavy)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            ["track", "--preset", "p", "--frames", "f", "--init", "1,2,3,4"],
            ("p", None, True, False),
        ),
        (
            ["track", "--model", "m.onnx", "--camera", "0", "--init", "1,2,3,4"],
            (None, "m.onnx", True, False),
        ),
        (
            ["eval", "--preset", "p", "--no-weights", "--jit-compile"]
            + ["--dataset", "folder", "--root", "r", "--results", "o"],
            ("p", None, False, True),
        ),
        (
            ["export", "--preset", "p", "--no-weights"]
            + ["--format", "onnx", "--output", "o.onnx"],
            ("p", None, False, False),
        ),
        (["demo"], ("mini_student", None, True, False)),
    ],
)
def test_model_flags(argv, expected):
    args = build_parser().parse_args(argv)
    assert (args.preset, args.model, args.load_weights, args.jit_compile) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["track", "--frames", "f", "--init", "1,2,3,4"],
        ["track", "--preset", "p", "--model", "m", "--camera", "0", "--init", "1"],
        ["export", "--format", "onnx", "--output", "o.onnx"],
        ["export", "--model", "m.onnx", "--format", "onnx", "--output", "o.onnx"],
    ],
)
def test_model_flags_reject_no_or_two_models(argv, capsys):
    with pytest.raises(SystemExit) as error:
        build_parser().parse_args(argv)
    assert error.value.code == 2
    assert "--preset" in capsys.readouterr().err


def test_model_name_and_lists():
    args = build_parser().parse_args(
        ["track", "--preset", "runs/teacher/", "--frames", "f", "--init", "1,2,3,4"]
    )
    assert model_name(args) == "teacher"
    args.preset, args.model = None, "exports/res128_int8.tflite"
    assert model_name(args) == "res128_int8"
    assert parse_list(" a, ,b ") == ["a", "b"]
    with pytest.raises(ValueError, match="comma-separated list of sequence names"):
        parse_list(" , ", what="sequence name")
    with pytest.raises(ValueError, match=r"Unknown engines \['tpu'\]"):
        parse_list("keras,tpu", ("keras", "onnx"), "engine")
