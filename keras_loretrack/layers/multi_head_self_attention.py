"""Multi-head self-attention with one fused q/k/v projection."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_loretrack")
class MultiHeadSelfAttention(keras.layers.Layer):
    """ViT self-attention that also returns its q, k, v and attention map.

    One Dense(hidden_dim → 3·hidden_dim) produces q, k, v in that order, head h
    taking columns h·head_dim … (h+1)·head_dim - 1 of each third.

    Args:
        hidden_dim: int. Token width.
        num_heads: int. Number of heads; must divide `hidden_dim`.

    Call returns a dict: `output` (B, N, C), `query`, `key`, `value`
    (B, heads, N, head_dim, after the projection and before scaling) and
    `attention` (B, heads, N, N), all from the same pass.
    """

    def __init__(self, hidden_dim, num_heads, **kwargs):
        super().__init__(**kwargs)
        if hidden_dim % num_heads:
            raise ValueError(
                f"hidden_dim ({hidden_dim}) must be divisible by num_heads "
                f"({num_heads})"
            )
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.head_dim = hidden_dim // num_heads
        self.scale = self.head_dim**-0.5

    def build(self, input_shape):
        self.qkv = keras.layers.Dense(
            3 * self.hidden_dim, dtype=self.dtype_policy, name="qkv"
        )
        self.qkv.build(input_shape)
        self.projection = keras.layers.Dense(
            self.hidden_dim, dtype=self.dtype_policy, name="projection"
        )
        self.projection.build(input_shape[:-1] + (self.hidden_dim,))

    def call(self, tokens):
        num_tokens = tokens.shape[1]

        def split_heads(x):
            x = ops.reshape(x, (-1, num_tokens, self.num_heads, self.head_dim))
            return ops.transpose(x, (0, 2, 1, 3))

        # An even split of the last axis rather than indexing a stacked
        # (3, B, heads, N, head_dim) tensor: the same values, but exporters see
        # SPLIT + RESHAPE + TRANSPOSE, which TFLite's XNNPACK delegate runs
        # (strided slices that drop an axis would cut it into one partition
        # per block).
        query, key, value = (
            split_heads(x) for x in ops.split(self.qkv(tokens), 3, axis=-1)
        )
        logits = ops.matmul(query * self.scale, ops.transpose(key, (0, 1, 3, 2)))
        attention = self.probabilities(logits)
        mixed = ops.transpose(ops.matmul(attention, value), (0, 2, 1, 3))
        output = self.projection(ops.reshape(mixed, (-1, num_tokens, self.hidden_dim)))
        return {
            "output": output,
            "query": query,
            "key": key,
            "value": value,
            "attention": attention,
        }

    def probabilities(self, logits):
        """The attention map: softmax of the logits over the keys."""
        return ops.softmax(logits, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim, "num_heads": self.num_heads})
        return config
