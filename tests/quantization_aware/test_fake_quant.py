import numpy as np
import pytest

from keras_loretrack.quantization_aware.fake_quant import (
    MovingRange,
    check_weight_bits,
    fake_quantize_activations,
    fake_quantize_weights,
)


def reference_weight_codes(kernel, bits):
    """Symmetric per-output-channel integers, round half up, in numpy."""
    bound = np.abs(kernel.reshape(-1, kernel.shape[-1])).max(axis=0)
    steps = 2 ** (bits - 1) - 1
    scale = bound / steps
    codes = np.clip(np.floor(kernel / scale + 0.5), -steps, steps)
    return codes, scale


def reference_activation(x, low, high):
    """8-bit asymmetric quantisation over [low, high] widened to hold 0."""
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / 255.0
    zero_point = np.clip(np.round(-low / scale), 0, 255)
    codes = np.clip(np.floor(x / scale + 0.5) + zero_point, 0, 255)
    return (codes - zero_point) * scale, scale


@pytest.mark.parametrize("bits", [8, 7])
@pytest.mark.parametrize("shape", [(24, 40), (3, 3, 8, 16)])
def test_weights_round_to_symmetric_per_channel_integers(bits, shape):
    rng = np.random.default_rng(bits)
    # Channels of very different scales: a per-tensor scale would fail.
    kernel = (rng.normal(size=shape) * np.geomspace(0.01, 3.0, shape[-1])).astype(
        "float32"
    )
    codes, scale = reference_weight_codes(kernel, bits)

    result = np.asarray(fake_quantize_weights(kernel, bits))

    got = np.round(result / scale)
    # Float rounding may move a value sitting on a half step; nothing else.
    assert np.mean(got != codes) < 1e-3
    assert np.abs(got - codes).max() <= 1
    np.testing.assert_allclose(result, got * scale, rtol=0, atol=1e-6 * scale.max())
    assert np.abs(got).max() == 2 ** (bits - 1) - 1  # each channel's max is kept


def test_an_all_zero_channel_stays_zero():
    kernel = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    kernel[:, 2] = 0.0

    result = np.asarray(fake_quantize_weights(kernel, 8))

    assert np.isfinite(result).all()
    np.testing.assert_array_equal(result[:, 2], 0.0)


@pytest.mark.parametrize("low, high", [(-1.3, 2.7), (0.4, 2.0), (-3.0, -0.5)])
def test_activations_match_the_uint8_reference(low, high):
    x = np.linspace(-4.0, 4.0, 2001, dtype="float32")
    expected, scale = reference_activation(x, low, high)

    result = np.asarray(fake_quantize_activations(x, low, high))

    assert np.mean(np.abs(result - expected) > 1e-5) < 2e-3
    assert np.abs(result - expected).max() <= scale * 1.0001
    assert 0.0 in result  # zero is exact


def test_gradients_pass_straight_through_inside_the_range_only():
    import tensorflow as tf

    x = tf.constant(np.linspace(-3.0, 3.0, 61, dtype="float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(fake_quantize_activations(x, -1.0, 2.0))
    gradient = tape.gradient(y, x).numpy()

    inside = (x.numpy() >= -1.0) & (x.numpy() <= 2.0)
    np.testing.assert_array_equal(gradient[inside], 1.0)
    np.testing.assert_array_equal(gradient[np.abs(x.numpy()) > 2.1], 0.0)


def test_moving_range_starts_at_the_first_batch_then_moves_by_the_decay():
    moving = MovingRange(decay=0.9, name="test")
    first = np.array([-2.0, 0.5, 3.0], "float32")
    second = np.array([-1.0, 5.0], "float32")

    moving(first, training=True)
    np.testing.assert_allclose(moving.limits.numpy(), [-2.0, 3.0])
    moving(second, training=True)
    np.testing.assert_allclose(moving.limits.numpy(), [-1.9, 3.2], rtol=1e-6)
    moving(np.array([-50.0, 50.0], "float32"), training=False)

    np.testing.assert_allclose(moving.limits.numpy(), [-1.9, 3.2], rtol=1e-6)
    assert moving.batches.numpy() == 2


@pytest.mark.parametrize("bits", [6, 16, "8"])
def test_unsupported_weight_bits_are_refused(bits):
    with pytest.raises(ValueError, match=r"weight_bits must be one of \[7, 8\].*got"):
        check_weight_bits(bits)
