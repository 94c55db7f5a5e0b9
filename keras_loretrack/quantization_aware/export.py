"""Exports a fine-tuned quantization-aware `LoReTrack` to int8 TFLite and ONNX.

The files are those of `keras_loretrack.export` (same signature, metadata
record, int8 layout, checked in their runtime before they are written), but
the weights and activation ranges are the ones the model trained with instead
of post-training calibration: TFLite `int8-mixed` and ONNX `int8` need no
calibration crops at all, TFLite `int8` only for the tensors outside the
quantization-aware layers. See `tflite_export` and `onnx_export`.
"""

import os
import shutil
import tempfile

from keras_loretrack.atomic_files import atomic_output
from keras_loretrack.export.onnx import convert_saved_model, set_metadata, verify_onnx
from keras_loretrack.export.saved_model import export_saved_model
from keras_loretrack.export.tflite import verify_tflite, write_tflite_metadata
from keras_loretrack.quantization_aware.model import (
    frozen_weights,
    is_quantization_aware,
    quantized_layers,
)
from keras_loretrack.quantization_aware.onnx_export import (
    onnx_quantization,
    quantize_with_ranges,
)
from keras_loretrack.quantization_aware.tflite_export import convert_quantization_aware
from keras_loretrack.tracking.file_metadata import ExportMetadata

QUANTIZATIONS = {"tflite": ("int8-mixed", "int8"), "onnx": ("int8",)}


def parse_export_target(spec):
    """Splits `FORMAT:QUANTIZATION` (e.g. `tflite:int8-mixed`) into a checked pair."""
    fmt, _, quantization = spec.partition(":")
    if quantization not in QUANTIZATIONS.get(fmt, ()):
        choices = [f"{f}:{q}" for f, modes in QUANTIZATIONS.items() for q in modes]
        raise ValueError(f"Export target must be one of {choices}, got {spec!r}")
    return fmt, quantization


def check_export(model, format, quantization, calibration=None):
    """Validates a quantization-aware export request.

    Raises:
        ValueError: an unknown format or mode, a model that is not
            quantization-aware or one with a range that has seen no training
            batch, or TFLite `int8` without calibration crops.
    """
    if format not in QUANTIZATIONS:
        raise ValueError(
            f"Unknown export format {format!r}; expected one of {list(QUANTIZATIONS)}"
        )
    if quantization not in QUANTIZATIONS[format]:
        raise ValueError(
            f"A quantization-aware model exports to {format} as "
            f"{list(QUANTIZATIONS[format])}, got quantization {quantization!r}"
        )
    if not is_quantization_aware(model):
        raise ValueError(
            f"Model {model.name!r} is not quantization-aware; call "
            "quantization_aware(model) and fine-tune it first"
        )
    for path, layer in quantized_layers(model).items():
        for side in ("inputs", "outputs"):
            moving = getattr(layer.quantization, side)
            if moving is not None and not float(moving.batches.numpy()):
                raise ValueError(
                    f"The {side} range of layer {path!r} has seen no training "
                    "batch; fine-tune the model (or set_quantization_ranges) "
                    "before exporting"
                )
    if format == "tflite" and quantization == "int8" and not calibration:
        raise ValueError(
            "TFLite quantization 'int8' needs calibration crops for the tensors "
            "outside the fully-connected and convolution layers (LayerNorm, "
            "softmax, residual sums); got none"
        )


def export_quantization_aware(
    model, path, format="tflite", quantization="int8-mixed", calibration=None, preset=""
):
    """Writes a fine-tuned quantization-aware `LoReTrack` as a file a tracker runs.

    Args:
        model: `LoReTrack` made quantization-aware and fine-tuned.
        path: str. The `.tflite` or `.onnx` file to write (atomically).
        format: str. `tflite` or `onnx`.
        quantization: str. TFLite `int8-mixed` or `int8`; ONNX `int8`.
        calibration: list of {"template", "search"} normalised crop pairs
            (`keras_loretrack.export.calibration`), for TFLite `int8` only.
        preset: str. Recorded in the metadata.

    Returns:
        `ExportMetadata`, the record written into the file; its
        `quantization` reads e.g. `int8-mixed quantization-aware`.

    Raises:
        ValueError: see `check_export`.

    Example:
    ```python
    export_quantization_aware(model, "mini_teacher_qat.tflite")
    tracker = Tracker.from_file("mini_teacher_qat.tflite")
    ```
    """
    check_export(model, format, quantization, calibration)
    path = os.fspath(path)
    metadata = ExportMetadata.from_model(
        model, quantization=f"{quantization} quantization-aware", preset=preset
    )
    workdir = tempfile.mkdtemp(prefix="loretrack-qat-")
    try:
        saved_model_dir = os.path.join(workdir, "saved_model")
        with frozen_weights(model, activations=format == "tflite"):
            export_saved_model(model, saved_model_dir)
            if format == "onnx":
                proto = convert_saved_model(saved_model_dir)
                quantization_plan = onnx_quantization(proto, model)
        if format == "tflite":
            data = convert_quantization_aware(
                saved_model_dir, quantization, calibration
            )
            data = write_tflite_metadata(data, metadata)
            verify_tflite(data, metadata, calibration[0] if calibration else None)
            with atomic_output(path) as tmp, open(tmp, "wb") as f:
                f.write(data)
        else:
            _write_onnx(proto, quantization_plan, metadata, path, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return metadata


def _write_onnx(proto, quantization_plan, metadata, path, workdir):
    import onnx

    float_path = os.path.join(workdir, "float.onnx")
    quantized_path = os.path.join(workdir, "quantized.onnx")
    onnx.save(proto, float_path)
    quantize_with_ranges(float_path, quantized_path, *quantization_plan)
    proto = onnx.load(quantized_path)
    set_metadata(proto, metadata)
    with atomic_output(path) as tmp:
        onnx.save(proto, tmp)
        verify_onnx(tmp, metadata)
