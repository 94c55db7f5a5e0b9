"""Shared tiny models, calibration crops and exported files for the export tests.

Exports are made once per session (a few seconds each for `tiny_test`).
Weights are seeded random ones of a trained network's scale
(`randomize_weights`): with Keras' initial weights the converters would fold
away the biases, LayerNorm gains and BatchNorm statistics.
"""

import os
import pathlib

import pytest

from tests.presets import TINY_TEST

SEQUENCES_DIR = pathlib.Path(
    os.environ.get(
        "LORETRACK_SEQUENCES",
        pathlib.Path(__file__).resolve().parents[2].parent / "shared/data/sequences",
    )
)

# Largest |exported - Keras| of any map, per format, on tiny_test (maps are in
# about [-0.5, 0.6]). Measured worst cases on 8 held-out real crop pairs:
# float 3e-7; fp16 2e-4; TFLite dynamic 9e-3; TFLite int8 / int8-mixed 5e-2;
# ONNX dynamic 1e-2 (6e-2 with 8-bit weights, see keras_loretrack.export.onnx);
# ONNX int8 5e-2. The bounds leave 2-4x margin.
_TOLERANCES = {
    ("tflite", "none"): 1e-4,
    ("tflite", "fp16"): 2e-3,
    ("tflite", "dynamic"): 3e-2,
    ("tflite", "int8"): 0.1,
    ("tflite", "int8-mixed"): 0.1,
    ("onnx", "none"): 1e-4,
    ("onnx", "dynamic"): 3e-2,
    ("onnx", "int8"): 0.15,
}


@pytest.fixture(scope="session")
def tiny_model():
    from keras_loretrack.export import randomize_weights
    from keras_loretrack.models import LoReTrack

    return randomize_weights(LoReTrack.from_preset(TINY_TEST, load_weights=False))


@pytest.fixture(scope="session")
def calibration_source():
    """The real sequences when present, else procedural videos."""
    if SEQUENCES_DIR.is_dir():
        return str(SEQUENCES_DIR)
    pytest.importorskip("skimage")
    return "procedural"


@pytest.fixture(scope="session")
def crop_pairs(tiny_model, calibration_source):
    """16 real crop pairs: the first 8 calibrate, the last 8 check."""
    from keras_loretrack.export import load_calibration

    return load_calibration(calibration_source, tiny_model, num_frames=16)


@pytest.fixture(scope="session")
def exported(tiny_model, crop_pairs, tmp_path_factory):
    """Exports `tiny_model` once per (format, quantization); returns the path."""
    from keras_loretrack.export import export_onnx, export_tflite

    directory = tmp_path_factory.mktemp("exports")
    paths = {}

    def export(fmt, quantization):
        if (fmt, quantization) not in paths:
            pytest.importorskip("ai_edge_litert" if fmt == "tflite" else "onnxruntime")
            path = os.path.join(directory, f"tiny_{quantization}.{fmt}")
            function = export_tflite if fmt == "tflite" else export_onnx
            function(tiny_model, path, quantization, crop_pairs[:8], preset="tiny_test")
            paths[fmt, quantization] = path
        return paths[fmt, quantization]

    return export


@pytest.fixture(scope="session")
def tolerance():
    """The per-format bound on |exported - Keras| (see `_TOLERANCES`)."""
    return lambda fmt, quantization: _TOLERANCES[fmt, quantization]


@pytest.fixture(scope="session")
def check_pairs(tiny_model, crop_pairs):
    """The 8 held-out crop pairs with the Keras model's maps for each."""
    from keras_loretrack.tracking import KerasEngine

    engine = KerasEngine(tiny_model)
    return [(pair, engine(pair["template"], pair["search"])) for pair in crop_pairs[8:]]
