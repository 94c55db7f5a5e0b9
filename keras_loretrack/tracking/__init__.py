"""The `Tracker` and the engines that run its network."""

# Importing the file engines registers their loaders with `engine_from_file`
# (.tflite; .onnx with ONNX Runtime or OpenVINO); their runtimes load only
# when a file is opened.
from keras_loretrack.tracking import (
    engines,
    litert_engine,
    onnx_engine,
    openvino_engine,
)
from keras_loretrack.tracking.engines import (
    Engine,
    KerasEngine,
    engine_from_file,
    register_file_engine,
    registered_file_extensions,
    registered_runtimes,
)
from keras_loretrack.tracking.tracker import Tracker
