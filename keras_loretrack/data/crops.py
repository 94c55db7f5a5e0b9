"""Square context crops around a box, and the network's input normalisation.

The geometry is OSTrack's `sample_target` (DESIGN §4): a square of side
`ceil(sqrt(w*h) * factor)` centred on the box, zero padding where it leaves the
image, resized bilinearly to the model size. It is shared by the tracker, the
training pipeline and int8 calibration so that all three see the same crops.
"""

import math

import cv2
import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def crop_window(box, factor):
    """The square crop window of a box.

    Args:
        box: sequence of 4 floats. x, y, w, h in pixels.
        factor: float. Crop side relative to sqrt(w*h).

    Returns:
        (x1, y1, crop_size): integer top-left corner and side in image pixels.
    """
    x, y, w, h = (float(v) for v in box)
    if not (np.isfinite([x, y, w, h]).all() and w > 0 and h > 0):
        raise ValueError(f"Crop box must be finite with w > 0 and h > 0, got {box!r}")
    crop_size = math.ceil(math.sqrt(w * h) * factor)
    if crop_size < 1:
        raise ValueError(f"Crop of box {box!r} with factor {factor} is empty")
    x1 = round(x + 0.5 * w - crop_size * 0.5)
    y1 = round(y + 0.5 * h - crop_size * 0.5)
    return x1, y1, crop_size


def sample_target(image, box, factor, output_size):
    """Crops a square around `box`, pads with black, resizes to `output_size`.

    Matches the official crop pixel for pixel, including its quirk of padding the
    right and bottom edges from column W-1 / row H-1 on. A crop entirely outside
    the image is all black rather than an error.

    Args:
        image: uint8 array (H, W, 3).
        box: x, y, w, h in pixels; w and h must be > 0.
        factor: float. Crop side relative to sqrt(w*h) (5.0 search, 2.0 template).
        output_size: int. Side of the returned crop.

    Returns:
        (crop, resize_factor): uint8 (output_size, output_size, 3) and
        `output_size / crop_size`, the scale from image to crop pixels.
    """
    x1, y1, crop_size = crop_window(box, factor)
    height, width = image.shape[:2]
    x2, y2 = x1 + crop_size, y1 + crop_size
    src_x1, src_y1 = max(x1, 0), max(y1, 0)
    src_x2, src_y2 = min(x2, width - 1), min(y2, height - 1)
    if x1 >= 0 and y1 >= 0 and x2 <= width - 1 and y2 <= height - 1:
        canvas = image[y1:y2, x1:x2]
    else:
        canvas = np.zeros((crop_size, crop_size, image.shape[2]), dtype=image.dtype)
        if src_x2 > src_x1 and src_y2 > src_y1:
            canvas[src_y1 - y1 : src_y2 - y1, src_x1 - x1 : src_x2 - x1] = image[
                src_y1:src_y2, src_x1:src_x2
            ]
    if crop_size != output_size:
        canvas = cv2.resize(
            canvas, (output_size, output_size), interpolation=cv2.INTER_LINEAR
        )
    return np.ascontiguousarray(canvas), output_size / crop_size


def normalize(crops):
    """uint8 RGB crops (..., H, W, 3) to float32 ImageNet-normalised inputs."""
    crops = np.asarray(crops, dtype=np.float32)
    return (crops / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
