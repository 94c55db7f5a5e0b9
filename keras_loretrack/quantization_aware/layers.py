"""Quantization-aware versions of Keras' Dense, Conv2D and the attention, in place.

`quantization_aware` (`keras_loretrack.quantization_aware.model`) turns each
`Dense` / `Conv2D` of a built model into the matching class below, the way
Keras' own `Layer.quantize` and `enable_lora` change a built layer: the
object, its variables and their paths stay, so every model holding the layer
(the task, `distillation_model`, a distiller) trains it quantization-aware,
and `save_own_variables` writes the same kernel and bias as before. What the
layer does changes:

    inputs → fake-quantised (8-bit, moving range) → kernel fake-quantised per
    output channel → matmul / conv + bias → output fake-quantised (8-bit,
    moving range)

which is what an int8 fully-connected or convolution op computes in TFLite.
A convolution followed by a BatchNormalization (OSTrack's head) folds the
normalisation's moving statistics into its kernel and bias before quantising
them, as the converters fold them for inference, and the normalisation layer
passes its input through (its statistics stay frozen while fine-tuning).
For full-integer files the attention layers can also round their softmax
probabilities to the fixed grid TFLite's int8 softmax writes them on.
"""

import dataclasses
import inspect

import keras
from keras import ops

from keras_loretrack.layers.multi_head_self_attention import MultiHeadSelfAttention
from keras_loretrack.quantization_aware.fake_quant import (
    MovingRange,
    fake_quantize_probabilities,
    fake_quantize_weights,
)


@dataclasses.dataclass
class LayerQuantization:
    """What a quantization-aware layer holds besides its own weights.

    Args:
        weight_bits: int. Bits of the per-channel weights (8 or 7).
        inputs: `MovingRange` of the layer's input.
        outputs: `MovingRange` of its output (after the bias), or None for a
            convolution whose BatchNorm and ReLU follow: the ReLU's output is
            the next layer's input, which that layer quantises (TFLite fuses
            the ReLU into the int8 convolution).
        folded_norm: `keras.layers.BatchNormalization` or None. The
            normalisation folded into a convolution's kernel and bias.
        frozen: (kernel, bias) numpy arrays or None. While set (see
            `keras_loretrack.quantization_aware.model.frozen_weights`), the
            layer computes with these constants instead of its variables.
        activations: bool. Fake-quantise the inputs and outputs (off only
            to export the float graph ONNX Runtime quantises).
        float_weights: bool. Keep the kernel float: the head's map
            convolutions, which the int8 exports keep in float; their
            quantised input is the int8 output of the convolution before.
    """

    weight_bits: int
    inputs: MovingRange
    outputs: MovingRange | None
    folded_norm: keras.layers.BatchNormalization | None = None
    frozen: tuple | None = None
    activations: bool = True
    float_weights: bool = False


def _folded(kernel, bias, norm):
    """Kernel and bias of `conv` followed by `norm` in inference mode."""
    scale = ops.rsqrt(norm.moving_variance + norm.epsilon)
    if norm.gamma is not None:
        scale = scale * norm.gamma
    shift = -norm.moving_mean * scale
    if norm.beta is not None:
        shift = shift + norm.beta
    if bias is not None:
        shift = shift + bias * scale
    return kernel * scale, shift


class _QuantizationAware:
    """What the quantization-aware Dense and Conv2D share."""

    def quantized_weights(self):
        """The fake-quantised kernel (the head's BatchNorm folded in) and bias."""
        state = self.quantization
        kernel, bias = self.kernel, self.bias
        if state.folded_norm is not None:
            kernel, bias = _folded(kernel, bias, state.folded_norm)
        if state.float_weights:
            return kernel, bias
        return fake_quantize_weights(kernel, state.weight_bits), bias

    def _forward(self, inputs, training, product):
        state = self.quantization
        if state.frozen is None:
            kernel, bias = self.quantized_weights()
        else:
            kernel, bias = state.frozen
        x = state.inputs(inputs, training) if state.activations else inputs
        x = product(x, kernel)
        if bias is not None:
            x = ops.add(x, bias)
        x = self.activation(x)
        if state.outputs is None or not state.activations:
            return x
        return state.outputs(x, training)


class QuantizationAwareDense(_QuantizationAware, keras.layers.Dense):
    """A `Dense` that computes as an int8 fully-connected op (see module doc)."""

    def call(self, inputs, training=None):
        return self._forward(inputs, training, ops.matmul)


class QuantizationAwareConv2D(_QuantizationAware, keras.layers.Conv2D):
    """A `Conv2D` that computes as an int8 convolution (see module doc)."""

    def call(self, inputs, training=None):
        return self._forward(inputs, training, self.convolution_op)


class QuantizationAwareMultiHeadSelfAttention(MultiHeadSelfAttention):
    """Self-attention whose probabilities are rounded as TFLite's int8 softmax does.

    Full-integer TFLite files write the softmax output on a fixed grid (k/256)
    whatever its calibration; most attention probabilities are a few steps of
    it. `round_probabilities` is switched off only to export float graphs.
    """

    round_probabilities = True

    def probabilities(self, logits):
        attention = super().probabilities(logits)
        if not self.round_probabilities:
            return attention
        return fake_quantize_probabilities(attention)


class FoldedBatchNormalization(keras.layers.BatchNormalization):
    """A BatchNormalization folded into the convolution before it: the identity."""

    def call(self, inputs, training=None, mask=None):
        return inputs


# Keras names the layers held in a list (the head's `ctr_convs`) in weight
# files by their class name: the quantization-aware classes keep Keras' names
# so that the files keep their layout.
for _class in (
    QuantizationAwareDense,
    QuantizationAwareConv2D,
    QuantizationAwareMultiHeadSelfAttention,
    FoldedBatchNormalization,
):
    _class.__name__ = _class.__bases__[-1].__name__

QUANTIZATION_AWARE = {
    keras.layers.Dense: QuantizationAwareDense,
    keras.layers.Conv2D: QuantizationAwareConv2D,
    keras.layers.BatchNormalization: FoldedBatchNormalization,
    MultiHeadSelfAttention: QuantizationAwareMultiHeadSelfAttention,
}
FLOAT = {value: key for key, value in QUANTIZATION_AWARE.items()}


def _adopt_call_signature(layer):
    """Re-reads `layer.call`'s arguments after its class changed.

    Keras inspects `call` once, in `Layer.__init__`, to know whether to pass
    `training`; `Conv2D.call` takes none, its quantization-aware version does.
    """
    layer._call_signature = inspect.signature(layer.call)
    layer.call_signature_parameters = list(layer._call_signature.parameters)
    layer._call_has_training_arg = "training" in layer.call_signature_parameters
    layer._call_has_mask_arg = "mask" in layer.call_signature_parameters
    layer._call_has_context_arg = {
        arg: arg in layer.call_signature_parameters for arg in layer._call_context_args
    }


def make_quantization_aware(layer, quantization=None):
    """Gives a built Dense, Conv2D, BatchNormalization or attention its class above.

    Args:
        layer: the layer (changed in place).
        quantization: `LayerQuantization` for a Dense or Conv2D; None for a
            BatchNormalization folded into its convolution or an attention.
    """
    layer.__class__ = QUANTIZATION_AWARE[type(layer)]
    if quantization is not None:
        layer.quantization = quantization
    _adopt_call_signature(layer)


def make_float(layer):
    """Gives a layer changed by `make_quantization_aware` its Keras class back."""
    layer.__class__ = FLOAT[type(layer)]
    if hasattr(layer, "quantization"):
        del layer.quantization
    _adopt_call_signature(layer)
