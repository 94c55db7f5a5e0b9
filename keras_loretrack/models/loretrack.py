"""The LoReTrack tracking task: backbone + center head."""

import keras

from keras_loretrack.layers import CenterHead
from keras_loretrack.losses.replicas import scale_for_replicas
from keras_loretrack.losses.tracking import tracking_loss
from keras_loretrack.models import preset_io
from keras_loretrack.models.loretrack_backbone import LoReTrackBackbone
from keras_loretrack.models.multi_worker_fit import MultiWorkerFit

HEAD_OUTPUTS = ("score_map", "size_map", "offset_map", "boxes")
LOSS_TERMS = ("focal", "giou", "l1", "iou")
INPUT_NAMES = ("template", "search")


def _check_inputs(inputs):
    if not isinstance(inputs, dict) or set(inputs) != set(INPUT_NAMES):
        keys = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise ValueError(
            f"LoReTrack takes a dict with keys {list(INPUT_NAMES)}, got {keys}"
        )
    for name in INPUT_NAMES:
        dtype = keras.backend.standardize_dtype(inputs[name].dtype)
        if "float" not in dtype:
            raise TypeError(
                f"LoReTrack input {name!r} must be float ImageNet-normalised crops "
                f"(see keras_loretrack.data.crops.normalize), got dtype {dtype}"
            )


@keras.saving.register_keras_serializable(package="keras_loretrack")
class LoReTrack(MultiWorkerFit, keras.Model):
    """The LoReTrack / OSTrack tracker network.

    Args:
        backbone: `LoReTrackBackbone`. The one-stream ViT.
        search_factor: float. Search crop side relative to sqrt(w·h) of the
            target (used by the tracker and the training crops).
        template_factor: float. Template crop side relative to sqrt(w·h).
        head_channels: tuple of int. Widths of the center head's conv stages.

    Trained with `compile` (no `loss`: the model owns OSTrack's loss, see
    `compute_loss`) and `fit` on `(inputs, {"box": (B, 4)})` batches.

    Inputs: `{"template": (B, Ht, Wt, 3), "search": (B, Hs, Ws, 3)}`, float32,
    ImageNet-normalised. Outputs: `score_map` (B, fs, fs, 1), `size_map`
    (B, fs, fs, 2), `offset_map` (B, fs, fs, 2), `boxes` (B, 4) normalised
    (cx, cy, w, h) at the score argmax, plus any per-block tensors the backbone
    was asked for.

    Example:
    ```python
    model = keras_loretrack.LoReTrack.from_preset("res128", load_weights=False)
    out = model({"template": np.zeros((1, 64, 64, 3)),
                 "search": np.zeros((1, 128, 128, 3))})
    out["boxes"].shape  # (1, 4)
    ```

    Reference: Dong et al., "LoReTrack: Efficient and Accurate Low-Resolution
    Transformer Tracking" (2024).
    """

    backbone_cls = LoReTrackBackbone

    def __init__(
        self,
        backbone,
        search_factor=5.0,
        template_factor=2.0,
        head_channels=(256, 128, 64, 32),
        **kwargs,
    ):
        # === Layers ===
        head = CenterHead(
            head_channels, dtype=backbone.dtype_policy, name="center_head"
        )

        # === Functional Model ===
        inputs = {
            name: keras.Input(tensor.shape[1:], name=name)
            for name, tensor in backbone.input.items()
        }
        features = backbone(inputs)
        outputs = dict(head(features["search_features"]))
        outputs.update({k: v for k, v in features.items() if k != "search_features"})
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.backbone = backbone
        self.head = head
        self.search_factor = float(search_factor)
        self.template_factor = float(template_factor)
        self.head_channels = tuple(head_channels)
        self.loss_trackers = {
            name: keras.metrics.Mean(name=name) for name in LOSS_TERMS
        }

    def call(self, inputs, training=None, mask=None, **kwargs):
        _check_inputs(inputs)
        return super().call(inputs, training=training, mask=mask, **kwargs)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """OSTrack's training loss, focal + 2·GIoU + 5·L1 (Ye et al. 2022).

        Each term (and the decoded box's IoU) is logged as a metric.

        Args:
            x: dict. The inputs (unused).
            y: dict with `box` (B, 4), or the (B, 4) tensor itself: ground
                truth (x1, y1, x2, y2) normalised to the search crop.
            y_pred: dict. The model's outputs.
            sample_weight: must be None.
            training: bool. Unused.

        Returns:
            Scalar loss (this replica's share under tf.distribute).
        """
        del x, training
        if sample_weight is not None:
            raise ValueError("LoReTrack's loss does not support sample weights")
        if y is None:
            raise ValueError(
                "LoReTrack's loss needs targets {'box': (B, 4)}, got y=None"
            )
        box = y["box"] if isinstance(y, dict) else y
        losses = tracking_loss(box, y_pred)
        for name, tracker in self.loss_trackers.items():
            tracker.update_state(losses[name])
        total = losses["loss"]
        if self.losses:
            total = total + keras.ops.sum(self.losses)
        return scale_for_replicas(total)

    @property
    def search_size(self):
        return self.backbone.search_size

    @property
    def template_size(self):
        return self.backbone.template_size

    @property
    def feature_size(self):
        return self.backbone.feature_size

    def distillation_model(self, blocks=(-1,)):
        """A model sharing every weight that also returns what distillation needs.

        Args:
            blocks: tuple of int. Blocks (negative counts from the end) whose q,
                k, v to return.

        Returns:
            `keras.Model` with the head outputs plus `search_features`
            (B, fs, fs, C) and `block{b}_query|key|value` (B, heads, N, head_dim).
        """
        features_model = self.backbone.feature_model(qkv_blocks=blocks)
        inputs = {
            name: keras.Input(tensor.shape[1:], name=name)
            for name, tensor in self.backbone.input.items()
        }
        features = features_model(inputs)
        outputs = dict(self.head(features["search_features"]))
        outputs.update(features)
        return keras.Model(inputs, outputs, name=f"{self.name}_distillation")

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "search_factor": self.search_factor,
            "template_factor": self.template_factor,
            "head_channels": list(self.head_channels),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["backbone"], dict):
            config["backbone"] = keras.saving.deserialize_keras_object(
                config["backbone"]
            )
        return cls(**config)

    @classmethod
    def from_preset(cls, preset, load_weights=True, **overrides):
        """Builds a model from a built-in preset name or a preset directory.

        Args:
            preset: str. A name from `LoReTrack.presets` or a directory written
                by `save_to_preset` or `loretrack convert`.
            load_weights: bool. Load the preset's weights. Built-in ViT-B presets
                have weights only once converted from official checkpoints.
            **overrides: constructor arguments of the backbone (such as
                `search_size`, `drop_path_rate`) or of the task. Weights loaded
                into another resolution have their position tables re-gridded.

        Example:
        ```python
        model = LoReTrack.from_preset("res128", load_weights=False)
        student = LoReTrack.from_preset("./my_preset", search_size=96,
                                        template_size=48)
        ```
        """
        return preset_io.load_preset(cls, preset, load_weights, overrides)

    def save_to_preset(self, preset_dir):
        """Writes config.json, model.weights.h5 and metadata.json to a directory."""
        preset_io.save_preset(self, preset_dir)

    @classmethod
    def presets(cls):
        """The built-in presets: name → description."""
        return preset_io.builtin_presets()
