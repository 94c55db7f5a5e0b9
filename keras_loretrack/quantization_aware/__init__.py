"""Quantization-aware training (QAT) for Keras 3 LoReTrack models.

What TensorFlow Model Optimization's `quantize_model` does for Keras 2 models,
which it cannot take in Keras 3: `quantization_aware(model)` makes the Dense
and Conv2D layers of a `LoReTrack` (all but the head's map convolutions, which
the exports keep in float) compute as their int8 version, in place, without
changing the weights or their files; `model.fit` (or a `LoReTrackDistiller`
with the model as student) fine-tunes it; `export_quantization_aware` writes
TFLite `int8-mixed` / `int8` and ONNX `int8` files with the learned ranges.
See `recipes/quantization_aware.py`.
"""

from keras_loretrack.quantization_aware.export import (
    QUANTIZATIONS,
    export_quantization_aware,
    parse_export_target,
)
from keras_loretrack.quantization_aware.fake_quant import (
    fake_quantize_activations,
    fake_quantize_weights,
)
from keras_loretrack.quantization_aware.model import (
    DEFAULT_RANGE_DECAY,
    RANGES_FILE,
    frozen_weights,
    is_quantization_aware,
    load_quantization_aware,
    quantization_aware,
    quantization_ranges,
    quantized_layers,
    save_quantization_aware,
    set_quantization_ranges,
    strip_quantization_aware,
)
