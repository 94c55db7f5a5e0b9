"""OSTrack's center head: score, offset and size maps from search features."""

import math

import keras
from keras import ops

BRANCHES = ("ctr", "offset", "size")
BRANCH_OUTPUTS = {"ctr": 1, "offset": 2, "size": 2}
# The 1x1 convolutions that write the maps. The static int8 exports keep them
# in float: their outputs are the maps themselves (scores before the sigmoid,
# offsets and sizes), which one int8 grid over the calibration range would
# round, for a negligible share of the model's multiply-accumulates.
MAP_OUTPUT_LAYERS = tuple(f"{branch}_output" for branch in BRANCHES)
SIGMOID_CLIP = 1e-4
# Initial score-map bias: every location starts at probability 0.01 (the
# focal-loss prior of RetinaNet and CenterNet), so training from scratch does
# not spend its first steps undoing a 0.5 score on every background cell.
# Loaded checkpoints overwrite it.
SCORE_PRIOR = 0.01
SCORE_PRIOR_BIAS = math.log(SCORE_PRIOR / (1.0 - SCORE_PRIOR))


def clipped_sigmoid(x):
    return ops.clip(ops.sigmoid(x), SIGMOID_CLIP, 1.0 - SIGMOID_CLIP)


def decode_boxes(score_map, size_map, offset_map, xp=ops):
    """Boxes (B, 4) normalised (cx, cy, w, h) at the argmax of `score_map`.

    With fs the map side and the argmax at (iy, ix), the first in row-major
    order: ((ix + off_x) / fs, (iy + off_y) / fs, w, h), as OSTrack's
    `cal_bbox`. The one decoder of the package: the model runs it on tensors
    (its `boxes` output), the tracker on numpy maps of any engine.

    Args:
        score_map: (B, fs, fs, 1). Scores (windowed or not).
        size_map: (B, fs, fs, 2). w, h relative to the search crop.
        offset_map: (B, fs, fs, 2). Sub-cell x, y offsets.
        xp: the array module: `keras.ops` (default) or `numpy`. With numpy
            the integer cell plus a float32 offset gives float64 boxes.
    """
    feature_size = score_map.shape[1]
    cells = feature_size * feature_size
    index = xp.argmax(xp.reshape(score_map, (-1, cells)), axis=-1)

    def at_argmax(values):
        flat = xp.reshape(values, (-1, cells, 2))
        return xp.take_along_axis(flat, index[:, None, None], axis=1)[:, 0]

    size, offset = at_argmax(size_map), at_argmax(offset_map)
    iy = xp.floor_divide(index, feature_size)
    ix = xp.mod(index, feature_size)
    return xp.stack(
        [
            xp.add(ix, offset[:, 0]) / feature_size,
            xp.add(iy, offset[:, 1]) / feature_size,
            size[:, 0],
            size[:, 1],
        ],
        axis=-1,
    )


@keras.saving.register_keras_serializable(package="keras_loretrack")
class CenterHead(keras.layers.Layer):
    """Three conv branches over the (B, fs, fs, C) search feature map.

    Each branch is 4 × [Conv 3x3 → BatchNorm → ReLU] with `channels`, then a
    1x1 conv to 1 (ctr), 2 (offset x, y) or 2 (size w, h) channels. Score and
    size pass through a sigmoid clipped to [1e-4, 1 - 1e-4]; offset stays raw.
    The score conv's bias starts at `SCORE_PRIOR_BIAS` (score 0.01). In
    training, BatchNorm's statistics cover the global batch under
    tf.distribute (synchronised over replicas), so a run ends the same however
    many devices split its batch.

    Args:
        channels: tuple of int. Widths of the four conv stages.
        batch_norm_epsilon: float. BatchNorm epsilon.

    Call returns a dict: `score_map` (B, fs, fs, 1), `size_map` (B, fs, fs, 2),
    `offset_map` (B, fs, fs, 2) and `boxes` (B, 4) decoded at the score argmax.
    """

    def __init__(self, channels=(256, 128, 64, 32), batch_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.channels = tuple(channels)
        self.batch_norm_epsilon = batch_norm_epsilon

    def build(self, input_shape):
        for branch in BRANCHES:
            convs, norms = [], []
            shape = tuple(input_shape)
            for stage, width in enumerate(self.channels, start=1):
                conv = keras.layers.Conv2D(
                    width,
                    3,
                    padding="same",
                    dtype=self.dtype_policy,
                    name=f"{branch}_conv{stage}",
                )
                conv.build(shape)
                shape = shape[:-1] + (width,)
                # PyTorch's BatchNorm momentum 0.1 is Keras' 0.9.
                norm = keras.layers.BatchNormalization(
                    epsilon=self.batch_norm_epsilon,
                    momentum=0.9,
                    synchronized=keras.backend.backend() == "tensorflow",
                    dtype=self.dtype_policy,
                    name=f"{branch}_norm{stage}",
                )
                norm.build(shape)
                convs.append(conv)
                norms.append(norm)
            output = keras.layers.Conv2D(
                BRANCH_OUTPUTS[branch],
                1,
                bias_initializer=keras.initializers.Constant(
                    SCORE_PRIOR_BIAS if branch == "ctr" else 0.0
                ),
                dtype=self.dtype_policy,
                name=f"{branch}_output",
            )
            output.build(shape)
            setattr(self, f"{branch}_convs", convs)
            setattr(self, f"{branch}_norms", norms)
            setattr(self, f"{branch}_output", output)

    def _branch(self, branch, features, training):
        x = features
        for conv, norm in zip(
            getattr(self, f"{branch}_convs"), getattr(self, f"{branch}_norms")
        ):
            x = ops.relu(norm(conv(x), training=training))
        return getattr(self, f"{branch}_output")(x)

    def call(self, features, training=None):
        score_map = clipped_sigmoid(self._branch("ctr", features, training))
        offset_map = self._branch("offset", features, training)
        size_map = clipped_sigmoid(self._branch("size", features, training))
        return {
            "score_map": score_map,
            "size_map": size_map,
            "offset_map": offset_map,
            "boxes": decode_boxes(score_map, size_map, offset_map),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "channels": list(self.channels),
                "batch_norm_epsilon": self.batch_norm_epsilon,
            }
        )
        return config
