"""The `loretrack` parser: light to build, and the model flags its commands share."""

import subprocess
import sys

import pytest

from keras_loretrack.cli.arguments import model_name, parse_list
from keras_loretrack.cli.main import build_parser, join_negative_values, main
from keras_loretrack.version import __version__

COMMAND_NAMES = (
    "convert",
    "track",
    "eval",
    "analyze",
    "pack",
    "export",
    "bench",
    "demo",
)


def test_help_of_every_command_imports_no_tensorflow():
    code = (
        "import contextlib, io, sys\n"
        "from keras_loretrack.cli.main import main\n"
        f"for argv in [['--help'], ['--version']] + [[c, '--help'] for c in "
        f"{COMMAND_NAMES!r}]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "        try:\n"
        "            main(argv)\n"
        "        except SystemExit as exit:\n"
        "            assert exit.code == 0, (argv, exit.code)\n"
        "    assert out.getvalue(), argv\n"
        "heavy = {m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'}\n"
        "assert not heavy, sorted(heavy)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out == f"loretrack {__version__}\n"


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--init", "-10,-5.5,30,30"], ["--init=-10,-5.5,30,30"]),
        (["--init", "-.5,1,2,3", "--x", "-1"], ["--init=-.5,1,2,3", "--x", "-1"]),
        (["--init", "--frames", "f"], ["--init", "--frames", "f"]),
        (["--init"], ["--init"]),
    ],
)
def test_negative_init_values_are_joined_to_their_flag(argv, expected):
    assert join_negative_values(argv) == expected


def test_negative_init_box_parses():
    argv = ["track", "--preset", "p", "--frames", "f", "--init", "-10,-10,30,30"]
    args = build_parser().parse_args(join_negative_values(argv))
    assert args.init == "-10,-10,30,30"


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
        (["demo"], ("mini_teacher", None, True, False)),
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
