"""Fake quantisation: int8 rounding simulated in float32, straight-through gradients.

Weights are quantised per output channel (the kernel's last axis),
symmetrically and in the narrow range: with `b` bits every channel has the
scale `max|w| / (2^(b-1) - 1)` and the integers `-(2^(b-1) - 1) … 2^(b-1) - 1`,
the int8 weight format of TFLite and of ONNX Runtime's QDQ models.
Activations are quantised per tensor, asymmetrically, to 8 bits over a range
that always holds zero. Both go through `keras.quantizers.fake_quant_with_min_max_vars`,
which on TensorFlow is `tf.quantization.fake_quant_with_min_max_vars(_per_channel)`:
the ops the TFLite converter turns into int8 tensors, and whose gradient passes
through inside the range and is zero outside (Jacob et al., "Quantization and
Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference",
CVPR 2018).
"""

import keras
from keras import ops

ACTIVATION_BITS = 8
# TFLite's int8 softmax writes its output with scale 1/256 and zero point
# -128: the probabilities k/256, k = 0 … 255.
PROBABILITY_RANGE = (0.0, 255.0 / 256.0)
WEIGHT_BITS = (7, 8)
# The narrowest range a quantiser accepts: a channel of zero weights or an
# all-zero activation still gets a positive scale.
SMALLEST_RANGE = 1e-6


def check_weight_bits(weight_bits):
    """Raises a ValueError unless `weight_bits` is one of `WEIGHT_BITS`."""
    if weight_bits not in WEIGHT_BITS:
        raise ValueError(
            f"weight_bits must be one of {list(WEIGHT_BITS)} (8: TFLite int8; 7: "
            f"ONNX Runtime on CPUs without VNNI), got {weight_bits!r}"
        )


def weight_bounds(kernel):
    """max|w| of every output channel (the last axis), at least `SMALLEST_RANGE`."""
    axes = tuple(range(len(kernel.shape) - 1))
    return ops.maximum(ops.max(ops.abs(kernel), axis=axes), SMALLEST_RANGE)


def fake_quantize_weights(kernel, weight_bits=8):
    """Rounds a kernel to symmetric per-channel integers and back.

    The bounds are the kernel's own (no gradient flows through them); the
    kernel's gradient passes straight through.

    Args:
        kernel: tensor (..., channels). A Dense or convolution kernel.
        weight_bits: int. 8, or 7 for 7-bit weights.
    """
    bounds = ops.stop_gradient(weight_bounds(kernel))
    return keras.quantizers.fake_quant_with_min_max_vars(
        kernel, -bounds, bounds, num_bits=weight_bits, narrow_range=True, axis=-1
    )


def activation_limits(low, high):
    """The range an activation is quantised over: [low, high] widened to hold 0."""
    low = ops.minimum(low, 0.0)
    high = ops.maximum(ops.maximum(high, 0.0), low + SMALLEST_RANGE)
    return low, high


def fake_quantize_activations(x, low, high):
    """Rounds `x` to 8-bit asymmetric integers over [low, high] and back."""
    low, high = activation_limits(low, high)
    return keras.quantizers.fake_quant_with_min_max_vars(
        x, low, high, num_bits=ACTIVATION_BITS, narrow_range=False
    )


def fake_quantize_probabilities(probabilities):
    """Rounds probabilities to the grid of TFLite's int8 softmax output (k/256)."""
    return keras.quantizers.fake_quant_with_min_max_vars(
        probabilities, *PROBABILITY_RANGE, num_bits=ACTIVATION_BITS, narrow_range=False
    )


class MovingRange:
    """An activation's range, tracked by moving min / max while training.

    The first training batch sets the range; later ones move it by
    `1 - decay` towards their own min and max (TensorFlow Model
    Optimization's moving-average quantiser, with PyTorch's first-batch
    start). Outside training the range stays fixed. A layer called more than
    once a step (the patch embedding, on the template and on the search
    crop) moves it at every call: the one range then serves both inputs, as
    in the exported graph.

    The variables (`limits`: [min, max]; `batches`: how many batches it has
    seen) belong to no layer, so a model's weight files stay the same; read
    and set them with `keras_loretrack.quantization_aware.quantization_ranges`.

    Args:
        decay: float in [0, 1). Weight of the old range per batch.
        name: str. Names the variables.
    """

    def __init__(self, decay, name):
        self.decay = float(decay)
        self.limits = keras.Variable(
            [0.0, 0.0], trainable=False, autocast=False, name=f"{name}_limits"
        )
        self.batches = keras.Variable(  # calls seen while training
            0.0, trainable=False, autocast=False, name=f"{name}_batches"
        )

    def __call__(self, x, training=False):
        """Fake-quantises `x`, first updating the range when `training`."""
        if training:
            self._update(ops.stop_gradient(x))
        return fake_quantize_activations(x, self.limits[0], self.limits[1])

    def _update(self, x):
        observed = ops.stack([ops.min(x), ops.max(x)])
        weight = ops.where(self.batches > 0, self.decay, 0.0)
        self.limits.assign(weight * self.limits + (1.0 - weight) * observed)
        self.batches.assign(self.batches + 1.0)
