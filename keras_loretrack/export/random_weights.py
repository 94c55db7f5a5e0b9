"""Seeded, well-scaled random weights for export checks and benchmarks.

Keras' initial weights make a degenerate exported graph: zero biases, unit
LayerNorm gains and zero shifts, unit BatchNorm statistics are folded away by
the converters, so the graph is smaller and faster than a trained model's and
numerically too easy. These weights are drawn like the PyTorch reference's
`randomize_` (keras_loretrack.benchmarking.torch_ostrack): every tensor random and of a
trained network's scale, so every op of a trained model survives conversion.
"""

import numpy as np


def randomize_weights(model, seed=0):
    """Assigns every weight of `model` a seeded random value; returns `model`.

    Matrices and kernels: N(0, 1/fan_in). LayerNorm / BatchNorm gains:
    1 + 0.2·N(0, 1), shifts and BatchNorm means: 0.1·N(0, 1), BatchNorm
    variances: 0.5 + U(0, 1). Position tables and biases: 0.1·N(0, 1).

    Args:
        model: `keras.Model`.
        seed: int. Seed of the draws (the same seed gives the same weights).
    """
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        path = variable.path
        shape = tuple(variable.shape)
        if path.endswith("moving_variance"):
            value = 0.5 + rng.random(shape)
        elif path.endswith("gamma"):
            value = 1.0 + 0.2 * rng.normal(size=shape)
        elif len(shape) >= 2 and not path.endswith("embeddings"):
            value = rng.normal(size=shape) / np.sqrt(np.prod(shape[:-1]))
        else:
            value = 0.1 * rng.normal(size=shape)
        variable.assign(value.astype(variable.dtype))
    return model
