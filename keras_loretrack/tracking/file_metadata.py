"""The record a tracker needs to run an exported file alone, stored inside the file.

An exported `.tflite` or `.onnx` carries one JSON record under the key
`keras_loretrack`: crop sizes and factors, the input normalisation, the tensor
names and how the file was quantised. TFLite keeps it as a named entry of the
flatbuffer's `metadata` list (its bytes in a buffer of the model), ONNX as a
`metadata_props` entry. The exporter (`keras_loretrack.export`) writes it;
`LiteRTEngine` and `OnnxEngine` read it back.
"""

import dataclasses
import json
import struct

from keras_loretrack.data.crops import IMAGENET_MEAN, IMAGENET_STD, CropGeometry
from keras_loretrack.optional import require
from keras_loretrack.tracking.engines import MAP_NAMES
from keras_loretrack.version import __version__

METADATA_KEY = "keras_loretrack"
FORMAT_VERSION = 1
INPUT_NAMES = ("template", "search")
OUTPUT_NAMES = MAP_NAMES


@dataclasses.dataclass(frozen=True)
class ExportMetadata:
    """The record an exported model carries.

    Args:
        search_size: int. Search crop side in model pixels.
        template_size: int. Template crop side in model pixels.
        feature_size: int. Side of the output maps.
        search_factor: float. Search crop side relative to sqrt(w·h).
        template_factor: float. Template crop side relative to sqrt(w·h).
        mean: tuple of 3 floats. Per-channel mean subtracted from RGB / 255.
        std: tuple of 3 floats. Per-channel divisor after the mean.
        quantization: str. How the file was quantised (`none`, `fp16`,
            `dynamic`, `int8`, `int8-mixed`).
        preset: str. The preset (name or directory name) exported.
        inputs: tuple of str. Input tensor names (RGB crops, NHWC, batch 1).
        outputs: tuple of str. Output tensor names.
        io_quantization: dict. For integer input / output tensors of a
            format that does not store their scales (ONNX): tensor name →
            [scale, zero_point].
        producer: str. Package and version that wrote the file.
        format_version: int. Version of this record's layout.
    """

    search_size: int
    template_size: int
    feature_size: int
    search_factor: float
    template_factor: float
    mean: tuple = tuple(round(float(v), 6) for v in IMAGENET_MEAN)
    std: tuple = tuple(round(float(v), 6) for v in IMAGENET_STD)
    quantization: str = "none"
    preset: str = ""
    inputs: tuple = INPUT_NAMES
    outputs: tuple = OUTPUT_NAMES
    io_quantization: dict = dataclasses.field(default_factory=dict)
    producer: str = f"keras_loretrack {__version__}"
    format_version: int = FORMAT_VERSION

    def __post_init__(self):
        for name, value in CropGeometry.of(self).as_dict().items():
            object.__setattr__(self, name, value)
        value = self.feature_size
        if int(value) != value or value <= 0:
            raise ValueError(f"feature_size must be a positive integer, got {value!r}")
        object.__setattr__(self, "feature_size", int(value))
        for name in ("mean", "std"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 3:
                raise ValueError(f"{name} must have 3 channels, got {value!r}")
            object.__setattr__(self, name, value)
        if min(self.std) <= 0:
            raise ValueError(f"std must be positive, got {self.std!r}")
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        io_quantization = {}
        for name, params in dict(self.io_quantization).items():
            scale, zero_point = params
            if not float(scale) > 0:
                raise ValueError(f"Scale of {name!r} must be positive, got {scale!r}")
            io_quantization[str(name)] = [float(scale), int(zero_point)]
        object.__setattr__(self, "io_quantization", io_quantization)

    @classmethod
    def from_model(cls, model, quantization="none", preset=""):
        """The record of a `LoReTrack` model (sizes and factors from the model)."""
        return cls(
            **CropGeometry.of(model).as_dict(),
            feature_size=model.feature_size,
            quantization=quantization,
            preset=preset,
        )

    @property
    def geometry(self):
        """The file's `CropGeometry`."""
        return CropGeometry.of(self)

    def to_json(self):
        """The record as a JSON string."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text, source="model file"):
        """Parses `to_json`'s output.

        Raises:
            ValueError: not JSON, a newer format version, or fields missing.
        """
        try:
            fields = json.loads(text)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"The {METADATA_KEY!r} metadata of {source} is not valid JSON: {error}"
            ) from None
        if not isinstance(fields, dict):
            raise ValueError(
                f"The {METADATA_KEY!r} metadata of {source} must be a JSON object, "
                f"got {type(fields).__name__}"
            )
        version = fields.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(
                f"{source} has metadata format version {version!r}; this "
                f"keras_loretrack reads versions up to {FORMAT_VERSION}"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        required = {
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        }
        missing = sorted(required - set(fields))
        if missing:
            raise ValueError(f"The metadata of {source} lacks {missing}")
        return cls(**{k: v for k, v in fields.items() if k in names})


def missing_metadata_error(path):
    """The error for an exported file without the record."""
    return ValueError(
        f"{path} has no {METADATA_KEY!r} metadata (crop sizes, factors and "
        "normalisation); export it with `loretrack export` or "
        "keras_loretrack.export so a tracker can run from the file alone"
    )


# Bytes 4-8 of every TFLite flatbuffer.
TFLITE_IDENTIFIER = b"TFL3"


def read_tflite_metadata(tflite_bytes, source="TFLite model"):
    """The record stored by `write_tflite_metadata`.

    Args:
        tflite_bytes: bytes-like. The flatbuffer (read lazily: weights are not
            copied).
        source: str. Named in errors.

    Raises:
        ValueError: not a TFLite flatbuffer, or no record, or a malformed one.
    """
    schema = require(
        "ai_edge_litert.schema_py_generated", "export", "Reading a .tflite file"
    )

    if len(tflite_bytes) < 8 or bytes(tflite_bytes[4:8]) != TFLITE_IDENTIFIER:
        raise ValueError(
            f"{source} is not a TFLite model (no {TFLITE_IDENTIFIER.decode()} "
            f"identifier; {len(tflite_bytes)} bytes)"
        )
    try:
        model = schema.Model.GetRootAs(tflite_bytes, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if decode_name(entry.Name()) == METADATA_KEY:
                data = bytes(model.Buffers(entry.Buffer()).DataAsNumpy())
                break
        else:
            raise missing_metadata_error(source)
    except (struct.error, IndexError, TypeError, AttributeError) as error:
        raise ValueError(
            f"{source} is not a valid TFLite model (truncated or corrupt): {error}"
        ) from None
    try:
        record = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{source}: its keras_loretrack record is not text") from None
    return ExportMetadata.from_json(record, source)


def decode_name(name):
    """A flatbuffer string as str."""
    return name.decode("utf-8") if isinstance(name, bytes) else name
