"""Export to TFLite and ONNX, with int8 calibration on real crops.

The exporter writes the file format the tracking engines read
(`keras_loretrack.tracking.file_metadata`); the converters (TensorFlow's TFLite
converter, tf2onnx, ONNX Runtime's quantiser) load when an export runs.
"""

from keras_loretrack.export.calibration import (
    PROCEDURAL,
    calibration_samples,
    calibration_sequences,
    load_calibration,
)
from keras_loretrack.export.onnx import export_onnx
from keras_loretrack.export.random_weights import randomize_weights
from keras_loretrack.export.tflite import export_tflite
from keras_loretrack.tracking.file_metadata import (
    METADATA_KEY,
    ExportMetadata,
    read_tflite_metadata,
)

FORMATS = ("tflite", "onnx")
