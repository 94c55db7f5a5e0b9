import keras
import numpy as np
import pytest

from keras_loretrack.layers import LayerNorm, MultiHeadSelfAttention, TransformerBlock


def test_matches_keras_layer_normalization():
    rng = np.random.default_rng(0)
    # An offset, wide-range input, like the residual stream of a deep ViT.
    x = (5.0 + 30.0 * rng.normal(size=(2, 7, 48))).astype("float32")
    ours = LayerNorm(epsilon=1e-6)
    reference = keras.layers.LayerNormalization(epsilon=1e-6)
    ours.build(x.shape)
    reference.build(x.shape)
    gamma = 1 + 0.2 * rng.normal(size=48)
    beta = 0.1 * rng.normal(size=48)
    for layer in (ours, reference):
        layer.gamma.assign(gamma.astype("float32"))
        layer.beta.assign(beta.astype("float32"))
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(
        x.var(-1, keepdims=True) + 1e-6
    ) * gamma + beta
    np.testing.assert_allclose(ours(x), expected, atol=1e-5)
    np.testing.assert_allclose(ours(x), reference(x), atol=1e-5)


def test_keeps_the_keras_weight_names_and_block_paths():
    block = TransformerBlock(hidden_dim=16, num_heads=2, mlp_dim=32, name="block")
    block.build((1, 5, 16))
    assert isinstance(block.norm1, LayerNorm)
    assert isinstance(block.norm1, keras.layers.LayerNormalization)
    paths = sorted(w.path for w in block.weights if "norm" in w.path)
    assert paths == [
        "block/norm1/beta",
        "block/norm1/gamma",
        "block/norm2/beta",
        "block/norm2/gamma",
    ]


def test_round_trips_through_its_config():
    layer = LayerNorm(epsilon=1e-5, name="norm")
    clone = LayerNorm.from_config(layer.get_config())
    assert clone.epsilon == 1e-5 and clone.axis == -1


def test_only_the_last_axis():
    with pytest.raises(ValueError, match="last axis only"):
        LayerNorm(axis=1)


def test_attention_split_matches_the_stacked_qkv_layout():
    layer = MultiHeadSelfAttention(hidden_dim=12, num_heads=3)
    tokens = np.random.default_rng(1).normal(size=(2, 5, 12)).astype("float32")
    out = layer(tokens)
    qkv = keras.ops.convert_to_numpy(layer.qkv(tokens))
    stacked = qkv.reshape(2, 5, 3, 3, 4).transpose(2, 0, 3, 1, 4)
    for index, key in enumerate(("query", "key", "value")):
        np.testing.assert_array_equal(out[key], stacked[index])
