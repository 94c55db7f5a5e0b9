import keras
import numpy as np
import pytest

from keras_loretrack import LoReTrack
from keras_loretrack.training import (
    GroupedAdamW,
    build_optimizer,
    scaled_learning_rate,
    step_decay_schedule,
)
from tests.presets import TINY_TEST


def np_adamw(params, grads_per_step, lrs, wd, beta1=0.9, beta2=0.999, eps=1e-7):
    """PyTorch-style AdamW with one learning rate per parameter (its group's)."""
    params = [p.astype(np.float64).copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t, grads in enumerate(grads_per_step, start=1):
        for i, (p, g, lr) in enumerate(zip(params, grads, lrs)):
            p -= lr * wd * p
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            m_hat = m[i] / (1 - beta1**t)
            v_hat = v[i] / (1 - beta2**t)
            p -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return params


def test_grouped_adamw_matches_reference():
    rng = np.random.default_rng(0)
    initial = [rng.normal(size=(3, 4)), rng.normal(size=(5,))]
    variables = [keras.Variable(p.astype("float32")) for p in initial]
    grads = [
        [rng.normal(size=p.shape).astype("float32") for p in initial] for _ in range(4)
    ]
    optimizer = GroupedAdamW(learning_rate=1e-2, weight_decay=0.05)
    optimizer.set_learning_rate_multiplier([variables[0]], 0.1)
    for step in grads:
        optimizer.apply_gradients(zip(step, variables))
    want = np_adamw(initial, grads, [1e-3, 1e-2], wd=0.05)
    for got, expected in zip(variables, want):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert optimizer.learning_rate_multiplier(variables[0]) == 0.1
    assert optimizer.learning_rate_multiplier(variables[1]) == 1.0


def test_backbone_moves_ten_times_slower():
    model = LoReTrack.from_preset(TINY_TEST, load_weights=False)
    rng = np.random.default_rng(1)
    x = {
        "template": rng.normal(size=(2, 32, 32, 3)).astype("float32"),
        "search": rng.normal(size=(2, 64, 64, 3)).astype("float32"),
    }
    before = {id(v): v.numpy().copy() for v in model.trainable_variables}
    optimizer = build_optimizer(
        model.backbone.trainable_variables,
        learning_rate=1e-3,
        epochs=10,
        steps_per_epoch=1,
        weight_decay=0.0,
        global_clipnorm=None,
    )
    import tensorflow as tf

    with tf.GradientTape() as tape:
        out = model(x, training=True)
        loss = keras.ops.sum(out["score_map"]) + keras.ops.sum(out["boxes"])
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    backbone = {id(v) for v in model.backbone.trainable_variables}
    steps = {True: [], False: []}
    for v, g in zip(model.trainable_variables, grads):
        moved = np.abs(v.numpy() - before[id(v)])
        # Adam's first step moves every weight with a gradient by lr · m̂/√v̂ = lr.
        steps[id(v) in backbone].append(moved[np.abs(g.numpy()) > 1e-6])
    backbone_step = np.concatenate(steps[True])
    head_step = np.concatenate(steps[False])
    np.testing.assert_allclose(np.median(backbone_step), 1e-4, rtol=1e-2)
    np.testing.assert_allclose(np.median(head_step), 1e-3, rtol=1e-2)


def test_step_decay_at_eighty_percent():
    schedule = step_decay_schedule(4e-4, epochs=10, steps_per_epoch=5)
    rates = [float(schedule(step)) for step in (0, 39, 40, 41, 49)]
    np.testing.assert_allclose(rates, [4e-4, 4e-4, 4e-4, 4e-5, 4e-5], rtol=1e-6)
    schedule = step_decay_schedule(1.0, epochs=100, steps_per_epoch=2, decay_epoch=80)
    assert float(schedule(160)) == 1.0 and float(schedule(161)) == pytest.approx(0.1)
    assert scaled_learning_rate(32) == pytest.approx(1e-4)


def test_clipping_and_serialization():
    optimizer = build_optimizer([], 1e-3, epochs=5, steps_per_epoch=2)
    assert optimizer.global_clipnorm == 0.1 and optimizer.weight_decay == 1e-4
    restored = GroupedAdamW.from_config(optimizer.get_config())
    assert float(restored.learning_rate) == pytest.approx(1e-3)
    clipped = GroupedAdamW(learning_rate=1.0, weight_decay=0.0, global_clipnorm=0.1)
    grads = clipped._clip_gradients([np.array([3.0, 4.0, 0.0], "float32")])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(grads[0]), [0.06, 0.08, 0])


def test_errors():
    optimizer = GroupedAdamW(learning_rate=1e-3)
    variable = keras.Variable(np.zeros(2, "float32"))
    with pytest.raises(ValueError, match="multiplier must be >= 0, got -1"):
        optimizer.set_learning_rate_multiplier([variable], -1)
    optimizer.build([variable])
    with pytest.raises(ValueError, match="before the optimizer is built"):
        optimizer.set_learning_rate_multiplier([variable], 0.1)
    with pytest.raises(ValueError, match=r"decay_epoch must be in 1..epochs \(10\)"):
        step_decay_schedule(1e-3, epochs=10, steps_per_epoch=1, decay_epoch=11)
