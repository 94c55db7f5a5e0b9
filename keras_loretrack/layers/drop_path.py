"""Stochastic depth: drops a whole residual branch per sample."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_loretrack")
class DropPath(keras.layers.Layer):
    """Zeroes the residual branch of random samples during training.

    Surviving samples are scaled by `1 / (1 - rate)` so the expectation is kept.

    Args:
        rate: float. Probability of dropping the branch of a sample.
        seed: int or None. Seed of the layer's random generator.
    """

    def __init__(self, rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"DropPath rate must be in [0, 1), got {rate!r}")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        mask = ops.floor(
            keep + keras.random.uniform(shape, seed=self.seed_generator, dtype=x.dtype)
        )
        return x * mask / keep

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
