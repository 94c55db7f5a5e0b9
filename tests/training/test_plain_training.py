import keras
import numpy as np
import pytest

from keras_loretrack import LoReTrack
from keras_loretrack.losses import tracking_loss
from keras_loretrack.training import build_optimizer
from tests.presets import TINY_TEST


def test_loretrack_fits_on_the_tracking_loss(tiny_batch):
    keras.utils.set_random_seed(0)
    model = LoReTrack.from_preset(TINY_TEST, load_weights=False)
    model.compile(
        optimizer=build_optimizer(
            model.backbone.trainable_variables,
            2e-3,
            epochs=20,
            steps_per_epoch=1,
            global_clipnorm=None,
        )
    )
    x, y = tiny_batch()
    history = model.fit(x, y, batch_size=4, epochs=20, verbose=0).history
    assert sorted(history) == ["focal", "giou", "iou", "l1", "loss"]
    for name in ("loss", "focal", "giou", "l1"):
        assert np.all(np.isfinite(history[name])), name
        assert np.mean(history[name][-3:]) < 0.8 * np.mean(history[name][:3]), name
    # The logged total is the weighted sum of the logged terms (one batch/epoch).
    last = {k: v[-1] for k, v in history.items()}
    np.testing.assert_allclose(
        last["loss"], last["focal"] + 2 * last["giou"] + 5 * last["l1"], rtol=1e-5
    )
    result = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    want = tracking_loss(y["box"], model(x, training=False))
    for key in ("loss", "focal", "giou", "l1", "iou"):
        np.testing.assert_allclose(result[key], float(want[key]), rtol=1e-5)


def test_loss_needs_boxes(tiny_batch):
    model = LoReTrack.from_preset(TINY_TEST, load_weights=False)
    x, y = tiny_batch(size=1)
    outputs = model(x)
    with pytest.raises(ValueError, match="needs targets"):
        model.compute_loss(x, None, outputs)
    with pytest.raises(ValueError, match="does not support sample weights"):
        model.compute_loss(x, y, outputs, sample_weight=np.ones(1))
    np.testing.assert_allclose(
        float(model.compute_loss(x, y["box"], outputs)),
        float(tracking_loss(y["box"], outputs)["loss"]),
        rtol=1e-6,
    )
