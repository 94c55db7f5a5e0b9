"""The names of the engines the bench compares; importing this loads no runtime."""

# engine → (runtime, quantisation)
ENGINES = {
    "keras": ("keras", None),
    "tflite-fp32": ("tflite", "none"),
    "tflite-fp16": ("tflite", "fp16"),
    "tflite-dynamic": ("tflite", "dynamic"),
    "tflite-int8": ("tflite", "int8"),
    "tflite-int8-mixed": ("tflite", "int8-mixed"),
    "onnx": ("onnx", "none"),
    "onnx-dynamic": ("onnx", "dynamic"),
    "onnx-int8": ("onnx", "int8"),
    "onnx-int8-unfused": ("onnx", "int8"),
    "onnx-dynamic-8bit": ("onnx", "dynamic"),
    "onnx-int8-8bit": ("onnx", "int8"),
    "openvino": ("openvino", "none"),
    "openvino-int8": ("openvino", "int8"),
    "openvino-int8-bf16": ("openvino", "int8"),
    "torch-fp32": ("torch", None),
    "torch-int8": ("torch", "dynamic"),
}
# Engines that run another engine's exported file (OpenVINO reads the .onnx).
SHARED_FILES = {
    "openvino": "onnx",
    "openvino-int8": "onnx-int8",
    "openvino-int8-bf16": "onnx-int8",
}
# OpenVINO's precision for the ops that are not quantised (default "f32").
OPENVINO_PRECISIONS = {"openvino-int8-bf16": "bf16"}
DEFAULT_ENGINES = (
    "keras,tflite-fp32,tflite-fp16,tflite-dynamic,tflite-int8,tflite-int8-mixed,"
    "onnx,onnx-int8,torch-fp32,torch-int8"
)
# The engine every other one is compared with.
REFERENCE = "keras"
