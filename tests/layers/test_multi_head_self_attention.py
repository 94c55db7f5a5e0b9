import keras
import numpy as np
import pytest

from keras_loretrack.layers import MultiHeadSelfAttention


def numpy_attention(tokens, qkv_kernel, qkv_bias, proj_kernel, proj_bias, heads):
    batch, n, c = tokens.shape
    d = c // heads
    qkv = tokens @ qkv_kernel + qkv_bias
    q, k, v = (qkv[..., i * c : (i + 1) * c] for i in range(3))

    def split(t):
        return t.reshape(batch, n, heads, d).transpose(0, 2, 1, 3)

    q, k, v = split(q), split(k), split(v)
    logits = (q * d**-0.5) @ k.transpose(0, 1, 3, 2)
    logits -= logits.max(-1, keepdims=True)
    attn = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    mixed = (attn @ v).transpose(0, 2, 1, 3).reshape(batch, n, c)
    return mixed @ proj_kernel + proj_bias, q, k, v, attn


def test_outputs_match_manual_recomputation():
    rng = np.random.default_rng(0)
    layer = MultiHeadSelfAttention(hidden_dim=24, num_heads=3)
    tokens = rng.normal(size=(2, 7, 24)).astype("float32")
    out = layer(tokens)
    expected = numpy_attention(
        tokens,
        *(keras.ops.convert_to_numpy(w) for w in layer.qkv.weights),
        *(keras.ops.convert_to_numpy(w) for w in layer.projection.weights),
        heads=3,
    )
    for key, ref in zip(("output", "query", "key", "value", "attention"), expected):
        np.testing.assert_allclose(out[key], ref, atol=1e-5, err_msg=key)
    assert out["query"].shape == (2, 3, 7, 8)


def test_query_rows_are_the_first_third_of_qkv():
    layer = MultiHeadSelfAttention(hidden_dim=8, num_heads=2)
    tokens = np.eye(8, dtype="float32")[None]
    out = layer(tokens)
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.qkv.weights)
    # Head 1 of q is columns 4..7 of the qkv output; k starts at column 8.
    np.testing.assert_allclose(
        out["query"][0, 1], kernel[:, 4:8] + bias[4:8], atol=1e-6
    )
    np.testing.assert_allclose(
        out["key"][0, 0], kernel[:, 8:12] + bias[8:12], atol=1e-6
    )


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        MultiHeadSelfAttention(hidden_dim=10, num_heads=3)
