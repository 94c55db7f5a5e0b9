"""The lean freeze of a SavedModel gives tf2onnx's graph, names and renames."""

import collections

import pytest

pytest.importorskip("tf2onnx")

from keras_loretrack import LoReTrack  # noqa: E402
from keras_loretrack.export.frozen_graph import frozen_signature  # noqa: E402
from keras_loretrack.export.saved_model import (  # noqa: E402
    SIGNATURE_KEY,
    export_saved_model,
)
from tests.presets import TINY_TEST  # noqa: E402


def test_frozen_signature_matches_tf2onnx_loader(tmp_path):
    from tf2onnx import tf_loader

    saved_model = str(tmp_path / "saved_model")
    export_saved_model(
        LoReTrack.from_preset(TINY_TEST, load_weights=False), saved_model
    )
    ours = frozen_signature(saved_model)
    reference = tf_loader.from_saved_model(
        saved_model,
        None,
        None,
        tag="serve",
        signatures=[SIGNATURE_KEY],
        return_tensors_to_rename=True,
    )
    assert ours[1:] == tuple(reference[1:])
    assert set(ours[3].values()) == {
        "search",
        "template",
        "score_map",
        "size_map",
        "offset_map",
    }
    histogram = collections.Counter(node.op for node in ours[0].node)
    assert histogram == collections.Counter(node.op for node in reference[0].node)
    assert "VarHandleOp" not in histogram and histogram["Const"] > 0
