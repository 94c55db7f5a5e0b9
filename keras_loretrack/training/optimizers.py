"""OSTrack's optimiser (Ye et al. 2022): AdamW, backbone lr ×0.1, step decay, clipping.

PyTorch trains OSTrack with two AdamW parameter groups, the backbone's at a tenth
of the learning rate; AdamW there decays each weight by `lr_group · wd`. Scaling
the backbone's gradients instead would not do it (Adam's step is invariant to
the gradient's scale), so `GroupedAdamW` scales the learning rate, and the
decoupled weight decay with it, per variable.
"""

import keras
from keras import ops

from keras_loretrack.losses.paper_defaults import (
    BACKBONE_LR_MULTIPLIER,
    BASE_BATCH_SIZE,
    BASE_LEARNING_RATE,
    DECAY_FACTOR,
    DECAY_FRACTION,
    GLOBAL_CLIPNORM,
    WEIGHT_DECAY,
)
from keras_loretrack.training.loss_scaling import loss_scaled


@keras.saving.register_keras_serializable(package="keras_loretrack")
class GroupedAdamW(keras.optimizers.AdamW):
    """AdamW with per-variable learning-rate multipliers (PyTorch param groups).

    A variable with multiplier m is updated with learning rate `m · lr` and
    decayed by `m · lr · weight_decay`, as in a PyTorch AdamW parameter group
    with lr `m · lr`. With `global_clipnorm` under a multi-replica
    `tf.distribute` strategy the norm is that of the gradient summed over the
    replicas (what is applied), not each replica's share.

    Args:
        **kwargs: arguments of `keras.optimizers.AdamW`.

    Example:
    ```python
    optimizer = GroupedAdamW(learning_rate=4e-4, weight_decay=1e-4)
    optimizer.set_learning_rate_multiplier(model.backbone.trainable_variables, 0.1)
    model.compile(optimizer=optimizer)
    ```
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._multiplier_by_key = {}

    def set_learning_rate_multiplier(self, variables, multiplier):
        """Scales the learning rate (and decay) of `variables` by `multiplier`.

        Call before the optimizer is built (before the first step).

        Args:
            variables: list of variables.
            multiplier: float. Factor on the learning rate, >= 0.
        """
        if self.built:
            raise ValueError(
                "set_learning_rate_multiplier must be called before the optimizer "
                "is built (before the first training step)"
            )
        if not multiplier >= 0:
            raise ValueError(f"multiplier must be >= 0, got {multiplier!r}")
        for variable in variables:
            self._multiplier_by_key[self._var_key(variable)] = float(multiplier)

    def learning_rate_multiplier(self, variable):
        """The multiplier set for `variable` (1.0 when none was set)."""
        return self._multiplier_by_key.get(self._var_key(variable), 1.0)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._variable_multipliers = [
            self.learning_rate_multiplier(v) for v in var_list
        ]
        self._variable_decays = [
            self.weight_decay is not None and self._use_weight_decay(v)
            for v in var_list
        ]

    def _apply_weight_decay(self, variables):
        # Applied in `update_step`, with each variable's own learning rate.
        return

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        multiplier = self._variable_multipliers[index]
        learning_rate = ops.cast(learning_rate, variable.dtype) * multiplier
        if self._variable_decays[index]:
            decay = ops.cast(self.weight_decay, variable.dtype)
            self.assign_sub(variable, variable * (decay * learning_rate))
        super().update_step(gradient, variable, learning_rate)

    def _clip_gradients(self, grads):
        context = _replica_context()
        if not self.global_clipnorm or context is None:
            return super()._clip_gradients(grads)
        import tensorflow as tf

        present = [g for g in grads if g is not None]
        summed = context.all_reduce(tf.distribute.ReduceOp.SUM, present)
        norm = tf.linalg.global_norm(summed)
        clip = tf.cast(self.global_clipnorm, norm.dtype)
        scale = clip / tf.maximum(norm, clip)
        return [None if g is None else g * tf.cast(scale, g.dtype) for g in grads]


def _replica_context():
    """The tf.distribute replica context when there are several replicas."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync < 2:
        return None
    return context


def scaled_learning_rate(
    batch_size, base=BASE_LEARNING_RATE, base_batch=BASE_BATCH_SIZE
):
    """The learning rate scaled linearly with the global batch: `base · B / 128`."""
    return base * batch_size / base_batch


def step_decay_schedule(
    learning_rate,
    epochs,
    steps_per_epoch,
    decay_epoch=None,
    factor=DECAY_FACTOR,
):
    """Learning rate ×`factor` from `decay_epoch` on (default: 80% of `epochs`).

    The schedule counts optimizer steps, so it resumes with the optimizer.

    Args:
        learning_rate: float. Initial learning rate.
        epochs: int. Total epochs.
        steps_per_epoch: int. Optimizer steps per epoch.
        decay_epoch: int or None. First epoch at the lower rate.
        factor: float. Factor applied at `decay_epoch`.

    Returns:
        `keras.optimizers.schedules.PiecewiseConstantDecay`.
    """
    if decay_epoch is None:
        decay_epoch = int(round(DECAY_FRACTION * epochs))
    if not 0 < decay_epoch <= epochs:
        raise ValueError(
            f"decay_epoch must be in 1..epochs ({epochs}), got {decay_epoch!r}"
        )
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries=[int(decay_epoch * steps_per_epoch)],
        values=[float(learning_rate), float(learning_rate * factor)],
    )


def build_optimizer(
    backbone_variables,
    learning_rate,
    epochs,
    steps_per_epoch,
    backbone_multiplier=BACKBONE_LR_MULTIPLIER,
    weight_decay=WEIGHT_DECAY,
    global_clipnorm=GLOBAL_CLIPNORM,
    decay_epoch=None,
):
    """OSTrack's optimiser: `GroupedAdamW` with step decay and clipping.

    Args:
        backbone_variables: list of variables. Trained at
            `backbone_multiplier · lr` (the model's `backbone.trainable_variables`).
        learning_rate: float. Learning rate of the head (see
            `scaled_learning_rate`).
        epochs: int. Total epochs.
        steps_per_epoch: int. Steps per epoch.
        backbone_multiplier: float. Backbone learning-rate factor.
        weight_decay: float. Decoupled weight decay.
        global_clipnorm: float or None. Gradient global-norm clip.
        decay_epoch: int or None. Epoch of the ×0.1 drop (default 80%).

    Returns:
        `GroupedAdamW`, inside a `ReplicaAgreedLossScaleOptimizer` when the
        global dtype policy is `mixed_float16`.
    """
    optimizer = GroupedAdamW(
        learning_rate=step_decay_schedule(
            learning_rate, epochs, steps_per_epoch, decay_epoch
        ),
        weight_decay=weight_decay,
        global_clipnorm=global_clipnorm,
    )
    optimizer.set_learning_rate_multiplier(backbone_variables, backbone_multiplier)
    return loss_scaled(optimizer)
