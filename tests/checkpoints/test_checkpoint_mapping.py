"""Official-key mapping: reports, missing keys, wrong shapes, MAE, re-gridding."""

import keras
import numpy as np
import pytest

from keras_loretrack.checkpoints.official_mapping import (
    LoadReport,
    find_state_dict,
    load_official_weights,
    official_shape,
    official_state_dict,
    official_variables,
    to_keras,
    to_official,
)
from keras_loretrack.checkpoints.torch_reader import CheckpointError
from keras_loretrack.models import LoReTrack
from tests.presets import TINY_TEST


@pytest.fixture(scope="module")
def model():
    return LoReTrack.from_preset(TINY_TEST, load_weights=False)


def _official_state(model, seed=0, template_grid=None, search_grid=None):
    """Random tensors with every official key and shape of `model`."""
    rng = np.random.default_rng(seed)
    state = {
        key: rng.normal(size=official_shape(variable, kind)).astype(np.float32)
        for key, (variable, kind) in official_variables(model).items()
    }
    dim = model.backbone.hidden_dim
    for key, grid in (
        ("backbone.pos_embed_z", template_grid),
        ("backbone.pos_embed_x", search_grid),
    ):
        if grid is not None:
            state[key] = rng.normal(size=(1, grid * grid, dim)).astype(np.float32)
    state["backbone.cls_token"] = np.zeros((1, 1, dim), np.float32)
    state["backbone.pos_embed"] = np.zeros((1, 197, dim), np.float32)
    state["box_head.conv1_ctr.1.num_batches_tracked"] = np.array(5, np.int64)
    return state


def _keras_value(model, key):
    variable = official_variables(model)[key][0]
    return keras.ops.convert_to_numpy(variable.value)


def test_every_weight_has_an_official_key(model):
    variables = official_variables(model)
    mapped = {id(variable) for variable, _ in variables.values()}
    assert len(mapped) == len(variables)
    assert {id(w) for w in model.weights} == mapped
    backbone = model.backbone
    expected = 6 + 12 * backbone.num_layers + 3 * (6 * 4 + 2)
    assert len(variables) == expected


@pytest.mark.parametrize(
    "kind, shape",
    [
        ("linear", (3, 5)),
        ("conv", (2, 3, 4, 5)),
        ("position", (6, 4)),
        ("vector", (7,)),
    ],
)
def test_to_official_inverts_to_keras(kind, shape):
    value = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    official = to_official(value, kind)
    assert official.shape == official_shape(np.empty(shape), kind)
    np.testing.assert_array_equal(to_keras(official, kind), value)


def test_official_state_dict_inverts_the_checkpoint_mapping(model):
    source = LoReTrack.from_preset(TINY_TEST, load_weights=False)
    load_official_weights(source, {"net": _official_state(source, seed=7)})
    clone = LoReTrack.from_preset(TINY_TEST, load_weights=False)
    load_official_weights(clone, {"net": official_state_dict(source)})
    for a, b in zip(source.weights, clone.weights):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path
        )


def test_layouts_are_transposed_into_keras(model):
    state = _official_state(model, seed=1)
    report = load_official_weights(model, {"net": state, "epoch": 1})

    qkv = "backbone.blocks.1.attn.qkv.weight"
    np.testing.assert_array_equal(_keras_value(model, qkv), state[qkv].T)
    conv = "box_head.conv2_size.0.weight"
    np.testing.assert_array_equal(
        _keras_value(model, conv), state[conv].transpose(2, 3, 1, 0)
    )
    patch = "backbone.patch_embed.proj.weight"
    np.testing.assert_array_equal(
        _keras_value(model, patch), state[patch].transpose(2, 3, 1, 0)
    )
    variance = "box_head.conv3_offset.1.running_var"
    np.testing.assert_array_equal(_keras_value(model, variance), state[variance])
    table = "backbone.pos_embed_x"
    np.testing.assert_array_equal(_keras_value(model, table), state[table][0])
    assert report.layout == "tracker"
    assert report.missing == [] and report.unexpected == [] and report.regridded == {}
    assert sorted(report.unused) == [
        "backbone.cls_token",
        "backbone.pos_embed",
        "box_head.conv1_ctr.1.num_batches_tracked",
    ]
    assert len(report.loaded) == len(official_variables(model))
    assert "loaded" in report.summary()


def test_missing_key_is_an_error_naming_it(model):
    state = _official_state(model)
    del state["backbone.blocks.1.mlp.fc2.weight"]
    with pytest.raises(
        CheckpointError, match=r"lacks 1 key.*backbone\.blocks\.1\.mlp\.fc2\.weight"
    ):
        load_official_weights(model, {"net": state})


def test_missing_key_is_reported_when_not_strict(model):
    state = _official_state(model, seed=3)
    del state["box_head.conv5_size.bias"]
    before = _keras_value(model, "box_head.conv5_size.bias")
    report = load_official_weights(model, {"net": state}, strict=False)
    assert report.missing == ["box_head.conv5_size.bias"]
    np.testing.assert_array_equal(
        _keras_value(model, "box_head.conv5_size.bias"), before
    )


def test_wrong_shape_names_key_and_both_shapes(model):
    state = _official_state(model)
    state["box_head.conv1_ctr.0.weight"] = np.zeros((16, 31, 3, 3), np.float32)
    with pytest.raises(
        CheckpointError,
        match=r"box_head\.conv1_ctr\.0\.weight: checkpoint shape \(16, 31, 3, 3\) "
        r"does not fit the model, which expects \(16, 32, 3, 3\)",
    ):
        load_official_weights(model, {"net": state})


def test_wrong_shape_loads_nothing(model):
    state = _official_state(model, seed=4)
    state["backbone.norm.bias"] = np.zeros(7, np.float32)
    before = _keras_value(model, "backbone.blocks.0.attn.qkv.weight")
    with pytest.raises(CheckpointError, match=r"backbone\.norm\.bias: .*\(7,\)"):
        load_official_weights(model, {"net": state})
    after = _keras_value(model, "backbone.blocks.0.attn.qkv.weight")
    np.testing.assert_array_equal(after, before)


def test_non_square_position_table(model):
    state = _official_state(model)
    state["backbone.pos_embed_x"] = np.zeros((1, 15, 32), np.float32)
    with pytest.raises(CheckpointError, match="pos_embed_x: 15 position rows"):
        load_official_weights(model, {"net": state})


def test_unexpected_keys_and_data_parallel_prefix(model):
    state = _official_state(model)
    state["backbone.extra_token"] = np.zeros(3, np.float32)
    wrapped = {f"module.{k}": v for k, v in state.items()}
    report = load_official_weights(model, {"net": wrapped})
    assert report.unexpected == ["backbone.extra_token"]
    assert report.missing == []


def test_other_resolution_is_regridded(model):
    state = _official_state(model, seed=5, template_grid=6, search_grid=12)
    report = load_official_weights(model, {"net": state})
    backbone = model.backbone
    assert report.regridded == {
        "backbone.pos_embed_z": (6, backbone.template_grid),
        "backbone.pos_embed_x": (12, backbone.feature_size),
    }
    assert _keras_value(model, "backbone.pos_embed_x").shape == (
        backbone.feature_size**2,
        backbone.hidden_dim,
    )
    assert "re-gridded backbone.pos_embed_x: 12x12 -> 4x4" in report.summary()


def _mae_state(model, seed=6):
    state = _official_state(model, seed=seed)
    rng = np.random.default_rng(seed)
    mae = {
        key[len("backbone.") :]: value
        for key, value in state.items()
        if key.startswith("backbone.") and "pos_embed_" not in key
    }
    mae["pos_embed"] = rng.normal(size=(1, 197, model.backbone.hidden_dim))
    mae["decoder_embed.weight"] = np.zeros((8, 32), np.float32)
    return mae


def test_mae_fills_the_backbone_only(model):
    mae = _mae_state(model)
    report = load_official_weights(model, {"model": mae})
    assert report.layout == "mae"
    assert report.missing and all(k.startswith("box_head.") for k in report.missing)
    assert report.unexpected == ["decoder_embed.weight"]
    assert report.unused == ["cls_token"]
    backbone = model.backbone
    assert report.regridded == {
        "backbone.pos_embed_z": (14, backbone.template_grid),
        "backbone.pos_embed_x": (14, backbone.feature_size),
    }
    np.testing.assert_array_equal(
        _keras_value(model, "backbone.blocks.0.mlp.fc1.weight"),
        mae["blocks.0.mlp.fc1.weight"].T,
    )


def test_mae_missing_backbone_key(model):
    mae = _mae_state(model)
    del mae["norm.weight"]
    with pytest.raises(CheckpointError, match=r"mae checkpoint lacks .*backbone\.norm"):
        load_official_weights(model, {"model": mae})


@pytest.mark.parametrize(
    "checkpoint, message",
    [
        ({"epoch": 3, "settings": None}, "no state dict in the checkpoint"),
        ({"net": {"head.fc.weight": np.zeros(2)}}, "neither an OSTrack/LoReTrack"),
    ],
)
def test_not_a_tracker_or_mae_state_dict(checkpoint, message):
    with pytest.raises(CheckpointError, match=message):
        find_state_dict(checkpoint)


def test_report_defaults():
    report = LoadReport(layout="tracker")
    assert report.missing == [] and report.regridded == {}
