"""LayerNorm over the last axis, written so every exporter keeps it whole."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_loretrack")
class LayerNorm(keras.layers.LayerNormalization):
    """Keras' `LayerNormalization` over the last axis, as centred arithmetic.

    Computes `(x - mean) · rsqrt(var + ε) · gamma + beta` with
    `var = mean((x - mean)²)`, which equals Keras' own layer within float32
    rounding and keeps its weights (`gamma`, `beta`) and variable paths. Keras
    computes `x · inv + (beta - mean · inv)`; centring first is what TFLite's
    XNNPACK delegate runs as one float partition and what the ONNX export
    rewrites into a single `LayerNormalization` node
    (`keras_loretrack.export.onnx`).

    Args:
        epsilon: float. Added to the variance.
        **kwargs: other `keras.layers.LayerNormalization` arguments; `axis`
            must be the last axis.
    """

    def __init__(self, epsilon=1e-6, **kwargs):
        axis = kwargs.pop("axis", -1)
        if axis not in (-1, [-1], (-1,)):
            raise ValueError(f"LayerNorm normalises the last axis only, got {axis!r}")
        super().__init__(axis=-1, epsilon=epsilon, **kwargs)

    def call(self, inputs):
        compute_dtype = keras.backend.result_type(inputs.dtype, "float32")
        x = ops.cast(inputs, compute_dtype)
        mean = ops.mean(x, axis=-1, keepdims=True)
        centered = x - mean
        variance = ops.mean(ops.square(centered), axis=-1, keepdims=True)
        outputs = ops.rsqrt(variance + self.epsilon) * centered
        if self.gamma is not None:
            outputs = outputs * ops.cast(self.gamma, compute_dtype)
        if self.beta is not None:
            outputs = outputs + ops.cast(self.beta, compute_dtype)
        return ops.cast(outputs, self.compute_dtype)
