"""The official tracker network computed straight from its state dict, in NumPy.

A float64 forward pass of OSTrack's one-stream ViT and center head (Ye et al. 2022)
that reads the official keys directly (PyTorch layouts, no Keras): the reference
`convert_checkpoint` validates a conversion against when PyTorch is not installed,
and an independent check on the key mapping.
"""

import math

import numpy as np

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_erf = np.frompyfunc(math.erf, 1, 1)
SIGMOID_CLIP = 1e-4


def candidate_template_index(template_grid):
    """Flat index of the template token whose attention ranks search tokens (CE).

    OSTrack fixes row = column = 3 on 7x7 and 8x8 template grids, 5 on 12x12 and 6
    on 14x14: grid // 2 - 1 on even grids, grid // 2 on odd ones.
    """
    center = template_grid // 2 - 1 if template_grid % 2 == 0 else template_grid // 2
    return center * template_grid + center


def _gelu(x):
    return 0.5 * x * (1.0 + _erf(x * _SQRT_HALF).astype(np.float64))


def _layer_norm(x, weight, bias, epsilon):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * weight + bias


def _linear(x, state, prefix):
    return x @ state[f"{prefix}.weight"].T + state[f"{prefix}.bias"]


def _softmax(x):
    x = np.exp(x - x.max(axis=-1, keepdims=True))
    return x / x.sum(axis=-1, keepdims=True)


def _patch_tokens(images, weight, bias):
    """Row-major tokens of the patch convolution, weight (out, 3, p, p)."""
    batch, height, width, _ = images.shape
    patch = weight.shape[-1]
    patches = images.reshape(batch, height // patch, patch, width // patch, patch, 3)
    patches = patches.transpose(0, 1, 3, 5, 2, 4).reshape(-1, 3 * patch * patch)
    tokens = patches @ weight.reshape(weight.shape[0], -1).T + bias
    return tokens.reshape(batch, -1, weight.shape[0])


def _conv(x, weight, bias):
    """'same' convolution of NHWC `x` with a PyTorch (out, in, k, k) weight."""
    pad = weight.shape[-1] // 2
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(
        padded, weight.shape[-2:], axis=(1, 2)
    )
    columns = windows.reshape(x.shape[:3] + (-1,))
    return columns @ weight.reshape(weight.shape[0], -1).T + bias


def backbone_forward(
    state,
    template,
    search,
    num_heads,
    layer_norm_epsilon=1e-6,
    candidate_elimination_blocks=(),
    candidate_keep_ratio=0.7,
):
    """Search features (B, fs, fs, C) of the one-stream ViT.

    Args:
        state: dict. Official tracker keys (`backbone.*`) → arrays, position tables
            already at the grids of `template` and `search`.
        template: array (B, Ht, Wt, 3). Normalised template crops.
        search: array (B, Hs, Ws, 3). Normalised search crops.
        num_heads: int. Attention heads.
        layer_norm_epsilon: float. LayerNorm epsilon.
        candidate_elimination_blocks: tuple of int. CE blocks (OSTrack).
        candidate_keep_ratio: float. Fraction of search tokens a CE block keeps.
    """
    state = {k: np.asarray(v, dtype=np.float64) for k, v in state.items()}
    weight = state["backbone.patch_embed.proj.weight"]
    bias = state["backbone.patch_embed.proj.bias"]
    z = _patch_tokens(np.asarray(template, np.float64), weight, bias)
    x = _patch_tokens(np.asarray(search, np.float64), weight, bias)
    z = z + state["backbone.pos_embed_z"][0]
    x = x + state["backbone.pos_embed_x"][0]
    batch, num_search, dim = x.shape
    num_template = z.shape[1]
    template_grid = math.isqrt(num_template)
    tokens = np.concatenate([z, x], axis=1)
    search_index = np.tile(np.arange(num_search), (batch, 1))
    head_dim = dim // num_heads
    depth = 1 + max(
        int(k.split(".")[2]) for k in state if k.startswith("backbone.blocks.")
    )
    for i in range(depth):
        prefix = f"backbone.blocks.{i}"
        normed = _layer_norm(
            tokens,
            state[f"{prefix}.norm1.weight"],
            state[f"{prefix}.norm1.bias"],
            layer_norm_epsilon,
        )
        qkv = _linear(normed, state, f"{prefix}.attn.qkv")
        qkv = qkv.reshape(batch, -1, 3, num_heads, head_dim).transpose(2, 0, 3, 1, 4)
        query, key, value = qkv
        attention = _softmax(query @ key.transpose(0, 1, 3, 2) * head_dim**-0.5)
        mixed = (attention @ value).transpose(0, 2, 1, 3).reshape(batch, -1, dim)
        tokens = tokens + _linear(mixed, state, f"{prefix}.attn.proj")
        if i in candidate_elimination_blocks:
            current = tokens.shape[1] - num_template
            keep = math.ceil(candidate_keep_ratio * current)
            center = candidate_template_index(template_grid)
            scores = attention[:, :, center, num_template:].mean(axis=1)
            order = np.argsort(-scores, axis=1, kind="stable")[:, :keep]
            kept = np.take_along_axis(tokens[:, num_template:], order[..., None], 1)
            tokens = np.concatenate([tokens[:, :num_template], kept], axis=1)
            search_index = np.take_along_axis(search_index, order, axis=1)
        normed = _layer_norm(
            tokens,
            state[f"{prefix}.norm2.weight"],
            state[f"{prefix}.norm2.bias"],
            layer_norm_epsilon,
        )
        hidden = _gelu(_linear(normed, state, f"{prefix}.mlp.fc1"))
        tokens = tokens + _linear(hidden, state, f"{prefix}.mlp.fc2")
    tokens = _layer_norm(
        tokens,
        state["backbone.norm.weight"],
        state["backbone.norm.bias"],
        layer_norm_epsilon,
    )
    features = np.zeros((batch, num_search, dim))
    np.put_along_axis(
        features, search_index[..., None], tokens[:, num_template:], axis=1
    )
    grid = math.isqrt(num_search)
    return features.reshape(batch, grid, grid, dim)


def head_forward(state, features, batch_norm_epsilon=1e-5):
    """Center-head maps and argmax boxes from (B, fs, fs, C) search features.

    Returns:
        dict: `score_map` (B, fs, fs, 1), `size_map` and `offset_map`
        (B, fs, fs, 2), `boxes` (B, 4) normalised (cx, cy, w, h).
    """
    state = {k: np.asarray(v, dtype=np.float64) for k, v in state.items()}
    maps = {}
    for branch in ("ctr", "offset", "size"):
        x = features
        stage = 1
        while f"box_head.conv{stage}_{branch}.1.running_var" in state:
            prefix = f"box_head.conv{stage}_{branch}"
            x = _conv(x, state[f"{prefix}.0.weight"], state[f"{prefix}.0.bias"])
            x = (x - state[f"{prefix}.1.running_mean"]) / np.sqrt(
                state[f"{prefix}.1.running_var"] + batch_norm_epsilon
            )
            x = np.maximum(
                x * state[f"{prefix}.1.weight"] + state[f"{prefix}.1.bias"], 0
            )
            stage += 1
        prefix = f"box_head.conv{stage}_{branch}"
        maps[branch] = _conv(x, state[f"{prefix}.weight"], state[f"{prefix}.bias"])
    score = np.clip(1 / (1 + np.exp(-maps["ctr"])), SIGMOID_CLIP, 1 - SIGMOID_CLIP)
    size = np.clip(1 / (1 + np.exp(-maps["size"])), SIGMOID_CLIP, 1 - SIGMOID_CLIP)
    offset = maps["offset"]
    batch, grid = score.shape[:2]
    index = score.reshape(batch, -1).argmax(axis=1)
    iy, ix = np.divmod(index, grid)
    rows = np.arange(batch)
    picked_size = size.reshape(batch, -1, 2)[rows, index]
    picked_offset = offset.reshape(batch, -1, 2)[rows, index]
    boxes = np.stack(
        [
            (ix + picked_offset[:, 0]) / grid,
            (iy + picked_offset[:, 1]) / grid,
            picked_size[:, 0],
            picked_size[:, 1],
        ],
        axis=1,
    )
    return {"score_map": score, "size_map": size, "offset_map": offset, "boxes": boxes}


def tracker_forward(state, template, search, num_heads, **backbone_options):
    """Backbone and head: `search_features` plus the head outputs, in float64.

    Args:
        state: dict. Official tracker keys → arrays (see `backbone_forward`).
        template: array (B, Ht, Wt, 3). Normalised template crops.
        search: array (B, Hs, Ws, 3). Normalised search crops.
        num_heads: int. Attention heads.
        **backbone_options: `layer_norm_epsilon`, `candidate_elimination_blocks`,
            `candidate_keep_ratio` of `backbone_forward`.
    """
    features = backbone_forward(state, template, search, num_heads, **backbone_options)
    outputs = head_forward(state, features)
    outputs["search_features"] = features
    return outputs
