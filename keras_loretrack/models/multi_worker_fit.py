"""`fit` and `evaluate` under MultiWorkerMirroredStrategy with Keras 3.

Keras 3's TensorFlow trainer fails under MultiWorkerMirroredStrategy before
the first step (keras-team/keras#20585), in two places this mixin works
around:

- it builds the model from the first batch reduced over the replicas with
  `strategy.reduce`, which the collective reduce rejects for a nested batch
  such as LoReTrack's `({"template", "search"}, {"box"})`; building needs
  only shapes and dtypes, shared by every replica's batch, so the first
  local replica's batch is used;
- it averages each step's scalar logs over the workers with
  `strategy.reduce("MEAN", log, axis=0)`, which has no axis 0 to reduce; the
  logs are given that axis (one row per replica), which the reduce removes.
"""

import keras


def _in_multi_worker_mode(strategy):
    extended = getattr(strategy, "extended", None)
    return bool(getattr(extended, "_in_multi_worker_mode", lambda: False)())


class MultiWorkerFit:
    """Mixin for a `keras.Model` trained under any tf.distribute strategy."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None and self._distribute_strategy is not None:
            import tensorflow as tf

            strategy = self.distribute_strategy
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(
                    lambda value: (
                        strategy.experimental_local_results(value)[0]
                        if isinstance(value, tf.distribute.DistributedValues)
                        else value
                    ),
                    next(batches),
                )
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def step_logs(self, logs):
        """A step's logs, each with a replica axis under several workers."""
        if not _in_multi_worker_mode(self._distribute_strategy):
            return logs
        return {name: keras.ops.reshape(value, (1,)) for name, value in logs.items()}

    def train_step(self, data):
        return self.step_logs(super().train_step(data))

    def test_step(self, data):
        return self.step_logs(super().test_step(data))
