"""`convert_checkpoint` and `loretrack convert`: validate, then write a preset."""

import os

import numpy as np
import pytest

from keras_loretrack.checkpoints.convert import convert_checkpoint, validate_conversion
from keras_loretrack.checkpoints.official_mapping import load_official_weights
from keras_loretrack.checkpoints.torch_reader import load_torch_checkpoint
from keras_loretrack.cli.main import main
from keras_loretrack.models import LoReTrack

torch = pytest.importorskip("torch")

from reference.torch_ostrack import (  # noqa: E402
    OSTrackReference,
    mae_state_dict,
    official_state_dict,
    randomize_,
)

pytestmark = pytest.mark.torch


def _reference(preset, seed=0):
    model = LoReTrack.from_preset(preset, load_weights=False)
    backbone = model.backbone
    reference = OSTrackReference(
        search_size=backbone.search_size,
        template_size=backbone.template_size,
        patch_size=backbone.patch_size,
        dim=backbone.hidden_dim,
        depth=backbone.num_layers,
        num_heads=backbone.num_heads,
        mlp_dim=backbone.mlp_dim,
        head_channels=model.head_channels,
        ce_blocks=backbone.candidate_elimination_blocks,
        keep_ratio=backbone.candidate_keep_ratio,
    )
    return randomize_(reference, seed).eval()


@pytest.fixture(scope="module")
def tracker_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny_ce.pth.tar"
    reference = _reference("tiny_test_ce")
    torch.save({"net": official_state_dict(reference), "epoch": 300}, path)
    return path


def _outputs(model, inputs):
    return {k: np.asarray(v) for k, v in model(inputs, training=False).items()}


def test_convert_validates_then_writes_a_loadable_preset(tmp_path, tracker_checkpoint):
    lines = []
    output = tmp_path / "preset"
    result = convert_checkpoint(
        tracker_checkpoint, "tiny_test_ce", output, print_fn=lines.append
    )

    assert sorted(os.listdir(output)) == [
        "config.json",
        "metadata.json",
        "model.weights.h5",
    ]
    assert set(result.differences) == {
        "score_map",
        "size_map",
        "offset_map",
        "boxes",
        "search_features",
        "argmax_mismatches",
    }
    assert max(result.differences.values()) < 1e-4
    text = "\n".join(lines)
    assert "max |keras - reference| score_map" in text
    assert "layout: tracker" in text and f"wrote preset {output}" in text

    loaded = LoReTrack.from_preset(output)
    converted = LoReTrack.from_preset("tiny_test_ce", load_weights=False)
    load_official_weights(converted, load_torch_checkpoint(tracker_checkpoint))
    inputs = {
        "template": np.random.default_rng(1).normal(size=(1, 64, 64, 3)),
        "search": np.random.default_rng(2).normal(size=(1, 128, 128, 3)),
    }
    inputs = {k: v.astype(np.float32) for k, v in inputs.items()}
    expected = _outputs(converted, inputs)
    for name, values in _outputs(loaded, inputs).items():
        np.testing.assert_array_equal(values, expected[name], err_msg=name)


def test_validation_catches_a_wrong_weight(tracker_checkpoint):
    model = LoReTrack.from_preset("tiny_test_ce", load_weights=False)
    checkpoint = load_torch_checkpoint(tracker_checkpoint)
    load_official_weights(model, checkpoint)
    checks = validate_conversion(model, checkpoint)
    assert all(value <= allowed for value, allowed in checks.values())

    bias = model.head.offset_output.bias
    bias.assign(bias.numpy() + 0.01)
    checks = validate_conversion(model, checkpoint)
    assert checks["offset_map"][0] == pytest.approx(0.01, rel=1e-3)
    assert checks["score_map"][0] <= 1e-5


def test_failed_validation_writes_nothing(tmp_path, tracker_checkpoint):
    output = tmp_path / "preset"
    with pytest.raises(ValueError, match="validation failed for .*no preset written"):
        convert_checkpoint(
            tracker_checkpoint,
            "tiny_test_ce",
            output,
            atol=0.0,
            print_fn=lambda _: None,
        )
    assert not output.exists()


def test_convert_into_another_resolution(tmp_path, tracker_checkpoint):
    lines = []
    # tiny_test_ce's architecture at search 64: the tables are re-gridded 8 -> 4.
    source = tmp_path / "source"
    LoReTrack.from_preset(
        "tiny_test_ce", load_weights=False, search_size=64
    ).save_to_preset(source)
    result = convert_checkpoint(
        tracker_checkpoint, source, tmp_path / "out", print_fn=lines.append
    )
    assert result.report.regridded["backbone.pos_embed_x"] == (8, 4)
    assert "re-gridded backbone.pos_embed_x: 8x8 -> 4x4" in "\n".join(lines)


def test_cli_convert_tracker_and_mae(tmp_path, tracker_checkpoint, capsys):
    output = tmp_path / "cli_preset"
    status = main(
        [
            "convert",
            str(tracker_checkpoint),
            "--preset",
            "tiny_test_ce",
            "--output",
            str(output),
        ]
    )
    assert status == 0
    assert "max |keras - reference| offset_map" in capsys.readouterr().out
    assert LoReTrack.from_preset(output).search_size == 128

    mae = tmp_path / "mae_pretrain_vit_tiny.pth"
    torch.save({"model": mae_state_dict(_reference("tiny_test"))}, mae)
    status = main(
        [
            "convert",
            str(mae),
            "--preset",
            "tiny_test",
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
        ["convert", str(path), "--preset", "tiny_test", "--output", str(tmp_path / "o")]
    )
    assert status == 2
    assert "garbage.pth: not a PyTorch checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_missing_key(tmp_path, capsys):
    state = official_state_dict(_reference("tiny_test"))
    del state["backbone.blocks.0.attn.proj.bias"]
    path = tmp_path / "partial.pth"
    torch.save({"net": state}, path)
    args = [
        "convert",
        str(path),
        "--preset",
        "tiny_test",
        "--output",
        str(tmp_path / "o"),
    ]
    assert main(args) == 2
    assert "backbone.blocks.0.attn.proj.bias" in capsys.readouterr().err
    assert main(args + ["--allow-missing", "--no-validate"]) == 0


@pytest.mark.large
def test_vit_base_ce_conversion_validates(tmp_path):
    path = tmp_path / "OSTrack_ep0300.pth.tar"
    torch.save({"net": official_state_dict(_reference("ostrack256"))}, path)
    result = convert_checkpoint(path, "ostrack256", tmp_path / "out", print_fn=print)
    assert result.differences["argmax_mismatches"] == 0
    assert result.differences["score_map"] < 1e-5
    assert LoReTrack.from_preset(
        tmp_path / "out"
    ).backbone.candidate_elimination_blocks == (
        3,
        6,
        9,
    )
