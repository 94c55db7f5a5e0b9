"""The shipped `mini_teacher` / `mini_student` weights load and track.

`mini_student` comes from recipes/miniature_replication.py as of commit
36b6841 (its first budget); `mini_teacher` is that budget's teacher fine-tuned
on wide-aspect, small-target procedural videos and photo pairs
(recipes/train_teacher.py). On procedural test clips 0-2 (60 frames) random
weights score about 7.6 SUC, the shipped teacher 68.7 and the shipped
student 53.2; both are asserted above `SUC_FLOOR`, well below those and far
above random weights. On the three real sequences the teacher scores 31.0,
asserted above `REAL_SUC_FLOOR`.
"""

import os

import keras
import numpy as np
import pytest

from keras_loretrack.evaluation.metrics import (
    sequence_curves,
    sequence_errors,
    summarize,
)
from keras_loretrack.evaluation.runner import track_sequence
from keras_loretrack.models import LoReTrack
from keras_loretrack.models.preset_io import PACKAGED_PRESETS_DIR
from keras_loretrack.sequences.procedural import procedural_dataset
from keras_loretrack.tracking import Tracker

SHIPPED = ("mini_teacher", "mini_student")
SUC_FLOOR = 25.0
REAL_SUC_FLOOR = 25.0
RANDOM_CEILING = 12.0
MAX_PRESET_BYTES = 8 * 2**20


@pytest.fixture(scope="module")
def clips():
    return procedural_dataset(3, split="test", num_frames=60)


def mean_suc(tracker, sequences):
    scores = []
    for sequence in sequences:
        boxes = track_sequence(tracker, sequence)["boxes"]
        errors = sequence_errors(boxes, sequence.ground_truth, sequence.visible)
        scores.append(summarize([sequence_curves(errors)])["auc"])
    return float(np.mean(scores))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_folder(name):
    folder = os.path.join(PACKAGED_PRESETS_DIR, name)
    assert sorted(os.listdir(folder)) == [
        "config.json",
        "metadata.json",
        "model.weights.h5",
    ]
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    assert size < MAX_PRESET_BYTES


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_load(name):
    trained = LoReTrack.from_preset(name)
    keras.utils.set_random_seed(0)
    fresh = LoReTrack.from_preset(name, load_weights=False)
    assert trained.count_params() == fresh.count_params()
    differ = [
        not np.array_equal(a, b)
        for a, b in zip(trained.get_weights(), fresh.get_weights())
    ]
    assert sum(differ) > len(differ) // 2


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_tracks_above_floor(name, clips):
    trained = mean_suc(Tracker.from_preset(name), clips)
    keras.utils.set_random_seed(0)
    random = mean_suc(Tracker.from_preset(name, load_weights=False), clips)
    assert random < RANDOM_CEILING
    assert trained > SUC_FLOOR
    assert trained - random > SUC_FLOOR - RANDOM_CEILING


def test_shipped_teacher_follows_real_targets(sequences_dir):
    from keras_loretrack.sequences import get_dataset

    sequences = [s.in_memory() for s in get_dataset("folder", str(sequences_dir))]
    assert [s.name for s in sequences] == ["Crossing", "bag", "wakeboard7"]
    assert mean_suc(Tracker.from_preset("mini_teacher"), sequences) > REAL_SUC_FLOOR
