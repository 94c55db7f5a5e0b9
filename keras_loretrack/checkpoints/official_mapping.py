"""Official OSTrack / LoReTrack / MAE state dicts → `LoReTrack` weights.

A tracker checkpoint (`{"net": state_dict}`, keys `backbone.*` and `box_head.*`, as
the official releases save it) fills the whole model; CE (OSTrack) checkpoints have
the same keys. An MAE ViT checkpoint (`{"model": state_dict}`, the same block names
without the `backbone.` prefix) fills the backbone only: both position tables are
built from its 14x14 table (cls row dropped) with PyTorch-compatible bicubic, as
OSTrack does when it starts from MAE. Position tables of a checkpoint trained at
another resolution are re-gridded the same way; every other weight is
resolution-independent.

PyTorch Linear weights (out, in) become Keras kernels (in, out); Conv weights
(out, in, kh, kw) become (kh, kw, in, out). `to_official` and
`official_state_dict` go the other way.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from keras_loretrack.checkpoints.torch_reader import CheckpointError
from keras_loretrack.models.position_regrid import regrid_position_table

TRACKER_LAYOUT = "tracker"
MAE_LAYOUT = "mae"
TEMPLATE_POSITION_KEY = "backbone.pos_embed_z"
SEARCH_POSITION_KEY = "backbone.pos_embed_x"
# Present in official files but not used at run time.
UNUSED_KEYS = ("backbone.cls_token", "backbone.pos_embed")
UNUSED_SUFFIXES = (".num_batches_tracked",)
_BLOCK_LAYERS = {
    "norm1": ("norm1", "vector"),
    "attn.qkv": ("attention.qkv", "linear"),
    "attn.proj": ("attention.projection", "linear"),
    "norm2": ("norm2", "vector"),
    "mlp.fc1": ("mlp_fc1", "linear"),
    "mlp.fc2": ("mlp_fc2", "linear"),
}


@dataclass
class LoadReport:
    """What loading a checkpoint into a model did.

    Attributes:
        layout: str. `"tracker"` (OSTrack / LoReTrack `net`) or `"mae"` (ViT).
        loaded: list of str. Official keys copied into the model.
        missing: list of str. Official keys the model needs that the checkpoint
            lacks (with an MAE checkpoint, the head keys are left at their
            initialisation and listed here).
        unexpected: list of str. Checkpoint keys with no place in the model.
        unused: list of str. Checkpoint keys known to be unused at run time
            (`cls_token`, the MAE table `pos_embed`, BatchNorm counters).
        regridded: dict. Official key → (source grid, target grid) of every
            position table that was resampled or built from the MAE table.
    """

    layout: str
    loaded: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    unused: list = field(default_factory=list)
    regridded: dict = field(default_factory=dict)

    def summary(self):
        """A few lines describing the load, for logs and the CLI."""
        lines = [
            f"layout: {self.layout}; loaded {len(self.loaded)} tensors",
            f"missing ({len(self.missing)}): {_short_list(self.missing)}",
            f"unexpected ({len(self.unexpected)}): {_short_list(self.unexpected)}",
            f"unused ({len(self.unused)}): {_short_list(self.unused)}",
        ]
        for key, (source, target) in self.regridded.items():
            lines.append(f"re-gridded {key}: {source}x{source} -> {target}x{target}")
        return "\n".join(lines)


def _short_list(keys, limit=6):
    shown = ", ".join(keys[:limit])
    return shown + (f", ... (+{len(keys) - limit})" if len(keys) > limit else "")


def find_state_dict(checkpoint):
    """Picks the state dict out of a loaded checkpoint and names its layout.

    Args:
        checkpoint: dict. What `load_torch_checkpoint` returned: `{"net": ...}`
            (tracker), `{"model": ...}` (MAE), `{"state_dict": ...}` or a bare
            state dict. A DataParallel `module.` prefix is removed.

    Returns:
        (state_dict, layout): a dict of NumPy arrays and `"tracker"` or `"mae"`.
    """
    state = checkpoint
    for key in ("net", "model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    if not arrays:
        raise CheckpointError(
            "no state dict in the checkpoint: expected a 'net' (tracker) or 'model' "
            f"(MAE) entry of tensors, got keys {sorted(map(str, checkpoint))[:10]}"
        )
    if all(k.startswith("module.") for k in arrays):
        arrays = {k[len("module.") :]: v for k, v in arrays.items()}
    if any(k.startswith(("backbone.", "box_head.")) for k in arrays):
        return arrays, TRACKER_LAYOUT
    if "patch_embed.proj.weight" in arrays or "blocks.0.attn.qkv.weight" in arrays:
        return arrays, MAE_LAYOUT
    raise CheckpointError(
        "the state dict is neither an OSTrack/LoReTrack tracker (keys 'backbone.*', "
        "'box_head.*') nor an MAE ViT (keys 'patch_embed.*', 'blocks.*'); it has "
        f"keys {sorted(arrays)[:8]}"
    )


def official_variables(model):
    """Maps each official key of a `LoReTrack` to its Keras variable and kind.

    Args:
        model: `LoReTrack`.

    Returns:
        dict official key → (variable, kind), kind one of `"linear"`, `"conv"`,
        `"vector"`, `"position"`.
    """
    backbone, head = model.backbone, model.head
    table = {
        "backbone.patch_embed.proj.weight": (
            backbone.patch_embedding.projection.kernel,
            "conv",
        ),
        "backbone.patch_embed.proj.bias": (
            backbone.patch_embedding.projection.bias,
            "vector",
        ),
        TEMPLATE_POSITION_KEY: (
            backbone.template_position_embedding.embeddings,
            "position",
        ),
        SEARCH_POSITION_KEY: (
            backbone.search_position_embedding.embeddings,
            "position",
        ),
        "backbone.norm.weight": (backbone.final_norm.gamma, "vector"),
        "backbone.norm.bias": (backbone.final_norm.beta, "vector"),
    }
    for i, block in enumerate(backbone.transformer_blocks):
        for official, (attribute, kind) in _BLOCK_LAYERS.items():
            layer = block
            for part in attribute.split("."):
                layer = getattr(layer, part)
            weight = layer.gamma if kind == "vector" else layer.kernel
            bias = layer.beta if kind == "vector" else layer.bias
            table[f"backbone.blocks.{i}.{official}.weight"] = (weight, kind)
            table[f"backbone.blocks.{i}.{official}.bias"] = (bias, "vector")
    for branch in ("ctr", "offset", "size"):
        convs = getattr(head, f"{branch}_convs")
        norms = getattr(head, f"{branch}_norms")
        for stage, (conv, norm) in enumerate(zip(convs, norms), start=1):
            prefix = f"box_head.conv{stage}_{branch}"
            table[f"{prefix}.0.weight"] = (conv.kernel, "conv")
            table[f"{prefix}.0.bias"] = (conv.bias, "vector")
            table[f"{prefix}.1.weight"] = (norm.gamma, "vector")
            table[f"{prefix}.1.bias"] = (norm.beta, "vector")
            table[f"{prefix}.1.running_mean"] = (norm.moving_mean, "vector")
            table[f"{prefix}.1.running_var"] = (norm.moving_variance, "vector")
        output = getattr(head, f"{branch}_output")
        prefix = f"box_head.conv{len(convs) + 1}_{branch}"
        table[f"{prefix}.weight"] = (output.kernel, "conv")
        table[f"{prefix}.bias"] = (output.bias, "vector")
    return table


def official_shape(variable, kind):
    """The shape the official checkpoint stores for a Keras variable."""
    shape = tuple(variable.shape)
    if kind == "linear":
        return shape[::-1]
    if kind == "conv":
        return (shape[3], shape[2], shape[0], shape[1])
    if kind == "position":
        return (1,) + shape
    return shape


def to_keras(value, kind):
    """An official tensor in the Keras variable's layout."""
    if kind == "linear":
        return value.T
    if kind == "conv":
        return value.transpose(2, 3, 1, 0)
    if kind == "position":
        return value[0]
    return value


def to_official(value, kind):
    """A Keras variable's value in the official layout (inverse of `to_keras`)."""
    if kind == "linear":
        return value.T
    if kind == "conv":
        return value.transpose(3, 2, 0, 1)
    if kind == "position":
        return value[None]
    return value


def official_state_dict(model):
    """A `LoReTrack`'s weights as an official state dict of NumPy arrays.

    `load_official_weights(clone, {"net": official_state_dict(model)})` copies
    every weight of `model` into `clone`.
    """
    import keras

    return {
        key: to_official(keras.ops.convert_to_numpy(variable), kind)
        for key, (variable, kind) in official_variables(model).items()
    }


def _square_grid(key, num_tokens):
    grid = math.isqrt(num_tokens)
    if grid * grid != num_tokens:
        raise CheckpointError(
            f"{key}: {num_tokens} position rows do not form a square grid"
        )
    return grid


def tracker_state_dict(state_dict, layout, template_grid, search_grid):
    """Brings a state dict to the official tracker layout at the given grids.

    Args:
        state_dict: dict of NumPy arrays. From `find_state_dict`.
        layout: str. `"tracker"` or `"mae"`.
        template_grid: int. Template token grid side of the target model.
        search_grid: int. Search token grid side of the target model.

    Returns:
        (dict, regridded): the tracker-layout dict (position tables resized to the
        grids, MAE tables turned into `pos_embed_z` / `pos_embed_x`) and the
        `LoadReport.regridded` entries.
    """
    regridded = {}
    if layout == MAE_LAYOUT:
        state = {f"backbone.{k}": v for k, v in state_dict.items()}
        if "backbone.pos_embed" in state:
            table = state["backbone.pos_embed"]
            if table.ndim != 3 or table.shape[0] != 1:
                raise CheckpointError(
                    f"pos_embed: expected shape (1, 1 + grid², C), got {table.shape}"
                )
            rows = table.shape[1]
            if rows > 1 and math.isqrt(rows - 1) ** 2 == rows - 1:
                table = table[:, 1:]
            state[TEMPLATE_POSITION_KEY] = table
            state[SEARCH_POSITION_KEY] = table
    elif layout == TRACKER_LAYOUT:
        state = dict(state_dict)
    else:
        raise ValueError(f"layout must be 'tracker' or 'mae', got {layout!r}")
    for key, grid in (
        (TEMPLATE_POSITION_KEY, template_grid),
        (SEARCH_POSITION_KEY, search_grid),
    ):
        if key not in state:
            continue
        table = np.asarray(state[key], dtype=np.float32)
        if table.ndim != 3 or table.shape[0] != 1:
            raise CheckpointError(
                f"{key}: expected shape (1, grid², C), got {table.shape}"
            )
        source = _square_grid(key, table.shape[1])
        if source != grid or layout == MAE_LAYOUT:
            table = regrid_position_table(table, source, grid)
            regridded[key] = (source, grid)
        state[key] = table
    return state, regridded


def load_official_weights(model, checkpoint, strict=True):
    """Copies an official checkpoint into a `LoReTrack` model.

    Args:
        model: `LoReTrack`. Any preset; a CE preset for OSTrack CE checkpoints.
        checkpoint: dict. What `load_torch_checkpoint` returned, or a state dict.
        strict: bool. Raise when the checkpoint lacks a key the model needs (for
            MAE checkpoints: a backbone key; the head is never in them).

    Returns:
        `LoadReport`.

    Raises:
        CheckpointError: a key is missing (with `strict`), or a tensor's shape does
            not fit; the message names the key and both shapes.
    """
    state_dict, layout = find_state_dict(checkpoint)
    backbone = model.backbone
    state, regridded = tracker_state_dict(
        state_dict, layout, backbone.template_grid, backbone.feature_size
    )
    variables = official_variables(model)
    report = LoadReport(layout=layout, regridded=regridded)
    needed = [
        k for k in variables if layout == TRACKER_LAYOUT or k.startswith("backbone.")
    ]
    report.missing = [k for k in variables if k not in state]
    absent = [k for k in needed if k not in state]
    if strict and absent:
        raise CheckpointError(
            f"the {layout} checkpoint lacks {len(absent)} key(s) the model needs: "
            f"{_short_list(absent)}"
        )
    values = {}
    for key, (variable, kind) in variables.items():
        if key not in state:
            continue
        value = np.asarray(state[key])
        expected = official_shape(variable, kind)
        if value.shape != expected:
            raise CheckpointError(
                f"{key}: checkpoint shape {value.shape} does not fit the model, which "
                f"expects {expected} (Keras variable {variable.path} "
                f"{tuple(variable.shape)})"
            )
        values[key] = to_keras(value, kind)
    for key, value in values.items():
        variable = variables[key][0]
        variable.assign(value.astype(variable.dtype))
        report.loaded.append(key)
    for key in state_dict:
        official = key if layout == TRACKER_LAYOUT else f"backbone.{key}"
        if official in variables or (layout == MAE_LAYOUT and key == "pos_embed"):
            continue
        if official in UNUSED_KEYS or key.endswith(UNUSED_SUFFIXES):
            report.unused.append(key)
        else:
            report.unexpected.append(key)
    return report
