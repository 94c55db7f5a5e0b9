"""Export to TFLite and ONNX, with int8 calibration on real crops.

Names load lazily: the engines import `keras_loretrack.export.metadata` without
pulling in the converters (TensorFlow's TFLite converter, tf2onnx, ONNX
Runtime's quantiser), which load when an export runs.
"""

import importlib

FORMATS = ("tflite", "onnx")

_LAZY = {
    "PROCEDURAL": "keras_loretrack.export.calibration",
    "calibration_samples": "keras_loretrack.export.calibration",
    "calibration_sequences": "keras_loretrack.export.calibration",
    "load_calibration": "keras_loretrack.export.calibration",
    "ExportMetadata": "keras_loretrack.export.metadata",
    "METADATA_KEY": "keras_loretrack.export.metadata",
    "read_tflite_metadata": "keras_loretrack.export.metadata",
    "export_onnx": "keras_loretrack.export.onnx",
    "randomize_weights": "keras_loretrack.export.random_weights",
    "export_tflite": "keras_loretrack.export.tflite",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_loretrack.export' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
