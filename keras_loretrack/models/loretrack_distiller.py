"""LoReTrack's dual knowledge distillation as a Keras model (Dong et al. 2024)."""

import keras
from keras import ops

from keras_loretrack.losses import paper_defaults as paper
from keras_loretrack.losses.distillation import (
    discriminative_distillation_loss,
    qkv_distillation_loss,
)
from keras_loretrack.losses.replicas import scale_for_replicas
from keras_loretrack.losses.tracking import tracking_loss
from keras_loretrack.models.loretrack import LoReTrack
from keras_loretrack.models.loretrack_backbone import QKV_KEYS, block_output_name
from keras_loretrack.models.multi_worker_fit import MultiWorkerFit

METRIC_NAMES = ("loss", "focal", "giou", "l1", "iou", "disc", "qkv", "mask_fraction")
# Key of an inputs dict that carries precomputed `teacher_targets`.
TEACHER_OUTPUTS = "teacher_outputs"


def _resolve_block(block, num_layers, who):
    index = block + num_layers if block < 0 else block
    if not 0 <= index < num_layers:
        raise ValueError(
            f"qkv_blocks must index the {who}'s blocks 0..{num_layers - 1} (or "
            f"negative), got {block}"
        )
    return int(index)


def _resize_images(images, size):
    if images.shape[1] == size and images.shape[2] == size:
        return images
    return ops.image.resize(
        images, (size, size), interpolation="bilinear", antialias=False
    )


@keras.saving.register_keras_serializable(package="keras_loretrack")
class LoReTrackDistiller(MultiWorkerFit, keras.Model):
    """Trains a low-resolution student `LoReTrack` from a frozen teacher.

    Batches hold the teacher's crops; the student sees them resized (bilinear,
    half-pixel centres, no antialias) to its own template and search sizes, so
    both see the same content. The loss is
    `focal + 2·GIoU + 5·L1 + 0.01·Disc + 0.01·QKV` by default (the paper's,
    `keras_loretrack.losses.paper_defaults`): the tracking
    losses of the student on the ground truth (heatmap on the student's grid)
    plus Disc-KD on the final search features and QKV-KD on the chosen blocks.
    The teacher runs in inference mode outside the gradient tape and is frozen
    in the constructor; only the student's weights change. Each term is a
    logged metric, with the IoU of the decoded box and the share of teacher
    tokens in the Disc-KD mask. Requires the TensorFlow backend.

    When the crops are fixed (no augmentation drawn per step), the frozen
    teacher's outputs never change: `teacher_targets` computes them once, and a
    batch whose inputs carry them under `"teacher_outputs"` skips the
    teacher's forward pass with the same losses.

    Args:
        student: `LoReTrack`. The model trained.
        teacher: `LoReTrack`. The frozen teacher (same width as the student),
            usually at a higher resolution.
        qkv_blocks: tuple of int. Blocks (negative counts from the end, each
            resolved in its own model) whose q, k, v are distilled; empty turns
            QKV-KD off.
        focal_weight: float. Weight of the focal loss.
        giou_weight: float. Weight of the GIoU loss.
        l1_weight: float. Weight of the L1 loss.
        disc_weight: float. Weight of Disc-KD.
        qkv_weight: float. Weight of QKV-KD.
        temperature: float. Softmax temperature of both KD losses.
        disc_threshold: float. Teacher energy threshold of the Disc-KD mask.
        disc_inside_weight: float. Weight of the masked Disc-KD term.
        disc_outside_weight: float. Weight of the unmasked Disc-KD term.

    Example:
    ```python
    teacher = LoReTrack.from_preset("./teacher_res384")
    student = LoReTrack.from_preset("res128", load_weights=False)
    distiller = LoReTrackDistiller(student, teacher)
    distiller.compile(optimizer=keras.optimizers.AdamW(4e-4))
    distiller.fit(dataset, epochs=300, steps_per_epoch=468)
    distiller.save_student("./student_res128")
    ```

    Reference: Dong et al., "LoReTrack: Efficient and Accurate Low-Resolution
    Transformer Tracking" (2024).
    """

    def __init__(
        self,
        student,
        teacher,
        qkv_blocks=paper.QKV_BLOCKS,
        focal_weight=paper.FOCAL_WEIGHT,
        giou_weight=paper.GIOU_WEIGHT,
        l1_weight=paper.L1_WEIGHT,
        disc_weight=paper.DISC_WEIGHT,
        qkv_weight=paper.QKV_WEIGHT,
        temperature=paper.KD_TEMPERATURE,
        disc_threshold=paper.DISC_THRESHOLD,
        disc_inside_weight=paper.DISC_INSIDE_WEIGHT,
        disc_outside_weight=paper.DISC_OUTSIDE_WEIGHT,
        **kwargs,
    ):
        if keras.backend.backend() != "tensorflow":
            raise ValueError(
                "LoReTrackDistiller's train_step needs the TensorFlow backend, got "
                f"{keras.backend.backend()!r}"
            )
        for who, model in (("student", student), ("teacher", teacher)):
            if not isinstance(model, LoReTrack):
                raise ValueError(
                    f"{who} must be a LoReTrack model, got {type(model).__name__}"
                )
        if student.backbone.hidden_dim != teacher.backbone.hidden_dim:
            raise ValueError(
                "student and teacher must have the same hidden_dim for feature "
                f"distillation, got {student.backbone.hidden_dim} and "
                f"{teacher.backbone.hidden_dim}"
            )
        qkv_blocks = tuple(int(b) for b in qkv_blocks)
        block_pairs = [
            (
                _resolve_block(b, student.backbone.num_layers, "student"),
                _resolve_block(b, teacher.backbone.num_layers, "teacher"),
            )
            for b in qkv_blocks
        ]
        super().__init__(**kwargs)
        teacher.trainable = False

        # === Layers ===
        self.student = student
        self.teacher = teacher
        self.student_features = student.distillation_model(
            tuple(s for s, _ in block_pairs)
        )
        self.teacher_features = teacher.distillation_model(
            tuple(t for _, t in block_pairs)
        )
        self.loss_trackers = {
            name: keras.metrics.Mean(name=name) for name in METRIC_NAMES
        }
        self.built = True

        # === Config ===
        self.qkv_blocks = qkv_blocks
        self.block_pairs = block_pairs
        self.focal_weight = focal_weight
        self.giou_weight = giou_weight
        self.l1_weight = l1_weight
        self.disc_weight = disc_weight
        self.qkv_weight = qkv_weight
        self.temperature = temperature
        self.disc_threshold = disc_threshold
        self.disc_inside_weight = disc_inside_weight
        self.disc_outside_weight = disc_outside_weight

    def _teacher_crops(self, inputs):
        """`inputs`' template and search, checked to be at the teacher's size."""
        if not isinstance(inputs, dict) or set(inputs) - {TEACHER_OUTPUTS} != {
            "template",
            "search",
        }:
            keys = sorted(inputs) if isinstance(inputs, dict) else type(inputs)
            raise ValueError(
                "LoReTrackDistiller takes a dict with keys ['search', 'template'] "
                f"(and optionally {TEACHER_OUTPUTS!r}), got {keys}"
            )
        for name, size in (
            ("template", self.teacher.template_size),
            ("search", self.teacher.search_size),
        ):
            shape = tuple(inputs[name].shape[1:3])
            if shape != (size, size):
                raise ValueError(
                    f"{name} crops must be at the teacher's resolution {size}x{size}, "
                    f"got {shape}"
                )
        return {"template": inputs["template"], "search": inputs["search"]}

    def student_inputs(self, inputs):
        """The teacher's crops resized to the student's template and search sizes."""
        crops = self._teacher_crops(inputs)
        return {
            "template": _resize_images(crops["template"], self.student.template_size),
            "search": _resize_images(crops["search"], self.student.search_size),
        }

    @property
    def teacher_target_names(self):
        """Names of the teacher outputs the losses read."""
        return ("search_features",) + tuple(
            block_output_name(teacher_block, key)
            for _, teacher_block in self.block_pairs
            for key in QKV_KEYS
        )

    def teacher_targets(self, inputs):
        """The frozen teacher's outputs that the losses read, on `inputs`.

        Args:
            inputs: dict. `template` and `search` crops at the teacher's size.

        Returns:
            dict of tensors named by `teacher_target_names`. Passed back as
            `inputs["teacher_outputs"]` of a batch, they replace the teacher's
            forward pass.
        """
        outputs = self.teacher_features(self._teacher_crops(inputs), training=False)
        return {name: outputs[name] for name in self.teacher_target_names}

    def call(self, inputs, training=None):
        """The student's outputs on the teacher-resolution crops `inputs`."""
        return self.student(self.student_inputs(inputs), training=training)

    def compute_losses(self, box, student_outputs, teacher_outputs):
        """Every loss term of one batch.

        Args:
            box: tensor (B, 4). Ground truth (x1, y1, x2, y2) in the search crop.
            student_outputs: dict. `student_features` outputs on the student's
                crops.
            teacher_outputs: dict. `teacher_features` outputs on the teacher's.

        Returns:
            dict of scalars: `loss` (weighted total), `focal`, `giou`, `l1`,
            `iou`, `disc`, `qkv` and `mask_fraction`.
        """
        losses = tracking_loss(
            box,
            student_outputs,
            focal_weight=self.focal_weight,
            giou_weight=self.giou_weight,
            l1_weight=self.l1_weight,
        )
        disc = discriminative_distillation_loss(
            student_outputs["search_features"],
            teacher_outputs["search_features"],
            threshold=self.disc_threshold,
            temperature=self.temperature,
            inside_weight=self.disc_inside_weight,
            outside_weight=self.disc_outside_weight,
        )
        qkv = ops.zeros((), "float32")
        for student_block, teacher_block in self.block_pairs:
            qkv = (
                qkv
                + qkv_distillation_loss(
                    {
                        k: student_outputs[block_output_name(student_block, k)]
                        for k in QKV_KEYS
                    },
                    {
                        k: teacher_outputs[block_output_name(teacher_block, k)]
                        for k in QKV_KEYS
                    },
                    self.temperature,
                    student_grid=self.student.feature_size,
                    teacher_grid=self.teacher.feature_size,
                )["loss"]
            )
        losses["disc"] = disc["loss"]
        losses["qkv"] = qkv
        losses["mask_fraction"] = disc["mask_fraction"]
        losses["loss"] = (
            losses["loss"] + self.disc_weight * disc["loss"] + self.qkv_weight * qkv
        )
        return losses

    def _prepare(self, data):
        inputs, targets, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError("LoReTrackDistiller does not support sample weights")
        box = targets["box"] if isinstance(targets, dict) else targets
        student_inputs = self.student_inputs(inputs)
        teacher_outputs = inputs.get(TEACHER_OUTPUTS)
        if teacher_outputs is None:
            teacher_outputs = self.teacher_targets(inputs)
        else:
            missing = sorted(set(self.teacher_target_names) - set(teacher_outputs))
            if missing:
                raise ValueError(
                    f"inputs[{TEACHER_OUTPUTS!r}] lacks {missing}; it must hold "
                    f"{list(self.teacher_target_names)} (`teacher_targets`)"
                )
            teacher_outputs = {
                name: ops.cast(teacher_outputs[name], "float32")
                for name in self.teacher_target_names
            }
        return student_inputs, box, teacher_outputs

    def _record(self, losses):
        for name, tracker in self.loss_trackers.items():
            tracker.update_state(losses[name])
        return self.step_logs(
            {name: tracker.result() for name, tracker in self.loss_trackers.items()}
        )

    def train_step(self, data):
        import tensorflow as tf

        student_inputs, box, teacher_outputs = self._prepare(data)
        with tf.GradientTape() as tape:
            student_outputs = self.student_features(student_inputs, training=True)
            losses = self.compute_losses(box, student_outputs, teacher_outputs)
            loss = losses["loss"]
            if self.student_features.losses:
                loss = loss + ops.sum(self.student_features.losses)
            scaled = self.optimizer.scale_loss(scale_for_replicas(loss))
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._record(losses)

    def test_step(self, data):
        student_inputs, box, teacher_outputs = self._prepare(data)
        student_outputs = self.student_features(student_inputs, training=False)
        return self._record(self.compute_losses(box, student_outputs, teacher_outputs))

    @property
    def metrics(self):
        return list(self.loss_trackers.values())

    def save_student(self, preset_dir):
        """Writes the student as a preset directory (`LoReTrack.from_preset`)."""
        self.student.save_to_preset(preset_dir)

    save_to_preset = save_student

    def get_config(self):
        return {
            "name": self.name,
            "student": keras.saving.serialize_keras_object(self.student),
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "qkv_blocks": list(self.qkv_blocks),
            "focal_weight": self.focal_weight,
            "giou_weight": self.giou_weight,
            "l1_weight": self.l1_weight,
            "disc_weight": self.disc_weight,
            "qkv_weight": self.qkv_weight,
            "temperature": self.temperature,
            "disc_threshold": self.disc_threshold,
            "disc_inside_weight": self.disc_inside_weight,
            "disc_outside_weight": self.disc_outside_weight,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("student", "teacher"):
            if isinstance(config[key], dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
