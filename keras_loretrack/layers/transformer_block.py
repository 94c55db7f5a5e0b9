"""The pre-norm ViT block, with optional candidate elimination."""

import keras
from keras import ops

from keras_loretrack.layers.activations import gelu_erf
from keras_loretrack.layers.candidate_elimination import CandidateElimination
from keras_loretrack.layers.drop_path import DropPath
from keras_loretrack.layers.layer_norm import LayerNorm
from keras_loretrack.layers.multi_head_self_attention import MultiHeadSelfAttention


@keras.saving.register_keras_serializable(package="keras_loretrack")
class TransformerBlock(keras.layers.Layer):
    """x + DropPath(Attention(LN(x))), then x + DropPath(MLP(LN(x))).

    With `keep_ratio` set, candidate elimination runs after the attention
    residual and before the MLP (OSTrack's CE block).

    Args:
        hidden_dim: int. Token width.
        num_heads: int. Attention heads.
        mlp_dim: int. Hidden width of the MLP (fc1 → erf GELU → fc2).
        layer_norm_epsilon: float. Epsilon of both LayerNorms.
        drop_path_rate: float. Stochastic depth rate of both residual branches.
        keep_ratio: float or None. Candidate elimination keep ratio; None for a
            plain block.
        num_template_tokens: int or None. Needed with `keep_ratio`.
        template_grid: int or None. Needed with `keep_ratio`.

    Call takes `tokens` (B, N, C) and, for a CE block, the `search_index`
    (B, L) of the current search tokens (None means the full grid, in order).
    It returns a dict with `tokens`, the attention's `query`, `key`, `value`,
    `attention` and, for a CE block, the updated `search_index`.
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        mlp_dim,
        layer_norm_epsilon=1e-6,
        drop_path_rate=0.0,
        keep_ratio=None,
        num_template_tokens=None,
        template_grid=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if keep_ratio is not None and (
            num_template_tokens is None or not template_grid
        ):
            raise ValueError(
                "A candidate-elimination block (keep_ratio set) needs "
                "num_template_tokens and template_grid"
            )
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.layer_norm_epsilon = layer_norm_epsilon
        self.drop_path_rate = drop_path_rate
        self.keep_ratio = keep_ratio
        self.num_template_tokens = num_template_tokens
        self.template_grid = template_grid

    def build(self, tokens_shape, search_index_shape=None):
        token_shape = tuple(tokens_shape)

        def norm(name):
            layer = LayerNorm(
                epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
            )
            layer.build(token_shape)
            return layer

        self.norm1 = norm("norm1")
        self.attention = MultiHeadSelfAttention(
            self.hidden_dim, self.num_heads, dtype=self.dtype_policy, name="attention"
        )
        self.attention.build(token_shape)
        self.norm2 = norm("norm2")
        self.mlp_fc1 = keras.layers.Dense(
            self.mlp_dim, dtype=self.dtype_policy, name="mlp_fc1"
        )
        self.mlp_fc1.build(token_shape)
        self.mlp_fc2 = keras.layers.Dense(
            self.hidden_dim, dtype=self.dtype_policy, name="mlp_fc2"
        )
        self.mlp_fc2.build(token_shape[:-1] + (self.mlp_dim,))
        self.drop_path = DropPath(
            self.drop_path_rate, dtype=self.dtype_policy, name="drop_path"
        )
        self.candidate_elimination = None
        if self.keep_ratio is not None:
            self.candidate_elimination = CandidateElimination(
                self.num_template_tokens,
                self.template_grid,
                self.keep_ratio,
                dtype=self.dtype_policy,
                name="candidate_elimination",
            )

    def call(self, tokens, search_index=None, training=None):
        attended = self.attention(self.norm1(tokens))
        tokens = tokens + self.drop_path(attended["output"], training=training)
        outputs = {key: attended[key] for key in ("query", "key", "value", "attention")}
        if self.candidate_elimination is not None:
            if search_index is None:
                num_search = tokens.shape[1] - self.num_template_tokens
                search_index = ops.zeros_like(
                    tokens[:, self.num_template_tokens :, 0], dtype="int32"
                ) + ops.arange(num_search, dtype="int32")
            kept = self.candidate_elimination(
                tokens, attended["attention"], search_index
            )
            tokens = kept["tokens"]
            outputs["search_index"] = kept["search_index"]
        hidden = self.mlp_fc2(gelu_erf(self.mlp_fc1(self.norm2(tokens))))
        outputs["tokens"] = tokens + self.drop_path(hidden, training=training)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "mlp_dim": self.mlp_dim,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "drop_path_rate": self.drop_path_rate,
                "keep_ratio": self.keep_ratio,
                "num_template_tokens": self.num_template_tokens,
                "template_grid": self.template_grid,
            }
        )
        return config
