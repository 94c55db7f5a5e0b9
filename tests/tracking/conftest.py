import numpy as np
import pytest

from keras_loretrack.data.crops import CropGeometry
from keras_loretrack.tracking import Engine
from tests.presets import TINY_TEST


class ScriptedEngine(Engine):
    """An engine returning hand-made maps, recording the crops it was given."""

    name = "scripted"

    def __init__(self, score, size, offset, search_size=64, template_size=32):
        self.geometry = CropGeometry(search_size, template_size, 5.0, 2.0)
        self.feature_size = score.shape[0]
        self.score = np.asarray(score, np.float32)
        self.size = np.asarray(size, np.float32)
        self.offset = np.asarray(offset, np.float32)
        self.calls = []

    def __call__(self, template, search):
        self.calls.append((template.copy(), search.copy()))
        return {
            "score_map": self.score[None, :, :, None],
            "size_map": self.size[None],
            "offset_map": self.offset[None],
        }


def peaked_maps(fs, cell, size_wh, offset_xy, peak=0.9, floor=0.1):
    """Maps with one score peak at `cell` = (row, col) and uniform size / offset."""
    score = np.full((fs, fs), floor, np.float32)
    score[cell] = peak
    size = np.broadcast_to(np.float32(size_wh), (fs, fs, 2)).copy()
    offset = np.broadcast_to(np.float32(offset_xy), (fs, fs, 2)).copy()
    return score, size, offset


@pytest.fixture
def make_engine():
    """Builds a `ScriptedEngine` on a 4x4 map peaked at `cell` (or with `score`)."""

    def make(cell=(2, 2), size_wh=(0.2, 0.4), offset_xy=(0.0, 0.0), score=None):
        peaked, size, offset = peaked_maps(4, cell, size_wh, offset_xy)
        return ScriptedEngine(peaked if score is None else score, size, offset)

    return make


@pytest.fixture
def scripted_engine(make_engine):
    """Engine whose score peaks at cell (2, 2) with size (0.2, 0.4), no offset."""
    return make_engine()


@pytest.fixture(scope="session")
def tiny_model():
    from keras_loretrack.models import LoReTrack

    return LoReTrack.from_preset(TINY_TEST, load_weights=False)


@pytest.fixture(scope="session")
def tiny_engine(tiny_model):
    from keras_loretrack.tracking import KerasEngine

    return KerasEngine(tiny_model)
