"""A tiny model with trained-scale random weights, and crop pairs with its maps."""

import pytest

from tests.presets import TINY_TEST


@pytest.fixture(scope="session")
def tiny_model():
    from keras_loretrack.export import randomize_weights
    from keras_loretrack.models import LoReTrack

    return randomize_weights(LoReTrack.from_preset(TINY_TEST, load_weights=False))


@pytest.fixture(scope="session")
def check_pairs(tiny_model):
    """4 crop pairs of procedural videos, with the Keras model's maps for each."""
    pytest.importorskip("skimage")
    from keras_loretrack.export import load_calibration
    from keras_loretrack.tracking import KerasEngine

    engine = KerasEngine(tiny_model)
    pairs = load_calibration("procedural", tiny_model, num_frames=4)
    return [(pair, engine(pair["template"], pair["search"])) for pair in pairs]
