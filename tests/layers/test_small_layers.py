import keras
import numpy as np
import pytest

from keras_loretrack.layers import (
    CenterHead,
    DropPath,
    PatchEmbedding,
    PositionEmbedding,
    TransformerBlock,
    decode_boxes,
    gelu_erf,
)
from keras_loretrack.layers.center_head import SCORE_PRIOR


def test_gelu_erf_equals_exact_gelu():
    x = np.linspace(-6, 6, 101).astype("float32")
    np.testing.assert_allclose(
        gelu_erf(x), keras.activations.gelu(x, approximate=False), atol=1e-6
    )


def test_drop_path_identity_at_inference_and_per_sample_in_training():
    layer = DropPath(0.5, seed=1)
    x = np.ones((64, 3, 4), "float32")
    np.testing.assert_array_equal(layer(x, training=False), x)
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    per_sample = y.reshape(64, -1)
    assert set(np.unique(per_sample)) == {0.0, 2.0}
    assert (per_sample.min(1) == per_sample.max(1)).all()


def test_drop_path_rejects_bad_rate():
    with pytest.raises(ValueError, match="rate must be in"):
        DropPath(1.0)


def test_patch_embedding_is_row_major():
    layer = PatchEmbedding(hidden_dim=4, patch_size=2)
    images = np.zeros((1, 4, 6, 3), "float32")
    images[0, 2:4, 4:6] = 1.0  # patch (row 1, col 2) -> token 1 * 3 + 2 = 5
    tokens = keras.ops.convert_to_numpy(layer(images))
    bias = keras.ops.convert_to_numpy(layer.projection.bias)
    changed = np.abs(tokens[0] - bias).sum(-1) > 0
    assert tokens.shape == (1, 6, 4)
    assert np.flatnonzero(changed).tolist() == [5]


def test_position_embedding_rejects_wrong_grid():
    with pytest.raises(ValueError, match="expects 16 tokens"):
        PositionEmbedding(4, 8)(np.zeros((1, 9, 8), "float32"))


def test_decode_boxes_matches_numpy():
    rng = np.random.default_rng(3)
    score = rng.random((3, 5, 5, 1)).astype("float32")
    size = rng.random((3, 5, 5, 2)).astype("float32")
    offset = rng.random((3, 5, 5, 2)).astype("float32")
    boxes = keras.ops.convert_to_numpy(decode_boxes(score, size, offset))
    for b in range(3):
        iy, ix = np.unravel_index(score[b, ..., 0].argmax(), (5, 5))
        expected = [
            (ix + offset[b, iy, ix, 0]) / 5,
            (iy + offset[b, iy, ix, 1]) / 5,
            size[b, iy, ix, 0],
            size[b, iy, ix, 1],
        ]
        np.testing.assert_allclose(boxes[b], expected, rtol=1e-6)


def test_center_head_ranges_and_config_round_trip():
    head = CenterHead(channels=(8, 8, 4, 4))
    features = np.random.default_rng(0).normal(size=(2, 4, 4, 6)).astype("float32") * 50
    out = head(features)
    assert out["score_map"].shape == (2, 4, 4, 1)
    assert out["offset_map"].shape == (2, 4, 4, 2)
    score = keras.ops.convert_to_numpy(out["score_map"])
    assert score.min() >= 1e-4 - 1e-9 and score.max() <= 1 - 1e-4 + 1e-7
    clone = CenterHead.from_config(head.get_config())
    clone.build(features.shape)
    clone.set_weights(head.get_weights())
    np.testing.assert_array_equal(clone(features)["size_map"], out["size_map"])


def test_center_head_score_starts_at_focal_prior():
    head = CenterHead(channels=(8, 8, 4, 4))
    # Zero features: every conv stage outputs its bias, so the score is the prior.
    out = head(np.zeros((1, 4, 4, 6), "float32"))
    score = keras.ops.convert_to_numpy(out["score_map"])
    np.testing.assert_allclose(score, SCORE_PRIOR, rtol=1e-4)
    size = keras.ops.convert_to_numpy(out["size_map"])
    np.testing.assert_allclose(size, 0.5, rtol=1e-4)


def test_transformer_block_config_round_trip():
    block = TransformerBlock(16, 2, 32, drop_path_rate=0.1, name="b")
    tokens = np.random.default_rng(0).normal(size=(1, 5, 16)).astype("float32")
    out = block(tokens)
    clone = TransformerBlock.from_config(block.get_config())
    clone(tokens)
    clone.set_weights(block.get_weights())
    np.testing.assert_array_equal(clone(tokens)["tokens"], out["tokens"])


def test_candidate_elimination_block_needs_template_geometry():
    with pytest.raises(ValueError, match="needs num_template_tokens"):
        TransformerBlock(16, 2, 32, keep_ratio=0.7)
