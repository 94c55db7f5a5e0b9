"""Export and eval outputs are checked before any work starts."""

import pytest

from keras_loretrack.cli.main import main
from tests.faults.test_evaluation_faults import write_clip
from tests.presets import TINY_TEST


def one_line(error, command):
    assert error.startswith(f"loretrack {command}: ") and error.count("\n") == 1
    return error


@pytest.mark.parametrize(
    "output, message",
    [
        ("/proc/loretrack.onnx", "Cannot write the --output /proc/loretrack.onnx"),
        ("{tmp}/afile/m.onnx", "Cannot write the --output"),
    ],
)
def test_export_to_an_unwritable_place(tmp_path, capsys, output, message):
    (tmp_path / "afile").write_text("x")
    status = main(
        ["export", "--preset", TINY_TEST, "--no-weights", "--format", "onnx"]
        + ["--output", output.format(tmp=tmp_path)]
    )
    assert status == 2
    assert message in one_line(capsys.readouterr().err, "export")
    assert (tmp_path / "afile").read_text() == "x"


def test_eval_into_an_unwritable_results_folder(tmp_path, capsys, monkeypatch):
    write_clip(tmp_path / "clips")
    (tmp_path / "afile").write_text("x")
    tracked = []
    monkeypatch.setattr(
        "keras_loretrack.evaluation.runner.run_evaluation",
        lambda *a, **k: tracked.append(1),
    )
    status = main(
        ["eval", "--preset", TINY_TEST, "--no-weights", "--dataset", "folder"]
        + ["--root", str(tmp_path / "clips"), "--results", str(tmp_path / "afile")]
    )
    assert status == 2 and not tracked
    assert "Cannot write the results folder" in one_line(
        capsys.readouterr().err, "eval"
    )
    assert (tmp_path / "afile").read_text() == "x"
