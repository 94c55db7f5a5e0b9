import math

import keras
import numpy as np
import pytest

from keras_loretrack.models import LoReTrackBackbone

TINY = dict(
    search_size=64,
    template_size=32,
    patch_size=16,
    hidden_dim=16,
    num_layers=3,
    num_heads=2,
    mlp_dim=32,
)


def random_inputs(backbone, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "template": rng.normal(
            size=(batch, backbone.template_size, backbone.template_size, 3)
        ).astype("float32"),
        "search": rng.normal(
            size=(batch, backbone.search_size, backbone.search_size, 3)
        ).astype("float32"),
    }


def test_shapes_and_requested_block_outputs():
    backbone = LoReTrackBackbone(**TINY, qkv_blocks=(-1,), attention_blocks=(0,))
    out = backbone(random_inputs(backbone))
    assert out["search_features"].shape == (2, 4, 4, 16)
    # 4 template + 16 search tokens, 2 heads of width 8.
    assert out["block2_query"].shape == (2, 2, 20, 8)
    assert out["block0_attention"].shape == (2, 2, 20, 20)


def test_qkv_outputs_equal_recomputation_from_block_weights():
    backbone = LoReTrackBackbone(**TINY, qkv_blocks=(1,))
    inputs = random_inputs(backbone)
    out = backbone(inputs)
    # Rebuild the tokens entering block 1 from the layers, then apply its qkv.
    z = backbone.template_position_embedding(
        backbone.patch_embedding(inputs["template"])
    )
    x = backbone.search_position_embedding(backbone.patch_embedding(inputs["search"]))
    tokens = keras.ops.concatenate([z, x], axis=1)
    tokens = backbone.transformer_blocks[0](tokens)["tokens"]
    block = backbone.transformer_blocks[1]
    qkv = keras.ops.convert_to_numpy(block.attention.qkv(block.norm1(tokens)))
    q = qkv[..., :16].reshape(2, 20, 2, 8).transpose(0, 2, 1, 3)
    v = qkv[..., 32:].reshape(2, 20, 2, 8).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(out["block1_query"], q, atol=1e-5)
    np.testing.assert_allclose(out["block1_value"], v, atol=1e-5)


def test_feature_model_shares_weights_and_matches():
    backbone = LoReTrackBackbone(**TINY)
    view = backbone.feature_model(qkv_blocks=(-1,))
    inputs = random_inputs(backbone)
    np.testing.assert_array_equal(
        view(inputs)["search_features"], backbone(inputs)["search_features"]
    )
    assert {id(w) for w in view.weights} == {id(w) for w in backbone.weights}
    assert "block2_key" in view(inputs)


def test_candidate_elimination_keeps_ceil_ratio_and_zeros_the_rest():
    config = dict(TINY, search_size=128, template_size=64, num_layers=4)
    backbone = LoReTrackBackbone(
        **config, candidate_elimination_blocks=(1, 2), attention_blocks=(1,)
    )
    inputs = random_inputs(backbone, batch=3)
    out = backbone(inputs)
    features = keras.ops.convert_to_numpy(out["search_features"]).reshape(3, 64, 16)
    kept_after_1 = math.ceil(0.7 * 64)
    kept = math.ceil(0.7 * kept_after_1)
    nonzero = (np.abs(features).sum(-1) > 0).sum(-1)
    np.testing.assert_array_equal(nonzero, [kept] * 3)
    # Block 1 ranks the 64 search tokens by the template centre token's
    # head-averaged attention (template grid 4x4: centre index 5).
    attention = keras.ops.convert_to_numpy(out["block1_attention"])
    scores = attention[:, :, 5, 16:].mean(1)
    top = np.argsort(-scores, axis=1)[:, :kept_after_1]
    survivors = np.abs(features).sum(-1) > 0
    for b in range(3):
        assert set(np.flatnonzero(survivors[b])) <= set(top[b])


def test_drop_path_grows_linearly_over_blocks():
    backbone = LoReTrackBackbone(**TINY, drop_path_rate=0.1)
    rates = [block.drop_path_rate for block in backbone.transformer_blocks]
    np.testing.assert_allclose(rates, [0.0, 0.05, 0.1])


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(search_size=60), "search_size must be a multiple of patch_size"),
        (dict(qkv_blocks=(3,)), "qkv_blocks must index blocks 0..2"),
        (dict(candidate_elimination_blocks=(-4,)), "candidate_elimination_blocks"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LoReTrackBackbone(**{**TINY, **kwargs})


def test_config_round_trip():
    backbone = LoReTrackBackbone(**TINY, candidate_elimination_blocks=(1,))
    clone = LoReTrackBackbone.from_config(backbone.get_config())
    assert clone.get_config() == backbone.get_config()
