"""The one-stream ViT backbone shared by OSTrack and LoReTrack."""

import keras
from keras import ops

from keras_loretrack.layers import PatchEmbedding, PositionEmbedding, TransformerBlock

QKV_KEYS = ("query", "key", "value")


def block_output_name(block, key):
    """Name of an exposed per-block tensor: `block11_query`, `block3_attention`."""
    return f"block{block}_{key}"


@keras.saving.register_keras_serializable(package="keras_loretrack")
class LoReTrackBackbone(keras.Model):
    """One-stream ViT over [template tokens, search tokens].

    Template and search images share the patch embedding and have their own
    position tables; after the blocks and the final LayerNorm the search tokens
    are reshaped to a (B, fs, fs, hidden_dim) map, fs = search_size / patch_size.

    Args:
        search_size: int. Side of the search crop in pixels.
        template_size: int. Side of the template crop in pixels.
        patch_size: int. Patch side.
        hidden_dim: int. Token width.
        num_layers: int. Transformer blocks.
        num_heads: int. Attention heads.
        mlp_dim: int. MLP hidden width.
        layer_norm_epsilon: float. LayerNorm epsilon.
        drop_path_rate: float. Stochastic depth of the last block; block i uses
            `drop_path_rate · i / (num_layers - 1)`.
        candidate_elimination_blocks: tuple of int. Blocks (0-based) that run
            OSTrack's candidate elimination; empty for LoReTrack.
        candidate_keep_ratio: float. Fraction of search tokens each CE block keeps.
        qkv_blocks: tuple of int. Blocks whose q, k, v are extra outputs.
        attention_blocks: tuple of int. Blocks whose attention maps are extra
            outputs.

    Outputs: a dict with `search_features` (B, fs, fs, hidden_dim) and, per
    requested block b, `block{b}_query|key|value` (B, heads, N, head_dim) and
    `block{b}_attention` (B, heads, N, N) over the block's N tokens.

    Example:
    ```python
    backbone = LoReTrackBackbone(search_size=128, template_size=64)
    features = backbone({"template": z, "search": x})["search_features"]
    ```

    Reference: Ye et al., "Joint Feature Learning and Relation Modeling for
    Tracking: A One-Stream Framework" (ECCV 2022); Dong et al., "LoReTrack"
    (2024).
    """

    def __init__(
        self,
        search_size,
        template_size,
        patch_size=16,
        hidden_dim=768,
        num_layers=12,
        num_heads=12,
        mlp_dim=3072,
        layer_norm_epsilon=1e-6,
        drop_path_rate=0.1,
        candidate_elimination_blocks=(),
        candidate_keep_ratio=0.7,
        qkv_blocks=(),
        attention_blocks=(),
        dtype=None,
        **kwargs,
    ):
        for name, size in (
            ("search_size", search_size),
            ("template_size", template_size),
        ):
            if size % patch_size:
                raise ValueError(
                    f"{name} must be a multiple of patch_size {patch_size}, got {size}"
                )
        candidate_elimination_blocks = _block_indices(
            candidate_elimination_blocks, num_layers, "candidate_elimination_blocks"
        )
        qkv_blocks = _block_indices(qkv_blocks, num_layers, "qkv_blocks")
        attention_blocks = _block_indices(
            attention_blocks, num_layers, "attention_blocks"
        )
        template_grid = template_size // patch_size
        search_grid = search_size // patch_size
        num_template_tokens = template_grid * template_grid

        # === Layers ===
        patch_embedding = PatchEmbedding(
            hidden_dim, patch_size, dtype=dtype, name="patch_embedding"
        )
        template_position_embedding = PositionEmbedding(
            template_grid, hidden_dim, dtype=dtype, name="template_position_embedding"
        )
        search_position_embedding = PositionEmbedding(
            search_grid, hidden_dim, dtype=dtype, name="search_position_embedding"
        )
        transformer_blocks = [
            TransformerBlock(
                hidden_dim,
                num_heads,
                mlp_dim,
                layer_norm_epsilon=layer_norm_epsilon,
                drop_path_rate=drop_path_rate * i / max(num_layers - 1, 1),
                keep_ratio=(
                    candidate_keep_ratio if i in candidate_elimination_blocks else None
                ),
                num_template_tokens=num_template_tokens,
                template_grid=template_grid,
                dtype=dtype,
                name=f"transformer_block_{i}",
            )
            for i in range(num_layers)
        ]
        final_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="final_norm"
        )

        # === Functional Model ===
        template = keras.Input((template_size, template_size, 3), name="template")
        search = keras.Input((search_size, search_size, 3), name="search")
        tokens = ops.concatenate(
            [
                template_position_embedding(patch_embedding(template)),
                search_position_embedding(patch_embedding(search)),
            ],
            axis=1,
        )
        search_index = None
        block_tensors = []
        for block in transformer_blocks:
            if block.keep_ratio is None:
                out = block(tokens)
            else:
                out = block(tokens, search_index)
                search_index = out["search_index"]
            tokens = out["tokens"]
            block_tensors.append(out)
        search_tokens = final_norm(tokens)[:, num_template_tokens:]
        if search_index is not None:
            # Eliminated tokens are zeros; kept ones go back to their positions.
            scatter = ops.one_hot(search_index, search_grid * search_grid)
            search_tokens = ops.einsum("bln,blc->bnc", scatter, search_tokens)
        search_features = ops.reshape(
            search_tokens, (-1, search_grid, search_grid, hidden_dim)
        )
        outputs = {"search_features": search_features}
        for b in qkv_blocks:
            for key in QKV_KEYS:
                outputs[block_output_name(b, key)] = block_tensors[b][key]
        for b in attention_blocks:
            outputs[block_output_name(b, "attention")] = block_tensors[b]["attention"]
        super().__init__(
            inputs={"template": template, "search": search},
            outputs=outputs,
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.search_size = search_size
        self.template_size = template_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.layer_norm_epsilon = layer_norm_epsilon
        self.drop_path_rate = drop_path_rate
        self.candidate_elimination_blocks = candidate_elimination_blocks
        self.candidate_keep_ratio = candidate_keep_ratio
        self.qkv_blocks = qkv_blocks
        self.attention_blocks = attention_blocks
        self.patch_embedding = patch_embedding
        self.template_position_embedding = template_position_embedding
        self.search_position_embedding = search_position_embedding
        self.transformer_blocks = transformer_blocks
        self.final_norm = final_norm
        self._block_tensors = block_tensors

    @property
    def feature_size(self):
        return self.search_size // self.patch_size

    @property
    def template_grid(self):
        return self.template_size // self.patch_size

    def feature_model(self, qkv_blocks=(), attention_blocks=()):
        """A model sharing these weights that also returns chosen block tensors.

        Args:
            qkv_blocks: tuple of int. Blocks (negative counts from the end) whose
                q, k, v to return.
            attention_blocks: tuple of int. Blocks whose attention maps to return.

        Returns:
            `keras.Model` with this backbone's inputs and outputs plus
            `block{b}_query|key|value` and `block{b}_attention`.
        """
        outputs = dict(self.output)
        for b in _block_indices(qkv_blocks, self.num_layers, "qkv_blocks"):
            for key in QKV_KEYS:
                outputs[block_output_name(b, key)] = self._block_tensors[b][key]
        for b in _block_indices(attention_blocks, self.num_layers, "attention_blocks"):
            outputs[block_output_name(b, "attention")] = self._block_tensors[b][
                "attention"
            ]
        return keras.Model(self.input, outputs, name=f"{self.name}_features")

    @classmethod
    def from_preset(cls, preset, load_weights=True, **overrides):
        """A backbone from a preset, as KerasHub backbones load.

        Args:
            preset: str. A folder written by `save_to_preset` (the backbone's
                `config.json` and `model.weights.h5`, KerasHub's layout), or a
                LoReTrack preset name or folder, whose backbone is returned.
            load_weights: bool. Load the preset's weights.
            **overrides: backbone arguments to change (e.g. `search_size`; the
                position tables are re-gridded).
        """
        from keras_loretrack.models import preset_io

        return preset_io.load_backbone_preset(cls, preset, load_weights, overrides)

    def save_to_preset(self, preset_dir):
        """Writes `config.json`, `model.weights.h5` and `metadata.json` (KerasHub's
        backbone preset layout); refuses a folder holding anything else."""
        from keras_loretrack.models import preset_io

        preset_io.save_preset(self, preset_dir)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "search_size": self.search_size,
            "template_size": self.template_size,
            "patch_size": self.patch_size,
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "mlp_dim": self.mlp_dim,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "drop_path_rate": self.drop_path_rate,
            "candidate_elimination_blocks": list(self.candidate_elimination_blocks),
            "candidate_keep_ratio": self.candidate_keep_ratio,
            "qkv_blocks": list(self.qkv_blocks),
            "attention_blocks": list(self.attention_blocks),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)


def _block_indices(blocks, num_layers, name):
    indices = []
    for b in blocks:
        index = b + num_layers if b < 0 else b
        if not 0 <= index < num_layers:
            raise ValueError(
                f"{name} must index blocks 0..{num_layers - 1} (or negative), got {b}"
            )
        indices.append(int(index))
    return tuple(sorted(set(indices)))
