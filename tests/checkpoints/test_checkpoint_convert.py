"""`convert_checkpoint`: validate, then write a preset."""

import os

import numpy as np
import pytest

from keras_loretrack.checkpoints.convert import convert_checkpoint, validate_conversion
from keras_loretrack.checkpoints.official_mapping import load_official_weights
from keras_loretrack.checkpoints.torch_reader import load_torch_checkpoint
from keras_loretrack.models import LoReTrack

torch = pytest.importorskip("torch")

from keras_loretrack.benchmarking.torch_ostrack import release_state_dict  # noqa: E402
from tests.presets import TINY_TEST_CE  # noqa: E402

pytestmark = pytest.mark.torch


def _outputs(model, inputs):
    return {k: np.asarray(v) for k, v in model(inputs, training=False).items()}


def test_convert_validates_then_writes_a_loadable_preset(tmp_path, tracker_checkpoint):
    lines = []
    output = tmp_path / "preset"
    result = convert_checkpoint(
        tracker_checkpoint, TINY_TEST_CE, output, print_fn=lines.append
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
    converted = LoReTrack.from_preset(TINY_TEST_CE, load_weights=False)
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
    model = LoReTrack.from_preset(TINY_TEST_CE, load_weights=False)
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
            TINY_TEST_CE,
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
        TINY_TEST_CE, load_weights=False, search_size=64
    ).save_to_preset(source)
    result = convert_checkpoint(
        tracker_checkpoint, source, tmp_path / "out", print_fn=lines.append
    )
    assert result.report.regridded["backbone.pos_embed_x"] == (8, 4)
    assert "re-gridded backbone.pos_embed_x: 8x8 -> 4x4" in "\n".join(lines)


@pytest.mark.large
def test_vit_base_ce_conversion_validates(tmp_path, torch_reference):
    path = tmp_path / "OSTrack_ep0300.pth.tar"
    torch.save({"net": release_state_dict(torch_reference("ostrack256"))}, path)
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
