import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_loretrack.losses import (
    discriminative_distillation_loss,
    merge_heads,
    qkv_distillation_loss,
    resize_to_grid,
)

# --- Independent NumPy references, written from the LoReTrack paper (NCHW, as there).


def np_merge_heads(qkv, grid):
    """(B, heads, N, d) → (B, heads·d, grid, grid) by explicit loops."""
    batch, heads, tokens, dim = qkv.shape
    out = np.zeros((batch, heads * dim, grid, grid))
    first = tokens - grid * grid
    for h in range(heads):
        for n in range(grid * grid):
            out[:, h * dim : (h + 1) * dim, n // grid, n % grid] = qkv[:, h, first + n]
    return out


def np_bilinear(x, size):
    """PyTorch `interpolate(mode="bilinear", align_corners=False)` on NCHW."""
    in_size = x.shape[-1]
    scale = in_size / size
    out = np.zeros(x.shape[:2] + (size, size))
    for oy in range(size):
        sy = max((oy + 0.5) * scale - 0.5, 0.0)
        y0 = min(int(sy), in_size - 1)
        y1, ly = min(y0 + 1, in_size - 1), sy - int(sy)
        for ox in range(size):
            sx = max((ox + 0.5) * scale - 0.5, 0.0)
            x0 = min(int(sx), in_size - 1)
            x1, lx = min(x0 + 1, in_size - 1), sx - int(sx)
            out[..., oy, ox] = (1 - ly) * (
                (1 - lx) * x[..., y0, x0] + lx * x[..., y0, x1]
            ) + ly * ((1 - lx) * x[..., y1, x0] + lx * x[..., y1, x1])
    return out


def np_kl(student, teacher, temperature):
    """Σ over tokens of KL(softmax(t/T) ‖ softmax(s/T)) over channels, · T² / B."""

    def log_softmax(x):
        x = x / temperature
        x = x - x.max(axis=1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))

    log_t, log_s = log_softmax(teacher), log_softmax(student)
    return (np.exp(log_t) * (log_t - log_s)).sum() * temperature**2 / len(teacher)


def np_qkv_loss(student, teacher, s_grid, t_grid, temperature):
    total = 0.0
    for key in ("query", "key", "value"):
        s = np_bilinear(np_merge_heads(student[key], s_grid), t_grid)
        t = np_merge_heads(teacher[key], t_grid)
        total += np_kl(s, t, temperature)
    return total


def np_disc_loss(student, teacher, threshold, temperature, w_in, w_out):
    s = np_bilinear(student.transpose(0, 3, 1, 2), teacher.shape[1])
    t = teacher.transpose(0, 3, 1, 2).astype(np.float64)
    mask = ((t**2).mean(axis=1, keepdims=True) >= threshold).astype(np.float64)
    inside = np_kl(s * mask, t * mask, temperature)
    outside = np_kl(s * (1 - mask), t * (1 - mask), temperature)
    return w_in * inside + w_out * outside, mask.mean()


def qkv_tensors(rng, batch, heads, template_grid, grid, dim, scale):
    tokens = template_grid**2 + grid**2
    return {
        key: (scale * rng.normal(size=(batch, heads, tokens, dim))).astype("float32")
        for key in ("query", "key", "value")
    }


def test_merge_heads_channel_order():
    rng = np.random.default_rng(0)
    qkv = rng.normal(size=(2, 3, 4 + 9, 5)).astype("float32")
    got = keras.ops.convert_to_numpy(merge_heads(qkv, 3))
    np.testing.assert_array_equal(got, np_merge_heads(qkv, 3).transpose(0, 2, 3, 1))


@pytest.mark.parametrize("size", [3, 12, 24])
def test_resize_matches_align_corners_false(size):
    x = np.random.default_rng(size).normal(size=(2, 8, 8, 4)).astype("float32")
    got = keras.ops.convert_to_numpy(resize_to_grid(x, size))
    want = np_bilinear(x.transpose(0, 3, 1, 2), size).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.torch
def test_resize_matches_torch_interpolate():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).normal(size=(2, 4, 4, 6)).astype("float32")
    want = torch.nn.functional.interpolate(
        torch.from_numpy(x.transpose(0, 3, 1, 2)),
        size=(12, 12),
        mode="bilinear",
        align_corners=False,
    ).numpy()
    got = keras.ops.convert_to_numpy(resize_to_grid(x, 12))
    np.testing.assert_allclose(got, want.transpose(0, 2, 3, 1), atol=1e-6)


@pytest.mark.parametrize(
    "s_grid, t_grid, temperature", [(4, 12, 4.0), (8, 24, 4.0), (6, 6, 2.0)]
)
def test_qkv_loss_matches_numpy(s_grid, t_grid, temperature):
    rng = np.random.default_rng(s_grid * 100 + t_grid)
    student = qkv_tensors(rng, 2, 2, s_grid // 2, s_grid, 8, 1.0)
    teacher = qkv_tensors(rng, 2, 2, t_grid // 2, t_grid, 8, 2.0)
    got = qkv_distillation_loss(
        student, teacher, temperature, student_grid=s_grid, teacher_grid=t_grid
    )
    want = np_qkv_loss(student, teacher, s_grid, t_grid, temperature)
    np.testing.assert_allclose(float(got["loss"]), want, rtol=1e-5)
    parts = sum(float(got[k]) for k in ("query", "key", "value"))
    np.testing.assert_allclose(parts, float(got["loss"]), rtol=1e-6)


def test_qkv_loss_is_zero_for_identical_maps_and_positive_otherwise():
    rng = np.random.default_rng(5)
    teacher = qkv_tensors(rng, 1, 2, 2, 4, 4, 1.0)
    same = qkv_distillation_loss(teacher, teacher, student_grid=4, teacher_grid=4)
    assert abs(float(same["loss"])) < 1e-6
    other = qkv_tensors(rng, 1, 2, 2, 4, 4, 1.0)
    assert (
        float(
            qkv_distillation_loss(other, teacher, student_grid=4, teacher_grid=4)[
                "loss"
            ]
        )
        > 0
    )


@pytest.mark.parametrize("threshold", [0.2, 0.8])
def test_disc_loss_matches_numpy(threshold):
    rng = np.random.default_rng(7)
    student = rng.normal(size=(3, 4, 4, 16)).astype("float32")
    teacher = (rng.normal(size=(3, 12, 12, 16)) * 0.7).astype("float32")
    got = discriminative_distillation_loss(
        student, teacher, threshold=threshold, temperature=4.0
    )
    want, fraction = np_disc_loss(student, teacher, threshold, 4.0, 0.6, 0.4)
    assert 0.0 < fraction < 1.0
    np.testing.assert_allclose(float(got["loss"]), want, rtol=1e-5)
    np.testing.assert_allclose(float(got["mask_fraction"]), fraction, rtol=1e-6)
    np.testing.assert_allclose(
        0.6 * float(got["inside"]) + 0.4 * float(got["outside"]),
        float(got["loss"]),
        rtol=1e-6,
    )
    weighted = discriminative_distillation_loss(
        student, teacher, threshold, 2.0, inside_weight=0.75, outside_weight=0.25
    )
    want, _ = np_disc_loss(student, teacher, threshold, 2.0, 0.75, 0.25)
    np.testing.assert_allclose(float(weighted["loss"]), want, rtol=1e-5)


def test_disc_mask_from_teacher_only_and_gradients_to_student_only():
    rng = np.random.default_rng(8)
    student = tf.Variable(rng.normal(size=(2, 4, 4, 8)).astype("float32"))
    teacher = tf.Variable(rng.normal(size=(2, 8, 8, 8)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = discriminative_distillation_loss(student, teacher)["loss"]
    grad_student, grad_teacher = tape.gradient(loss, [student, teacher])
    assert grad_teacher is None
    assert np.any(grad_student.numpy() != 0)
    scaled = discriminative_distillation_loss(student * 100.0, teacher)
    base = discriminative_distillation_loss(student, teacher)
    assert float(scaled["mask_fraction"]) == float(base["mask_fraction"])


def test_errors_name_the_problem():
    rng = np.random.default_rng(9)
    student = qkv_tensors(rng, 1, 2, 2, 4, 4, 1.0)
    teacher = qkv_tensors(rng, 1, 2, 2, 4, 8, 1.0)
    with pytest.raises(ValueError, match="same channels, got 8 and 16"):
        qkv_distillation_loss(student, teacher, student_grid=4, teacher_grid=4)
    with pytest.raises(ValueError, match="needs at least 64 tokens, got 20"):
        qkv_distillation_loss(student, student, student_grid=8, teacher_grid=8)
    with pytest.raises(ValueError, match="need 'query', 'key' and 'value'"):
        qkv_distillation_loss(
            {"query": student["query"]}, teacher, student_grid=4, teacher_grid=4
        )
    with pytest.raises(ValueError, match=r"\(B, heads, N, head_dim\)"):
        merge_heads(np.zeros((1, 4, 8), "float32"), 2)
