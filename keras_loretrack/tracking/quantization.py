"""Float ↔ int8 / uint8 conversion of a quantised model's input and output tensors."""

import numpy as np


def quantize_array(array, dtype, scale, zero_point):
    """`round(array / scale) + zero_point`, saturated to `dtype`.

    Args:
        array: float array.
        dtype: numpy dtype. The tensor's type; float types just cast.
        scale: float. Real value of one integer step.
        zero_point: int. Integer that represents 0.0.
    """
    dtype = np.dtype(dtype)
    array = np.asarray(array, np.float32)
    if not np.issubdtype(dtype, np.integer):
        return array.astype(dtype)
    info = np.iinfo(dtype)
    values = np.round(array / np.float32(scale)) + zero_point
    return np.clip(values, info.min, info.max).astype(dtype)


def dequantize_array(array, scale, zero_point):
    """`(array - zero_point) · scale` as float32 (float arrays pass through)."""
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.integer):
        return array.astype(np.float32)
    return ((array.astype(np.float32) - zero_point) * np.float32(scale)).astype(
        np.float32
    )


def io_quantization(name, dtype, scales, type_name=None):
    """`(dtype, (scale, zero_point))` of a file's input or output tensor.

    Float tensors get `(1.0, 0)`; integer ones take theirs from `scales` (the
    export record's `io_quantization`), for runtimes whose tensors do not
    carry them (ONNX).

    Args:
        name: str. The tensor's name.
        dtype: numpy dtype. The tensor's type.
        scales: dict. Tensor name → [scale, zero_point].
        type_name: str or None. The runtime's own name of the type, for errors.
    """
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.integer):
        return dtype, (1.0, 0)
    if name not in scales:
        raise ValueError(
            f"Tensor {name!r} is {type_name or dtype} but the metadata gives no "
            "scale and zero point for it (io_quantization)"
        )
    return dtype, tuple(scales[name])
