"""TensorBoard scalar logs written with TensorFlow alone.

Keras' `TensorBoard` callback needs the `tensorboard` package to write even a
scalar; `ScalarLogs` writes the same event files (`<log_dir>/train` and
`<log_dir>/validation`, tags `epoch_<metric>` and `batch_<metric>`, the
"scalars" plugin's format) through `tf.summary.write`, so runs log on machines
without it and TensorBoard reads them anywhere.
"""

import os

import keras

VALIDATION_PREFIX = "val_"


def _scalar_metadata():
    from tensorflow.core.framework import summary_pb2

    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
    )


class ScalarLogs(keras.callbacks.Callback):
    """Logs every metric per epoch (and every `update_freq` steps) for TensorBoard.

    Args:
        log_dir: str. Folder of the run's logs.
        update_freq: int or None. Also log the running training metrics every
            this many optimizer steps (None: per epoch only).
        write: bool. Whether this process writes (False on non-chief workers).
    """

    def __init__(self, log_dir, update_freq=None, write=True):
        super().__init__()
        if update_freq is not None and update_freq < 1:
            raise ValueError(f"update_freq must be None or >= 1, got {update_freq!r}")
        self.log_dir = os.fspath(log_dir)
        self.update_freq = update_freq
        self.write = write
        self._writers = {}

    def _writer(self, split):
        import tensorflow as tf

        if split not in self._writers:
            self._writers[split] = tf.summary.create_file_writer(
                os.path.join(self.log_dir, split)
            )
        return self._writers[split]

    def _log(self, split, prefix, values, step):
        import tensorflow as tf

        metadata = _scalar_metadata()
        with self._writer(split).as_default():
            for name, value in values.items():
                tf.summary.write(
                    f"{prefix}_{name}",
                    tf.constant(float(value), tf.float32),
                    step=int(step),
                    metadata=metadata,
                )
        self._writer(split).flush()

    def _learning_rate(self):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return {}
        return {"learning_rate": keras.ops.convert_to_numpy(optimizer.learning_rate)}

    def on_train_batch_end(self, batch, logs=None):
        if not self.write or self.update_freq is None or not logs:
            return
        # Under a distribution strategy `iterations` is a distributed variable,
        # which `int()` does not take; its numpy value is the same on every replica.
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        if step % self.update_freq == 0:
            self._log("train", "batch", logs, step)

    def on_epoch_end(self, epoch, logs=None):
        if not self.write:
            return
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith(VALIDATION_PREFIX)}
        train.update(self._learning_rate())
        self._log("train", "epoch", train, epoch)
        validation = {
            k[len(VALIDATION_PREFIX) :]: v
            for k, v in logs.items()
            if k.startswith(VALIDATION_PREFIX)
        }
        if validation:
            self._log("validation", "epoch", validation, epoch)

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
