"""A tiny quantization-aware model whose ranges have seen real crops.

Weights are `randomize_weights` ones (a trained network's scale: Keras'
initial weights have zero biases and unit norms, which hide folding and bias
mistakes). The ranges come from two training-mode passes over 8 crop pairs of
procedural training videos; 8 more pairs are held out for the parity checks.
"""

import numpy as np
import pytest

from tests.presets import TINY_TEST


def tiny_model():
    from keras_loretrack.export import randomize_weights
    from keras_loretrack.models import LoReTrack

    return randomize_weights(LoReTrack.from_preset(TINY_TEST, load_weights=False))


def batch_of(pairs):
    return {k: np.concatenate([p[k] for p in pairs]) for k in ("template", "search")}


@pytest.fixture(scope="session")
def crop_pairs():
    """16 normalised crop pairs of procedural training videos (tiny_test sizes)."""
    pytest.importorskip("skimage")
    from keras_loretrack.export import calibration_samples
    from keras_loretrack.sequences.procedural import procedural_dataset

    videos = procedural_dataset(2, split="train", num_frames=20)
    return calibration_samples(videos, tiny_model(), num_frames=16)


@pytest.fixture(scope="session")
def observed_model(crop_pairs):
    """`tiny_test` made quantization-aware, ranges observed: make(bits, rounding)."""
    from keras_loretrack.quantization_aware import quantization_aware

    models = {}

    def make(weight_bits=8, attention_probabilities=False):
        key = weight_bits, attention_probabilities
        if key not in models:
            model = quantization_aware(
                tiny_model(),
                weight_bits=weight_bits,
                attention_probabilities=attention_probabilities,
            )
            for half in (crop_pairs[:4], crop_pairs[4:8]):
                model(batch_of(half), training=True)
            models[key] = model
        return models[key]

    return make


@pytest.fixture(scope="session")
def check_pairs(crop_pairs):
    """The 8 held-out pairs."""
    return crop_pairs[8:]
