"""The network as Keras users load it: on the torch backend, and KerasHub style."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from keras_loretrack.models import LoReTrack

REPO = pathlib.Path(__file__).resolve().parents[2]
FORWARD = """
import json, sys
import numpy as np
from keras_loretrack.models import LoReTrack
rng = np.random.default_rng(0)
inputs = {
    "template": rng.normal(size=(1, 32, 32, 3)).astype("float32"),
    "search": rng.normal(size=(1, 64, 64, 3)).astype("float32"),
}
out = LoReTrack.from_preset("mini_student")(inputs)
print(json.dumps({k: np.asarray(v.detach() if hasattr(v, "detach") else v).tolist()
                  for k, v in out.items()}))
"""


def test_torch_backend_matches_tensorflow():
    pytest.importorskip("torch")
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-c", FORWARD],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    torch_out = json.loads(result.stdout.strip().splitlines()[-1])
    rng = np.random.default_rng(0)
    inputs = {
        "template": rng.normal(size=(1, 32, 32, 3)).astype("float32"),
        "search": rng.normal(size=(1, 64, 64, 3)).astype("float32"),
    }
    tf_out = LoReTrack.from_preset("mini_student")(inputs)
    for name, value in tf_out.items():
        np.testing.assert_allclose(
            np.asarray(torch_out[name]), np.asarray(value), atol=1e-4, err_msg=name
        )


def test_backbone_from_preset_is_the_tasks_backbone():
    from keras_loretrack.models import LoReTrackBackbone

    backbone = LoReTrackBackbone.from_preset("mini_student")
    task = LoReTrack.from_preset("mini_student")
    assert isinstance(backbone, LoReTrackBackbone)
    for mine, theirs in zip(backbone.weights, task.backbone.weights):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    resized = LoReTrackBackbone.from_preset("mini_student", search_size=96)
    assert resized.search_size == 96


def test_backbone_preset_round_trip_in_kerashub_layout(tmp_path):
    import json

    from keras_loretrack.models import LoReTrackBackbone

    backbone = LoReTrackBackbone.from_preset("mini_student")
    backbone.save_to_preset(tmp_path / "backbone")
    assert sorted(p.name for p in (tmp_path / "backbone").iterdir()) == [
        "config.json",
        "metadata.json",
        "model.weights.h5",
    ]
    config = json.loads((tmp_path / "backbone" / "config.json").read_text())
    assert config["class_name"] == "LoReTrackBackbone"
    loaded = LoReTrackBackbone.from_preset(tmp_path / "backbone")
    for mine, theirs in zip(loaded.weights, backbone.weights):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    resized = LoReTrackBackbone.from_preset(tmp_path / "backbone", search_size=96)
    assert resized.search_size == 96
    (tmp_path / "backbone" / "config.json").write_text(
        json.dumps({**config, "config": {**config["config"], "num_layers": 0}})
    )
    with pytest.raises(ValueError, match="'num_layers' must be a positive integer"):
        LoReTrackBackbone.from_preset(tmp_path / "backbone")
