"""Choosing the tf.distribute strategy and precision a training run uses."""

import keras

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


def make_strategy(name="default", tpu_address=None):
    """A `tf.distribute.Strategy` by name.

    Build models, optimizers and metrics inside `strategy.scope()`; Keras' `fit`
    then splits each global batch over the replicas.

    Args:
        name: str. `default` (one device), `mirrored` (every local GPU, or
            the logical CPU devices configured before TensorFlow started),
            `multiworker` (synchronous over the machines of `TF_CONFIG`) or
            `tpu`.
        tpu_address: str or None. TPU name or grpc address for `tpu` (None:
            the resolver's default, e.g. a Cloud TPU VM's local TPU).

    Returns:
        `tf.distribute.Strategy`.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=cpus)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"Unknown strategy {name!r}; expected one of {list(STRATEGIES)}")


def is_chief(strategy):
    """Whether this worker writes checkpoints and logs (always, on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (
        task_type == "worker"
        and task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def set_precision(mixed_precision=False, strategy=None):
    """Sets Keras' global dtype policy for models built afterwards.

    float16 needs loss scaling (`keras_loretrack.training.loss_scaled`, which
    `build_optimizer` applies); bfloat16 keeps float32's range and needs none.

    Args:
        mixed_precision: bool. `mixed_float16` when TensorFlow sees a GPU,
            `mixed_bfloat16` on TPU and on CPU; float32 when False.
        strategy: `tf.distribute.Strategy` or None. Decides the TPU case.

    Returns:
        str. The policy name set.
    """
    if not mixed_precision:
        policy = "float32"
    elif type(strategy).__name__.startswith("TPUStrategy") or not _sees_a_gpu():
        policy = "mixed_bfloat16"
    else:
        policy = "mixed_float16"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def _sees_a_gpu():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def check_batch_size(batch_size, strategy):
    """The global batch must split evenly over the strategy's replicas."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(
            f"--batch-size {batch_size} must be a multiple of the {replicas} "
            "replicas of the strategy"
        )
