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
