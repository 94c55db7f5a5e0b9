"""Losses under tf.distribute: each replica's share of the global mean."""

import keras


def scale_for_replicas(loss):
    """Divides a per-replica mean loss by the number of replicas in sync.

    tf.distribute sums the replicas' gradients, so each replica must contribute
    its loss divided by the replica count for the update to follow the global
    batch mean (what Keras' own losses do). A no-op on one device and outside
    the TensorFlow backend.

    Args:
        loss: scalar tensor. The mean loss of this replica's batch.

    Returns:
        Scalar tensor.
    """
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / replicas if replicas > 1 else loss


def share_of_total_count(count, floor=1.0):
    """`max(count summed over the replicas in sync, floor) / replicas`.

    A loss normalised by a batch count (the focal loss' peaks) divides its
    per-replica sum by this: after `scale_for_replicas` and the replicas'
    gradient sum, the update is the global sum over the global count, as on
    one device with the whole batch, however the batch is split. On one
    replica and outside the TensorFlow backend: `max(count, floor)`.

    Args:
        count: scalar float32 tensor. This replica's count.
        floor: float. Lower bound of the total (no division by zero).

    Returns:
        Scalar float32 tensor, without gradient.
    """
    count = keras.ops.stop_gradient(count)
    replicas = 1
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            replicas = context.num_replicas_in_sync
            count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
    return keras.ops.maximum(count, floor) / replicas
