"""Square context crops around a box, their geometry, and the input normalisation.

The geometry is OSTrack's `sample_target`: a square of side
`ceil(sqrt(w*h) * factor)` centred on the box, zero padding where it leaves the
image, resized bilinearly to the model size. It is shared by the tracker, the
training pipeline and int8 calibration so that all three see the same crops.
"""

import dataclasses
import math

import cv2
import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
GEOMETRY_FIELDS = ("search_size", "template_size", "search_factor", "template_factor")
# A crop side above this many image sides comes from a box far larger than the
# image (a typo, a corrupt annotation): its zero-padded canvas could take
# gigabytes, so `sample_target` refuses it.
MAX_CROP_TO_IMAGE = 32


@dataclasses.dataclass(frozen=True)
class CropGeometry:
    """What a model expects of its crops: their sides and context factors.

    Every part that cuts crops for a network reads them from here: the tracker,
    its engines, exported-file metadata, the training pipeline and calibration.

    Args:
        search_size: int. Search crop side in model pixels.
        template_size: int. Template crop side in model pixels.
        search_factor: float. Search crop side relative to sqrt(w*h).
        template_factor: float. Template crop side relative to sqrt(w*h).

    Example:
    ```python
    geometry = CropGeometry.of(LoReTrack.from_preset("res128", load_weights=False))
    geometry.search_size  # 128
    ```
    """

    search_size: int
    template_size: int
    search_factor: float
    template_factor: float

    def __post_init__(self):
        for name in ("search_size", "template_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        for name in ("search_factor", "template_factor"):
            value = getattr(self, name)
            if isinstance(value, bool) or not math.isfinite(float(value)):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if float(value) <= 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
            object.__setattr__(self, name, float(value))

    @classmethod
    def of(cls, source):
        """The geometry of anything that carries the four attributes.

        Args:
            source: a `LoReTrack` model, an engine, exported-file metadata, a
                `CropGeometry`, or a mapping with the four keys.
        """
        if isinstance(source, cls):
            return source
        if isinstance(source, dict):
            missing = [name for name in GEOMETRY_FIELDS if name not in source]
            if missing:
                raise ValueError(f"Crop geometry is missing {missing}, got {source!r}")
            return cls(**{name: source[name] for name in GEOMETRY_FIELDS})
        missing = [name for name in GEOMETRY_FIELDS if not hasattr(source, name)]
        if missing:
            raise TypeError(
                f"{type(source).__name__} carries no crop geometry (missing {missing})"
            )
        return cls(**{name: getattr(source, name) for name in GEOMETRY_FIELDS})

    def as_dict(self):
        return dataclasses.asdict(self)


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
    side = math.sqrt(w * h) * factor
    if not math.isfinite(side):
        raise ValueError(f"Crop of box {box!r} with factor {factor} is too large")
    crop_size = math.ceil(side)
    if crop_size < 1:
        raise ValueError(f"Crop of box {box!r} with factor {factor} is empty")
    x1 = round(x + 0.5 * w - crop_size * 0.5)
    y1 = round(y + 0.5 * h - crop_size * 0.5)
    return x1, y1, crop_size


def sample_target(image, box, factor, output_size):
    """Crops a square around `box`, pads with black, resizes to `output_size`.

    Matches the official crop pixel for pixel, including its quirk of padding the
    right and bottom edges from column W-1 / row H-1 on. A crop entirely outside
    the image is all black rather than an error. The padded canvas is at most
    `MAX_CROP_TO_IMAGE` image sides wide, so memory stays bounded by the image's.

    Args:
        image: uint8 array (H, W, 3).
        box: x, y, w, h in pixels; w and h must be > 0.
        factor: float. Crop side relative to sqrt(w*h) (5.0 search, 2.0 template).
        output_size: int. Side of the returned crop.

    Returns:
        (crop, resize_factor): uint8 (output_size, output_size, 3) and
        `output_size / crop_size`, the scale from image to crop pixels.

    Raises:
        ValueError: the box is not finite with w, h > 0, or its crop is wider
            than `MAX_CROP_TO_IMAGE` times the image's longer side.
    """
    x1, y1, crop_size = crop_window(box, factor)
    height, width = image.shape[:2]
    if crop_size > MAX_CROP_TO_IMAGE * max(height, width):
        raise ValueError(
            f"Crop of box {list(map(float, box))} with factor {factor:g} is "
            f"{crop_size} px wide, more than {MAX_CROP_TO_IMAGE}x the "
            f"{width}x{height} image: the box is far larger than the image"
        )
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
    """uint8 RGB crops (..., H, W, 3) to float32 ImageNet-normalised inputs.

    Takes numpy arrays, or float32 tensors of any backend (inside a graph too).
    """
    if not hasattr(crops, "dtype") or isinstance(crops, np.ndarray):
        crops = np.asarray(crops, dtype=np.float32)
    return (crops / 255.0 - IMAGENET_MEAN) / IMAGENET_STD


def denormalize(inputs):
    """Normalised float inputs (..., H, W, 3) back to uint8 RGB crops."""
    pixels = (np.asarray(inputs, dtype=np.float32) * IMAGENET_STD + IMAGENET_MEAN) * 255
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
