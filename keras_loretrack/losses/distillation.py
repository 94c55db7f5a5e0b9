"""LoReTrack's dual knowledge distillation losses: QKV-KD and Disc-KD.

Both compare student and teacher maps over the teacher's search grid: the
student's (B, gs, gs, C) map is resized bilinearly (half-pixel centres, i.e.
PyTorch's `align_corners=False`, no antialiasing) to the teacher's grid, then at
every token the channel distributions are compared,
`KL(softmax(t / T) ‖ softmax(s / T))`, summed over tokens and channels,
multiplied by T² and divided by the batch size (Dong et al. 2024).
"""

from keras import ops

from keras_loretrack.losses.paper_defaults import (
    DISC_INSIDE_WEIGHT,
    DISC_OUTSIDE_WEIGHT,
    DISC_THRESHOLD,
    KD_TEMPERATURE,
)


def merge_heads(tensor, grid):
    """The search tokens of a (B, heads, N, d) tensor as a (B, grid, grid, heads·d) map.

    The last grid² tokens are the search tokens (token order [template, search],
    row-major); channel `head · d + i` holds component i of head `head`.

    Args:
        tensor: tensor (B, heads, N, d). Per-head queries, keys or values.
        grid: int. Side of the search grid.

    Returns:
        Tensor (B, grid, grid, heads · d).
    """
    if len(tensor.shape) != 4:
        raise ValueError(
            f"q/k/v must be (B, heads, N, head_dim), got shape {tuple(tensor.shape)}"
        )
    _, heads, tokens, head_dim = tensor.shape
    if tokens < grid * grid:
        raise ValueError(
            f"a {grid}x{grid} search grid needs at least {grid * grid} tokens, got "
            f"{tokens}"
        )
    search = ops.transpose(tensor[:, :, tokens - grid * grid :, :], (0, 2, 1, 3))
    return ops.reshape(search, (-1, grid, grid, heads * head_dim))


def resize_to_grid(features, grid):
    """Bilinear resize (half-pixel centres, no antialias) of a (B, g, g, C) map."""
    if features.shape[1] == grid and features.shape[2] == grid:
        return features
    return ops.image.resize(
        features, (grid, grid), interpolation="bilinear", antialias=False
    )


def channel_kl_divergence(student, teacher, temperature=KD_TEMPERATURE):
    """Temperature KL between channel softmaxes, summed over tokens, per sample.

    `Σ_tokens Σ_c p_t (log p_t - log p_s) · T² / B` with p = softmax(x / T) over
    the last axis.

    Args:
        student: tensor (B, H, W, C). Student logits on the teacher's grid.
        teacher: tensor (B, H, W, C). Teacher logits.
        temperature: float. Softmax temperature T.

    Returns:
        Scalar float32 tensor.
    """
    student = ops.cast(student, "float32") / temperature
    teacher = ops.cast(teacher, "float32") / temperature
    log_teacher = ops.log_softmax(teacher, axis=-1)
    log_student = ops.log_softmax(student, axis=-1)
    divergence = ops.sum(ops.exp(log_teacher) * (log_teacher - log_student))
    batch = ops.cast(ops.shape(teacher)[0], "float32")
    return divergence * (temperature * temperature) / batch


def _check_pair(student, teacher, what):
    if student.shape[-1] != teacher.shape[-1]:
        raise ValueError(
            f"student and teacher {what} must have the same channels, got "
            f"{student.shape[-1]} and {teacher.shape[-1]}"
        )


def qkv_distillation_loss(
    student_qkv, teacher_qkv, temperature=KD_TEMPERATURE, *, student_grid, teacher_grid
):
    """QKV-KD: channel KL between the search tokens' q, k and v of one block.

    Args:
        student_qkv: dict. `query`, `key`, `value` of the student block, each
            (B, heads, N_s, head_dim) over all tokens [template, search].
        teacher_qkv: dict. The same for the teacher block (same heads · head_dim).
        temperature: float. Softmax temperature T.
        student_grid: int. Side of the student's search grid (its last
            student_grid² tokens are the search tokens).
        teacher_grid: int. Side of the teacher's search grid.

    Returns:
        dict of scalar tensors: `query`, `key`, `value` (each KL) and `loss`
        (their sum).

    Example:
    ```python
    s = student.distillation_model()(student_inputs)
    t = teacher.distillation_model()(teacher_inputs)
    b_s, b_t = student.backbone.num_layers - 1, teacher.backbone.num_layers - 1
    qkv_distillation_loss(
        {k: s[f"block{b_s}_{k}"] for k in ("query", "key", "value")},
        {k: t[f"block{b_t}_{k}"] for k in ("query", "key", "value")},
        student_grid=student.feature_size,
        teacher_grid=teacher.feature_size,
    )["loss"]
    ```
    """
    keys = ("query", "key", "value")
    if any(key not in student_qkv or key not in teacher_qkv for key in keys):
        raise ValueError(
            f"qkv dicts need 'query', 'key' and 'value', got {sorted(student_qkv)} "
            f"and {sorted(teacher_qkv)}"
        )
    losses = {}
    for key in keys:
        student = merge_heads(student_qkv[key], student_grid)
        teacher = ops.stop_gradient(merge_heads(teacher_qkv[key], teacher_grid))
        _check_pair(student, teacher, key)
        student = resize_to_grid(student, teacher_grid)
        losses[key] = channel_kl_divergence(student, teacher, temperature)
    losses["loss"] = losses["query"] + losses["key"] + losses["value"]
    return losses


def discriminative_distillation_loss(
    student_features,
    teacher_features,
    threshold=DISC_THRESHOLD,
    temperature=KD_TEMPERATURE,
    inside_weight=DISC_INSIDE_WEIGHT,
    outside_weight=DISC_OUTSIDE_WEIGHT,
):
    """Disc-KD: channel KL inside and outside the teacher's discriminative region.

    The mask comes from the teacher alone: a token is discriminative when the
    mean over channels of its squared final-norm feature reaches `threshold`.
    `inside` is the KL of both maps multiplied by the mask, `outside` by its
    complement (zeroed tokens give equal uniform distributions, hence 0).

    Args:
        student_features: tensor (B, gs, gs, C). The student's search features.
        teacher_features: tensor (B, gt, gt, C). The teacher's search features.
        threshold: float. Energy threshold of the mask.
        temperature: float. Softmax temperature T.
        inside_weight: float. Weight of the masked (discriminative) term.
        outside_weight: float. Weight of the complementary term.

    Returns:
        dict of scalar tensors: `inside`, `outside`, `loss` (the weighted sum)
        and `mask_fraction` (share of teacher tokens in the mask).
    """
    _check_pair(student_features, teacher_features, "search features")
    teacher = ops.stop_gradient(ops.cast(teacher_features, "float32"))
    student = resize_to_grid(
        ops.cast(student_features, "float32"), teacher_features.shape[1]
    )
    energy = ops.mean(ops.square(teacher), axis=-1, keepdims=True)
    mask = ops.cast(energy >= threshold, "float32")
    inside = channel_kl_divergence(student * mask, teacher * mask, temperature)
    outside = channel_kl_divergence(
        student * (1.0 - mask), teacher * (1.0 - mask), temperature
    )
    return {
        "inside": inside,
        "outside": outside,
        "loss": inside_weight * inside + outside_weight * outside,
        "mask_fraction": ops.mean(mask),
    }
