"""Patch embedding: non-overlapping patches projected to tokens."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_loretrack")
class PatchEmbedding(keras.layers.Layer):
    """A `patch_size` × `patch_size` stride-`patch_size` convolution, flattened.

    Tokens are ordered row-major: token n is patch (n // grid_w, n % grid_w).

    Args:
        hidden_dim: int. Token width.
        patch_size: int. Patch side in pixels.
    """

    def __init__(self, hidden_dim, patch_size, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.patch_size = patch_size

    def build(self, input_shape):
        self.projection = keras.layers.Conv2D(
            self.hidden_dim,
            self.patch_size,
            strides=self.patch_size,
            padding="valid",
            dtype=self.dtype_policy,
            name="projection",
        )
        self.projection.build(input_shape)

    def call(self, images):
        patches = self.projection(images)
        _, grid_h, grid_w, channels = patches.shape
        return ops.reshape(patches, (-1, grid_h * grid_w, channels))

    def compute_output_shape(self, input_shape):
        grid_h = input_shape[1] // self.patch_size
        grid_w = input_shape[2] // self.patch_size
        return (input_shape[0], grid_h * grid_w, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim, "patch_size": self.patch_size})
        return config
