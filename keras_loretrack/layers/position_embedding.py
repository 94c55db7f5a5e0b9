"""A learned position table added to a square grid of tokens."""

import keras


@keras.saving.register_keras_serializable(package="keras_loretrack")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned (grid_size², hidden_dim) table to row-major tokens.

    Args:
        grid_size: int. Side of the token grid.
        hidden_dim: int. Token width.
    """

    def __init__(self, grid_size, hidden_dim, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = grid_size
        self.hidden_dim = hidden_dim

    def build(self, input_shape):
        num_tokens = self.grid_size * self.grid_size
        if input_shape[1] is not None and input_shape[1] != num_tokens:
            raise ValueError(
                f"PositionEmbedding for a {self.grid_size}x{self.grid_size} grid "
                f"expects {num_tokens} tokens, got input shape {input_shape}"
            )
        self.embeddings = self.add_weight(
            shape=(num_tokens, self.hidden_dim),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="embeddings",
        )

    def call(self, tokens):
        return tokens + self.embeddings

    def get_config(self):
        config = super().get_config()
        config.update({"grid_size": self.grid_size, "hidden_dim": self.hidden_dim})
        return config
