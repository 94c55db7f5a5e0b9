import os

import h5py
import keras
import numpy as np
import pytest

from keras_loretrack.models import LoReTrack
from keras_loretrack.quantization_aware import (
    RANGES_FILE,
    frozen_weights,
    load_quantization_aware,
    quantization_aware,
    quantization_ranges,
    quantized_layers,
    save_quantization_aware,
    set_quantization_ranges,
    strip_quantization_aware,
)
from tests.presets import TINY_TEST
from tests.quantization_aware.conftest import batch_of, tiny_model

MAPS = ("score_map", "size_map", "offset_map")


def h5_layout(path):
    """Every dataset of a weights file: its path → shape."""
    layout = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, item: (
                layout.__setitem__(name, item.shape)
                if isinstance(item, h5py.Dataset)
                else None
            )
        )
    return layout


def maps(model, pair):
    out = model(pair)
    return {k: np.asarray(out[k]) for k in MAPS}


def test_every_dense_and_conv_becomes_quantization_aware():
    model = quantization_aware(tiny_model())
    layers = quantized_layers(model)

    # tiny_test: 2 blocks × (qkv, projection, fc1, fc2), the patch embedding,
    # 3 head branches × (4 convs + map convolution).
    assert len(layers) == 2 * 4 + 1 + 3 * 5
    map_conv = layers["center_head/offset_output"]
    # Float weights and output, as the int8 exports keep it; int8 input.
    assert map_conv.quantization.float_weights
    assert map_conv.quantization.outputs is None
    kernel, _ = map_conv.quantized_weights()
    np.testing.assert_array_equal(np.asarray(kernel), np.asarray(map_conv.kernel))
    assert not layers["center_head/offset_conv4"].quantization.float_weights
    head_conv = layers["center_head/ctr_conv1"]
    assert head_conv.quantization.folded_norm is not None
    assert head_conv.quantization.outputs is None  # its ReLU feeds ctr_conv2
    assert layers["transformer_block_0/mlp_fc2"].quantization.outputs is not None


def test_weights_and_their_files_keep_their_layout(tmp_path, crop_pairs):
    model = tiny_model()
    before = [(w.path, w.shape) for w in model.weights]
    variables = [id(w) for w in model.weights]
    model.save_to_preset(tmp_path / "float")

    quantization_aware(model)
    model(batch_of(crop_pairs[:4]), training=True)
    model.save_to_preset(tmp_path / "qat")

    assert [(w.path, w.shape) for w in model.weights] == before
    assert [id(w) for w in model.weights] == variables
    assert h5_layout(tmp_path / "qat/model.weights.h5") == h5_layout(
        tmp_path / "float/model.weights.h5"
    )
    # The saved file is a float preset, and float weights load into the
    # quantization-aware model.
    reloaded = LoReTrack.from_preset(tmp_path / "qat")
    for a, b in zip(reloaded.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    model.load_weights(tmp_path / "float/model.weights.h5")


def test_fake_quantised_maps_stay_close_to_float_and_strip_restores_them(
    crop_pairs,
):
    model = tiny_model()
    pair = crop_pairs[9]
    expected = maps(model, pair)

    quantization_aware(model)
    model(batch_of(crop_pairs[:8]), training=True)
    quantized = maps(model, pair)
    strip_quantization_aware(model)
    stripped = maps(model, pair)

    for key in MAPS:
        difference = np.abs(quantized[key] - expected[key]).max()
        assert 0 < difference < 0.1, key
        np.testing.assert_array_equal(stripped[key], expected[key])
    assert not quantized_layers(model)


def test_head_convolutions_fold_their_batch_norm_exactly():
    from keras_loretrack.quantization_aware.layers import _folded

    model = tiny_model()
    conv = model.head.ctr_convs[1]
    norm = model.head.ctr_norms[1]
    x = np.random.default_rng(0).normal(size=(2, 4, 4, conv.kernel.shape[2]))
    expected = norm(conv(x.astype("float32")), training=False)

    kernel, bias = _folded(conv.kernel, conv.bias, norm)
    folded = conv.convolution_op(x.astype("float32"), kernel) + bias

    np.testing.assert_allclose(np.asarray(folded), np.asarray(expected), atol=1e-5)


def test_fit_moves_the_ranges_and_the_weights(tiny_batch):
    model = quantization_aware(tiny_model(), range_decay=0.5)
    layers = quantized_layers(model)
    qkv = layers["transformer_block_0/attention/qkv"]
    kernel = np.asarray(qkv.kernel).copy()
    x, y = tiny_batch(size=4)

    model.compile(optimizer=keras.optimizers.SGD(0.05))
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    after_fit = qkv.quantization.inputs.limits.numpy().copy()
    model.predict(x, verbose=0)

    for path, layer in layers.items():
        # The patch embedding runs twice a step: on the template and the search.
        calls = 4 if path == "patch_embedding/projection" else 2
        assert layer.quantization.inputs.batches.numpy() == calls, path
        low, high = layer.quantization.inputs.limits.numpy()
        assert low < high, path
    assert not np.array_equal(np.asarray(qkv.kernel), kernel)
    # Inference leaves the ranges alone.
    np.testing.assert_array_equal(qkv.quantization.inputs.limits.numpy(), after_fit)


def test_the_distiller_trains_a_quantization_aware_student(tiny_batch):
    from keras_loretrack.models.loretrack_distiller import LoReTrackDistiller

    student = quantization_aware(tiny_model())
    teacher = tiny_model()
    teacher_kernel = np.asarray(teacher.weights[0]).copy()
    distiller = LoReTrackDistiller(student, teacher, disc_weight=1.0, qkv_weight=1.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.01))
    x, y = tiny_batch(size=2)

    logs = distiller.fit(x, y, batch_size=2, epochs=1, verbose=0).history

    assert np.isfinite(logs["loss"][0]) and logs["qkv"][0] > 0
    for path, layer in quantized_layers(student).items():
        calls = 2 if path == "patch_embedding/projection" else 1
        assert layer.quantization.inputs.batches.numpy() == calls, path
    np.testing.assert_array_equal(np.asarray(teacher.weights[0]), teacher_kernel)
    assert not quantized_layers(teacher)


def test_ranges_round_trip_through_a_preset_folder(
    tmp_path, observed_model, crop_pairs
):
    model = observed_model(7)
    pair = crop_pairs[10]

    save_quantization_aware(model, tmp_path / "preset")
    loaded = load_quantization_aware(tmp_path / "preset")

    assert quantization_ranges(loaded) == quantization_ranges(model)
    assert quantization_ranges(loaded)["weight_bits"] == 7
    for key, value in maps(model, pair).items():
        np.testing.assert_array_equal(maps(loaded, pair)[key], value)
    assert LoReTrack.from_preset(tmp_path / "preset")  # still a float preset


def test_bad_inputs_are_refused_with_the_reason(tmp_path, observed_model):
    with pytest.raises(ValueError, match="takes a LoReTrack model, got Sequential"):
        quantization_aware(keras.Sequential([keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match=r"weight_bits must be one of \[7, 8\].*got 4"):
        quantization_aware(tiny_model(), weight_bits=4)
    with pytest.raises(ValueError, match=r"range_decay must be in \[0, 1\), got 1.0"):
        quantization_aware(tiny_model(), range_decay=1.0)
    with pytest.raises(ValueError, match="already quantization-aware"):
        quantization_aware(observed_model(8))
    model = LoReTrack.from_preset(TINY_TEST, load_weights=False)
    with pytest.raises(ValueError, match="is not quantization-aware"):
        quantization_ranges(model)

    ranges = quantization_ranges(observed_model(8))
    with pytest.raises(ValueError, match="trained with 8-bit weights, the model"):
        set_quantization_ranges(observed_model(7), ranges)
    del ranges["layers"]["center_head/ctr_output"]
    with pytest.raises(ValueError, match=r"missing \['center_head/ctr_output'\]"):
        set_quantization_ranges(quantization_aware(tiny_model()), ranges)

    tiny_model().save_to_preset(tmp_path / "float")
    with pytest.raises(FileNotFoundError, match=f"{RANGES_FILE} not found"):
        load_quantization_aware(tmp_path / "float")
    assert not os.path.exists(tmp_path / "float" / RANGES_FILE)


def _attention_maps(model):
    """Each attention layer's probabilities for the same random tokens."""
    from keras_loretrack.layers import MultiHeadSelfAttention

    layers = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, MultiHeadSelfAttention)
    ]
    tokens = np.random.default_rng(0).normal(size=(1, 12, layers[0].hidden_dim))
    return [
        np.asarray(layer(tokens.astype("float32"))["attention"]) for layer in layers
    ]


def _off_grid(maps_):
    """The largest distance of a probability from the k/256 grid, in steps."""
    return max(np.abs(m * 256 - np.round(m * 256)).max() for m in maps_)


def test_attention_probabilities_are_rounded_to_tflite_int8_softmax_grid(
    tmp_path, crop_pairs
):
    plain = quantization_aware(tiny_model())
    rounding = quantization_aware(tiny_model(), attention_probabilities=True)
    assert _off_grid(_attention_maps(rounding)) < 1e-3
    assert max(m.max() for m in _attention_maps(rounding)) <= 255 / 256 + 1e-6
    assert _off_grid(_attention_maps(plain)) > 0.1
    with frozen_weights(rounding, activations=False):  # the float graph ONNX takes
        assert _off_grid(_attention_maps(rounding)) > 0.1
    assert _off_grid(_attention_maps(rounding)) < 1e-3

    rounding(batch_of(crop_pairs[:4]), training=True)
    save_quantization_aware(rounding, tmp_path / "preset")
    loaded = load_quantization_aware(tmp_path / "preset")
    assert quantization_ranges(loaded)["attention_probabilities"] is True
    assert quantization_ranges(plain)["attention_probabilities"] is False
    for key, value in maps(rounding, crop_pairs[9]).items():
        np.testing.assert_array_equal(maps(loaded, crop_pairs[9])[key], value)

    strip_quantization_aware(rounding)
    assert _off_grid(_attention_maps(rounding)) > 0.1
