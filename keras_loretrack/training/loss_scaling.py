"""Dynamic loss scaling whose skip decision every replica shares."""

import keras


@keras.saving.register_keras_serializable(package="keras_loretrack")
class ReplicaAgreedLossScaleOptimizer(keras.optimizers.LossScaleOptimizer):
    """`keras.optimizers.LossScaleOptimizer` that skips a step on every replica at once.

    Dynamic loss scaling skips a step (and halves the scale) when a gradient
    overflows. Under `tf.distribute`, Keras' optimizer takes that decision
    from the first replica's gradients alone, as if they were already summed
    over replicas; they are not (the inner optimizer sums them afterwards).
    When only another replica's gradients overflow, the infinite sum is
    applied and every weight turns NaN for the rest of the run. Here the
    replicas' verdicts are summed over the replicas first, so the step is
    skipped everywhere, as on one device.
    Identical to Keras' optimizer on one replica and outside TensorFlow.

    Args:
        inner_optimizer: `keras.optimizers.Optimizer`. The optimizer applied to
            the unscaled gradients.
        **kwargs: passed to `keras.optimizers.LossScaleOptimizer`
            (`initial_scale`, `dynamic_growth_steps`, `name`).
    """

    def _tf_apply(self, grads, trainable_variables=None):
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return super()._tf_apply(grads, trainable_variables)

        def overflowed(grads):
            return 1.0 - tf.cast(self.check_finite(grads), "float32")

        if tf.__internal__.distribute.strategy_supports_no_merge_call():
            finite = tf.equal(
                context.all_reduce(tf.distribute.ReduceOp.SUM, overflowed(grads)), 0.0
            )
            tf.cond(
                finite,
                lambda: self._stateful_handle_finite_grads(grads, trainable_variables),
                self._stateful_handle_non_finite_grads,
            )
            return None

        def apply(distribution, grads, trainable_variables):
            def step():
                distribution.extended.call_for_each_replica(
                    self._stateful_handle_finite_grads,
                    args=(grads, trainable_variables),
                )

            per_replica = distribution.extended.call_for_each_replica(
                overflowed, args=(grads,)
            )
            total = distribution.reduce(
                tf.distribute.ReduceOp.SUM, per_replica, axis=None
            )
            tf.cond(tf.equal(total, 0.0), step, self._stateful_handle_non_finite_grads)

        context.merge_call(apply, args=(grads, trainable_variables))
        return None


def loss_scaled(optimizer):
    """`optimizer` wrapped for loss scaling when the global policy is float16.

    `Model.compile` would wrap it in Keras' own `LossScaleOptimizer`, which
    breaks under several replicas (see `ReplicaAgreedLossScaleOptimizer`);
    pass the result of this function to `compile` instead. bfloat16 and
    float32 need no loss scaling: `optimizer` is returned unchanged.

    Args:
        optimizer: `keras.optimizers.Optimizer`.

    Returns:
        `keras.optimizers.Optimizer`.
    """
    if keras.mixed_precision.global_policy().name != "mixed_float16" or isinstance(
        optimizer, ReplicaAgreedLossScaleOptimizer
    ):
        return optimizer
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    return ReplicaAgreedLossScaleOptimizer(optimizer)
