"""Switching quantization-aware training on and off for a `LoReTrack`, and its ranges.

```python
model = LoReTrack.from_preset("mini_teacher")
quantization_aware(model)          # in place; the same object is returned
model.compile(optimizer=keras.optimizers.AdamW(1e-5))
model.fit(pairs, steps_per_epoch=200)
save_quantization_aware(model, "mini_teacher_qat")   # preset + ranges
```

The model keeps its weights and their layout: `save_to_preset` writes a float
preset any `LoReTrack.from_preset` loads. The activation ranges learned while
training are not weights: `quantization_ranges` reads them,
`set_quantization_ranges` restores them, and `save_quantization_aware` writes
them beside the preset (`quantization_ranges.json`).
"""

import contextlib
import json
import os

import keras
import numpy as np

from keras_loretrack.atomic_files import write_json
from keras_loretrack.layers.center_head import BRANCHES, MAP_OUTPUT_LAYERS, CenterHead
from keras_loretrack.layers.multi_head_self_attention import MultiHeadSelfAttention
from keras_loretrack.models.loretrack import LoReTrack
from keras_loretrack.quantization_aware.fake_quant import (
    MovingRange,
    check_weight_bits,
)
from keras_loretrack.quantization_aware.layers import (
    FLOAT,
    QUANTIZATION_AWARE,
    LayerQuantization,
    QuantizationAwareMultiHeadSelfAttention,
    make_float,
    make_quantization_aware,
)

RANGES_FILE = "quantization_ranges.json"
DEFAULT_RANGE_DECAY = 0.99
# Layers with kernels that have no quantization-aware version here (nor
# subclasses of Dense / Conv2D, whose call may differ).
_WITH_KERNELS = (
    keras.layers.Dense,
    keras.layers.EinsumDense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.Conv2DTranspose,
)
_SUPPORTED = (keras.layers.Dense, keras.layers.Conv2D)


def _layers(model):
    # Keras' own `Model.quantize` walks the same private list.
    return model._flatten_layers(include_self=False)


def quantized_layers(model):
    """The quantization-aware Dense / Conv2D layers of `model`, by layer path."""
    return {
        layer.path: layer
        for layer in _layers(model)
        if type(layer) in FLOAT and hasattr(layer, "quantization")
    }


def _rounding_attentions(model):
    return [
        layer
        for layer in _layers(model)
        if isinstance(layer, QuantizationAwareMultiHeadSelfAttention)
    ]


def is_quantization_aware(model):
    """Whether `quantization_aware` has been applied to `model` (and not undone)."""
    return bool(quantized_layers(model))


def _map_output_convs(model):
    """The head's map convolutions, whose weights the int8 exports keep float."""
    return {
        getattr(head, name)
        for head in _layers(model)
        if isinstance(head, CenterHead)
        for name in MAP_OUTPUT_LAYERS
    }


def _head_norms(model):
    """conv → the BatchNormalization after it, in every `CenterHead`."""
    pairs = {}
    for head in _layers(model):
        if isinstance(head, CenterHead):
            for branch in BRANCHES:
                convs = getattr(head, f"{branch}_convs")
                norms = getattr(head, f"{branch}_norms")
                pairs.update(zip(convs, norms))
    return pairs


def quantization_aware(
    model,
    weight_bits=8,
    range_decay=DEFAULT_RANGE_DECAY,
    attention_probabilities=False,
):
    """Fake-quantises the Dense and Conv2D layers of a `LoReTrack`, in place.

    Each fully-connected and convolution layer then computes as its int8
    version would (`keras_loretrack.quantization_aware.layers`): 8-bit inputs
    and outputs over moving min / max ranges, weights symmetric per output
    channel. The head's map convolutions keep float weights and outputs, as
    the `int8-mixed` and ONNX `int8` exports keep them (`MAP_OUTPUT_LAYERS`):
    only their input, the int8 output of the convolution before, is
    quantised (full-integer TFLite `int8` calibrates the rest of them on
    crops). The head's BatchNormalizations are folded into their
    convolutions (their statistics stay frozen). Train as before, with
    `compile` / `fit`, or as the student of a `LoReTrackDistiller`; export
    with `export_quantization_aware`.

    Args:
        model: `LoReTrack`.
        weight_bits: int. 8 (TFLite), or 7 for ONNX Runtime's int8 kernels
            on x86 CPUs without VNNI (see `keras_loretrack.export.onnx`).
        range_decay: float in [0, 1). How much of an activation range each
            training batch keeps; the first batch sets it.
        attention_probabilities: bool. Also round every attention's softmax
            output to the grid full-integer TFLite `int8` computes it on
            (k/256, whatever the calibration): fine-tuning for that mode.
            `int8-mixed` and ONNX files keep the softmax in float.

    Returns:
        `model`, now quantization-aware.

    Raises:
        ValueError: not a `LoReTrack` or not on TensorFlow, already
            quantization-aware, a bad
            `weight_bits` or `range_decay`, or a layer type with no
            quantization-aware version (EinsumDense, depthwise or other
            convolutions).
    """
    if not isinstance(model, LoReTrack):
        raise ValueError(
            f"quantization_aware takes a LoReTrack model, got {type(model).__name__}"
        )
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "quantization_aware needs the TensorFlow backend (training updates "
            f"the ranges in place), got {keras.backend.backend()!r}"
        )
    check_weight_bits(weight_bits)
    if not 0.0 <= range_decay < 1.0:
        raise ValueError(f"range_decay must be in [0, 1), got {range_decay!r}")
    if is_quantization_aware(model):
        raise ValueError(f"Model {model.name!r} is already quantization-aware")
    for layer in _layers(model):
        if isinstance(layer, _WITH_KERNELS) and type(layer) not in _SUPPORTED:
            raise ValueError(
                f"Layer {layer.path!r} is a {type(layer).__name__}, which has no "
                "quantization-aware version (Dense and Conv2D only)"
            )
    norms = _head_norms(model)
    map_outputs = _map_output_convs(model)
    for layer in _layers(model):
        if type(layer) not in _SUPPORTED:
            continue
        name = layer.path.replace("/", "_")
        norm = norms.get(layer)
        float_output = norm is not None or layer in map_outputs
        make_quantization_aware(
            layer,
            LayerQuantization(
                weight_bits=weight_bits,
                inputs=MovingRange(range_decay, f"{name}_inputs"),
                outputs=None
                if float_output
                else MovingRange(range_decay, f"{name}_outputs"),
                folded_norm=norm,
                float_weights=layer in map_outputs,
            ),
        )
        if norm is not None:
            make_quantization_aware(norm)
    if attention_probabilities:
        for layer in _layers(model):
            if type(layer) is MultiHeadSelfAttention:
                make_quantization_aware(layer)
    return model


def strip_quantization_aware(model):
    """Turns a quantization-aware model back into a float one, in place.

    The weights stay as trained; the ranges are dropped (read them first with
    `quantization_ranges`). Returns `model`.
    """
    for layer in _layers(model):
        if type(layer) in QUANTIZATION_AWARE.values():
            make_float(layer)
    return model


@contextlib.contextmanager
def frozen_weights(model, activations=True):
    """Within the block, every quantization-aware layer computes with constants.

    The constants are the layer's fake-quantised kernel (BatchNorm folded in)
    and bias: exactly the values int8 can hold, so a converter that quantises
    them per output channel gets back the same integers. Export traces the
    model inside this block: TensorFlow's TFLite converter cannot quantise a
    per-channel fake-quant op feeding a fully-connected layer ('tfl.transpose'
    op has mismatched quantized axes), and tf2onnx converts only per-tensor
    ones.

    Args:
        model: a quantization-aware `LoReTrack`.
        activations: bool. Keep the activations' fake quantisation (and the
            attention probabilities' rounding); False gives the float graph
            (with the int8-exact weights) that ONNX Runtime's quantiser takes.
    """
    layers = list(quantized_layers(model).values())
    attentions = _rounding_attentions(model)
    for attention in attentions:
        attention.round_probabilities = activations
    for layer in layers:
        kernel, bias = layer.quantized_weights()
        layer.quantization.frozen = (
            np.asarray(kernel),
            None if bias is None else np.asarray(bias),
        )
        layer.quantization.activations = activations
    try:
        yield model
    finally:
        for layer in layers:
            layer.quantization.frozen = None
            layer.quantization.activations = True
        for attention in attentions:
            attention.round_probabilities = True


def _limits(moving):
    return None if moving is None else [float(v) for v in moving.limits.numpy()]


def quantization_ranges(model):
    """The activation ranges of a quantization-aware model, as plain data.

    Returns:
        dict: `weight_bits`, `range_decay`, `attention_probabilities`
        (whether the attentions round their softmax) and `layers`: layer path →
        {"inputs": [min, max], "outputs": [min, max] or None, "batches":
        training calls the input range has seen}.

    Raises:
        ValueError: the model is not quantization-aware.
    """
    layers = quantized_layers(model)
    if not layers:
        raise ValueError(f"Model {model.name!r} is not quantization-aware")
    first = next(iter(layers.values())).quantization
    return {
        "weight_bits": first.weight_bits,
        "range_decay": first.inputs.decay,
        "attention_probabilities": bool(_rounding_attentions(model)),
        "layers": {
            path: {
                "inputs": _limits(layer.quantization.inputs),
                "outputs": _limits(layer.quantization.outputs),
                "batches": int(layer.quantization.inputs.batches.numpy()),
            }
            for path, layer in layers.items()
        },
    }


def set_quantization_ranges(model, ranges):
    """Restores ranges read by `quantization_ranges` into a quantization-aware model.

    Raises:
        ValueError: the model is not quantization-aware, or its layers or
            weight bits differ from the record's.
    """
    layers = quantized_layers(model)
    if not layers:
        raise ValueError(f"Model {model.name!r} is not quantization-aware")
    recorded = ranges["layers"]
    if set(recorded) != set(layers):
        raise ValueError(
            "The ranges are for other layers: missing "
            f"{sorted(set(layers) - set(recorded))}, unknown "
            f"{sorted(set(recorded) - set(layers))}"
        )
    bits = next(iter(layers.values())).quantization.weight_bits
    if ranges["weight_bits"] != bits:
        raise ValueError(
            f"The ranges were trained with {ranges['weight_bits']}-bit weights, the "
            f"model quantises to {bits}"
        )
    for path, layer in layers.items():
        for side in ("inputs", "outputs"):
            moving = getattr(layer.quantization, side)
            if moving is not None:
                moving.limits.assign(recorded[path][side])
                moving.batches.assign(float(recorded[path]["batches"]))


def save_quantization_aware(model, preset_dir):
    """Writes a float preset (`save_to_preset`) and `quantization_ranges.json`."""
    model.save_to_preset(preset_dir)
    write_json(os.path.join(preset_dir, RANGES_FILE), quantization_ranges(model))


def load_quantization_aware(preset_dir):
    """The quantization-aware `LoReTrack` saved by `save_quantization_aware`.

    Raises:
        FileNotFoundError: the folder has no `quantization_ranges.json`.
    """
    preset_dir = os.fspath(preset_dir)
    path = os.path.join(preset_dir, RANGES_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} not found: {preset_dir!r} is not a quantization-aware preset "
            "(written by save_quantization_aware)"
        )
    with open(path, encoding="utf-8") as f:
        ranges = json.load(f)
    model = LoReTrack.from_preset(preset_dir)
    quantization_aware(
        model,
        weight_bits=ranges["weight_bits"],
        range_decay=ranges["range_decay"],
        attention_probabilities=ranges.get("attention_probabilities", False),
    )
    set_quantization_ranges(model, ranges)
    return model
