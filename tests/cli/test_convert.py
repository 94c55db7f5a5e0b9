"""`loretrack convert`: exit statuses and messages of the command line."""

import pytest

from keras_loretrack.cli.main import main
from keras_loretrack.models import LoReTrack
from tests.presets import TINY_TEST, TINY_TEST_CE

torch = pytest.importorskip("torch")

from keras_loretrack.benchmarking.torch_ostrack import (  # noqa: E402
    mae_state_dict,
    release_state_dict,
)

pytestmark = pytest.mark.torch


def test_cli_convert_tracker_and_mae(
    tmp_path, tracker_checkpoint, torch_reference, capsys
):
    output = tmp_path / "cli_preset"
    status = main(
        [
            "convert",
            str(tracker_checkpoint),
            "--preset",
            TINY_TEST_CE,
            "--output",
            str(output),
        ]
    )
    assert status == 0
    assert "max |keras - reference| offset_map" in capsys.readouterr().out
    assert LoReTrack.from_preset(output).search_size == 128

    mae = tmp_path / "mae_pretrain_vit_tiny.pth"
    torch.save({"model": mae_state_dict(torch_reference(TINY_TEST))}, mae)
    status = main(
        [
            "convert",
            str(mae),
            "--preset",
            TINY_TEST,
            "--output",
            str(tmp_path / "mae"),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "layout: mae" in out
    assert "max |keras - reference| search_features" in out
    assert "score_map" not in out.split("validating")[1]


def test_cli_reports_bad_checkpoints(tmp_path, capsys):
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"not a checkpoint at all")
    status = main(
        ["convert", str(path), "--preset", TINY_TEST, "--output", str(tmp_path / "o")]
    )
    assert status == 2
    assert "garbage.pth: not a PyTorch checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_missing_key(tmp_path, torch_reference, capsys):
    state = release_state_dict(torch_reference(TINY_TEST))
    del state["backbone.blocks.0.attn.proj.bias"]
    path = tmp_path / "partial.pth"
    torch.save({"net": state}, path)
    args = [
        "convert",
        str(path),
        "--preset",
        TINY_TEST,
        "--output",
        str(tmp_path / "o"),
    ]
    assert main(args) == 2
    assert "backbone.blocks.0.attn.proj.bias" in capsys.readouterr().err
    assert main(args + ["--allow-missing", "--no-validate"]) == 0
