"""Read PyTorch checkpoint files (`torch.save`) without PyTorch.

Two container formats exist. Since torch 1.6 a checkpoint is a ZIP archive whose single
root folder holds `data.pkl` (the pickled object), `data/<key>` (one raw storage per
key) and, since torch 2.1, `byteorder`. Older files are a stream of pickles: the magic
number, the protocol version, a sys-info dict, the object, the sorted list of storage
keys, then each storage as an int64 element count followed by its raw bytes.

Tensors are pickled as calls to `torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, ...)` whose storage comes from a persistent id `('storage', StorageType, key,
location, numel)`. Here those calls build NumPy arrays (copies, C-ordered, native byte
order) honouring the offset and strides, so transposed tables and views into a larger
storage come back right. bfloat16 tensors come back as float32 (exactly).

The unpickler is restricted: it resolves the few globals a checkpoint needs (tensor
rebuilders, storage types, `OrderedDict`, NumPy scalars and arrays, plain builtin
types) to safe local implementations. A global from the standard library, `torch`
or `numpy` outside that list is refused with a `CheckpointError` naming it, because it
could run code (`os.system`, `builtins.eval`, ...). Globals from any other module
(training settings, statistics, repository classes) are never imported: they become
`StandIn` objects that only record what the pickle gave them.
"""

import builtins
import io
import os
import pickle
import struct
import sys
import zipfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

# torch dtype name -> NumPy dtype code ("bf16" is handled by bit shifting).
TORCH_DTYPES = {
    "float32": "f4",
    "float64": "f8",
    "float16": "f2",
    "bfloat16": "bf16",
    "int64": "i8",
    "int32": "i4",
    "int16": "i2",
    "int8": "i1",
    "uint8": "u1",
    "uint16": "u2",
    "uint32": "u4",
    "uint64": "u8",
    "bool": "?",
    "complex64": "c8",
    "complex128": "c16",
}
_DTYPE_ALIASES = {
    "float": "float32",
    "double": "float64",
    "half": "float16",
    "long": "int64",
    "int": "int32",
    "short": "int16",
    "cfloat": "complex64",
    "cdouble": "complex128",
}
_STORAGE_DTYPES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "UntypedStorage": "uint8",
}
# Python 2 module names that protocol-2 pickles still carry.
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
_SAFE_BUILTINS = (
    "object",
    "set",
    "frozenset",
    "slice",
    "complex",
    "bytearray",
    "bytes",
    "tuple",
    "list",
    "dict",
    "int",
    "float",
    "str",
    "bool",
    "range",
)
# The most items an allowed call may create from a number in the pickle (`range`,
# `bytes(n)`): a checkpoint's own data arrives as bytes in the file, so this bounds
# only what a crafted file could allocate from a few bytes.
MAX_CONSTRUCTED_ITEMS = 1 << 20


def _bounded_range(*args):
    numbers = range(*args)
    if len(numbers) > MAX_CONSTRUCTED_ITEMS:
        raise CheckpointError(
            f"it asks for range{args} ({len(numbers)} items, more than "
            f"{MAX_CONSTRUCTED_ITEMS}): refusing what a crafted file would allocate"
        )
    return numbers


def _bounded_sized(kind):
    def construct(*args):
        if args and isinstance(args[0], int) and args[0] > MAX_CONSTRUCTED_ITEMS:
            raise CheckpointError(
                f"it asks for {kind.__name__}({args[0]}), more than "
                f"{MAX_CONSTRUCTED_ITEMS} bytes: refusing what a crafted file would "
                "allocate"
            )
        return kind(*args)

    return construct


# Plain-data classes of the standard library that training scripts pickle; they are
# read as stand-ins rather than refused.
_INERT_STDLIB_GLOBALS = {
    ("argparse", "Namespace"),
    ("datetime", "datetime"),
    ("datetime", "date"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("decimal", "Decimal"),
    ("fractions", "Fraction"),
    ("pathlib", "Path"),
    ("pathlib", "PosixPath"),
    ("pathlib", "WindowsPath"),
    ("pathlib", "PurePosixPath"),
    ("pathlib", "PureWindowsPath"),
    ("uuid", "UUID"),
}
_CODEC_NAMES = {"latin1", "latin-1", "iso-8859-1", "ascii", "utf-8", "utf8"}
_READ_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    UnicodeDecodeError,
    struct.error,
    zipfile.BadZipFile,
    zlib.error,
    RecursionError,
    MemoryError,
)


class CheckpointError(ValueError):
    """A file is not a readable PyTorch checkpoint, or does not fit a model."""


@dataclass(frozen=True)
class TorchDtype:
    """A `torch.<dtype>` object found in a checkpoint (e.g. in pickled settings).

    Args:
        name: str. Canonical dtype name, e.g. `"float32"`.
    """

    name: str

    def __repr__(self):
        return f"torch.{self.name}"


@dataclass(frozen=True)
class _StorageType:
    name: str
    dtype: str


@dataclass(frozen=True)
class _TensorClass:
    name: str


class _Storage:
    """Raw bytes of one torch storage; `data` is None while only the layout is read."""

    def __init__(self, data, byteorder, dtype_name="uint8"):
        self.data = data
        self.byteorder = byteorder
        self.dtype_name = dtype_name

    def typed(self, dtype_name):
        return _Storage(self.data, self.byteorder, dtype_name)

    def sliced(self, start, stop):
        data = None if self.data is None else self.data[start:stop]
        return _Storage(data, self.byteorder, self.dtype_name)


class _Placeholder:
    """What a tensor is while a legacy file's storages have not been read yet."""


class StandIn:
    """An inert object in place of a class that the reader does not import.

    Nothing of the original class runs: the stand-in records what the pickle passes.
    Attribute reads fall back to the pickled state when it is a dict, so
    `checkpoint["settings"].script_name` works as it did on the original object.

    Attributes:
        stand_in_for: str. `module.name` of the original global.
        args: tuple. Positional arguments the pickle called the class with.
        kwargs: dict. Keyword arguments the pickle called the class with.
        state: object. The state the pickle set (usually the attribute dict), or None.
        items: dict. Items set on it (for classes deriving from dict).
        elements: list. Items appended to it (for classes deriving from list).
    """

    stand_in_for = ""

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        obj.args = args
        obj.kwargs = kwargs
        obj.state = None
        obj.items = {}
        obj.elements = []
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        self.items[key] = value

    def append(self, value):
        self.elements.append(value)

    def extend(self, values):
        self.elements.extend(values)

    def __getattr__(self, name):
        state = self.__dict__.get("state")
        if isinstance(state, tuple) and state and isinstance(state[0], dict):
            state = state[0]
        if isinstance(state, dict) and name in state:
            return state[name]
        raise AttributeError(f"stand-in for {self.stand_in_for} has no {name!r}")

    def __repr__(self):
        return f"<StandIn for {self.stand_in_for}>"


def _numpy_dtype(dtype_name, byteorder):
    code = TORCH_DTYPES[dtype_name]
    dtype = np.dtype("u2" if code == "bf16" else code)
    return dtype.newbyteorder(byteorder) if dtype.itemsize > 1 else dtype


def _element_size(dtype_name):
    return _numpy_dtype(dtype_name, "<").itemsize


def _as_int_tuple(value, what):
    if not isinstance(value, (tuple, list)) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise CheckpointError(f"tensor {what} must be a tuple of ints, got {value!r}")
    return tuple(value)


def _tensor_from_storage(storage, dtype_name, offset, size, stride):
    """Copy a strided tensor out of a storage into a C-ordered native NumPy array."""
    if storage.data is None:
        return _Placeholder()
    size = _as_int_tuple(size, "size")
    stride = _as_int_tuple(stride, "stride")
    if len(size) != len(stride):
        raise CheckpointError(f"tensor size {size} and stride {stride} differ in rank")
    if not isinstance(offset, int) or offset < 0 or min(size + stride, default=0) < 0:
        raise CheckpointError(
            f"tensor offset {offset!r}, size {size} and stride {stride} must be >= 0"
        )
    dtype = _numpy_dtype(dtype_name, storage.byteorder)
    count = len(storage.data) // dtype.itemsize
    if 0 in size:
        values = np.zeros(size, dtype.newbyteorder("="))
    else:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= count:
            raise CheckpointError(
                f"tensor (offset {offset}, size {size}, stride {stride}) reads element "
                f"{last} of a storage holding {count} {dtype_name} values"
            )
        flat = np.frombuffer(storage.data, dtype=dtype, count=count)
        view = np.lib.stride_tricks.as_strided(
            flat[offset:],
            shape=size,
            strides=tuple(s * dtype.itemsize for s in stride),
            writeable=False,
        )
        values = view.astype(dtype.newbyteorder("="), order="C")
    if TORCH_DTYPES[dtype_name] == "bf16":
        values = (values.astype(np.uint32) << 16).view(np.float32)
    return values


class _CheckpointUnpickler(pickle.Unpickler):
    """Unpickler resolving only the globals a checkpoint needs.

    Args:
        file: binary file. The pickle stream.
        path: str. The checkpoint path, for error messages.
        storage_loader: callable or None. `(key, dtype_name, numel) -> _Storage`;
            None for the side pickles of the legacy format, which hold no tensors.
    """

    def __init__(self, file, path, storage_loader=None):
        super().__init__(file, encoding="utf-8")
        self.path = path
        self.storage_loader = storage_loader
        self.storages = {}
        self.stand_ins = {}
        self.safe_globals = self._safe_globals()

    def _safe_globals(self):
        table = {("collections", "OrderedDict"): OrderedDict}
        table[("collections", "defaultdict")] = self._plain_dict
        for name in _SAFE_BUILTINS:
            table[("builtins", name)] = getattr(builtins, name)
        # The only allowed calls that turn a few pickle bytes into a large object.
        table[("builtins", "range")] = _bounded_range
        table[("builtins", "bytes")] = _bounded_sized(bytes)
        table[("builtins", "bytearray")] = _bounded_sized(bytearray)
        table[("copyreg", "_reconstructor")] = self._reconstructor
        table[("_codecs", "encode")] = self._encode
        for module in ("numpy.core", "numpy._core"):
            table[(f"{module}.multiarray", "scalar")] = self._numpy_scalar
            table[(f"{module}.multiarray", "_reconstruct")] = self._numpy_reconstruct
            table[(f"{module}.numeric", "_frombuffer")] = self._numpy_frombuffer
        table[("numpy", "dtype")] = np.dtype
        table[("numpy", "ndarray")] = np.ndarray
        table[("torch._utils", "_rebuild_tensor")] = self._rebuild_tensor
        table[("torch._utils", "_rebuild_tensor_v2")] = self._rebuild_tensor_v2
        table[("torch._utils", "_rebuild_tensor_v3")] = self._rebuild_tensor_v3
        table[("torch._utils", "_rebuild_parameter")] = self._rebuild_parameter
        table[("torch._utils", "_rebuild_parameter_with_state")] = (
            self._rebuild_parameter
        )
        table[("torch._tensor", "_rebuild_from_type_v2")] = self._rebuild_from_type
        table[("torch", "Tensor")] = _TensorClass("torch.Tensor")
        table[("torch.nn.parameter", "Parameter")] = _TensorClass("Parameter")
        table[("torch", "Size")] = self._size
        table[("torch", "device")] = self._device
        for name in list(TORCH_DTYPES) + list(_DTYPE_ALIASES):
            table[("torch", name)] = TorchDtype(_DTYPE_ALIASES.get(name, name))
        for name, dtype in _STORAGE_DTYPES.items():
            table[("torch", name)] = _StorageType(name, dtype)
            table[("torch.cuda", name)] = _StorageType(name, dtype)
        table[("torch.storage", "UntypedStorage")] = _StorageType(
            "UntypedStorage", "uint8"
        )
        return table

    def find_class(self, module, name):
        module = _PY2_MODULES.get(module, module)
        key = (module, name)
        if key in self.safe_globals:
            return self.safe_globals[key]
        top = module.split(".")[0]
        if key in _INERT_STDLIB_GLOBALS or module.startswith("torch.nn.modules"):
            return self._stand_in(module, name)
        if top in ("torch", "numpy"):
            raise CheckpointError(
                f"{self.path}: unsupported global {module}.{name}: this reader "
                "rebuilds dense tensors, NumPy values and plain containers only"
            )
        if top in sys.stdlib_module_names:
            raise CheckpointError(
                f"{self.path}: refused global {module}.{name}: it could execute code; "
                "a checkpoint needs only tensors, containers and plain objects"
            )
        return self._stand_in(module, name)

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid:
            raise CheckpointError(f"{self.path}: unknown persistent id {pid!r}")
        kind = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if kind == "module":
            return pid[1]
        if kind != "storage" or len(pid) not in (5, 6):
            raise CheckpointError(f"{self.path}: unknown persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(
                f"{self.path}: persistent id names storage type {storage_type!r}"
            )
        if self.storage_loader is None:
            raise CheckpointError(f"{self.path}: a storage outside the main pickle")
        key = key.decode("ascii") if isinstance(key, bytes) else str(key)
        if key not in self.storages:
            self.storages[key] = self.storage_loader(key, storage_type.dtype, numel)
        storage = self.storages[key]
        if view is not None:
            view_key, view_offset, view_size = view
            if view_key not in self.storages:
                itemsize = _element_size(storage_type.dtype)
                start = view_offset * itemsize
                stop = start + view_size * itemsize
                self.storages[view_key] = storage.sliced(start, stop)
            storage = self.storages[view_key]
        return storage.typed(storage_type.dtype)

    def _stand_in(self, module, name):
        key = (module, name)
        if key not in self.stand_ins:
            attributes = {
                "stand_in_for": f"{module}.{name}",
                "__module__": module,
                "__qualname__": name,
            }
            self.stand_ins[key] = type(name, (StandIn,), attributes)
        return self.stand_ins[key]

    def _tensor(self, storage, offset, size, stride, dtype_name):
        if not isinstance(storage, _Storage):
            raise CheckpointError(f"{self.path}: a tensor without a storage")
        return _tensor_from_storage(storage, dtype_name, offset, size, stride)

    def _rebuild_tensor(self, storage, offset, size, stride):
        return self._tensor(storage, offset, size, stride, storage.dtype_name)

    def _rebuild_tensor_v2(
        self, storage, offset, size, stride, _grad=False, _hooks=None, metadata=None
    ):
        values = self._tensor(storage, offset, size, stride, storage.dtype_name)
        return self._apply_metadata(values, metadata)

    def _rebuild_tensor_v3(
        self, storage, offset, size, stride, _grad, _hooks, dtype, metadata=None
    ):
        if not isinstance(dtype, TorchDtype) or dtype.name not in TORCH_DTYPES:
            raise CheckpointError(f"{self.path}: unsupported tensor dtype {dtype!r}")
        values = self._tensor(storage, offset, size, stride, dtype.name)
        return self._apply_metadata(values, metadata)

    @staticmethod
    def _apply_metadata(values, metadata):
        if isinstance(values, _Placeholder) or not isinstance(metadata, dict):
            return values
        if metadata.get("conj"):
            values = np.conj(values)
        if metadata.get("neg"):
            values = np.negative(values)
        return values

    @staticmethod
    def _rebuild_parameter(data, *_grad_hooks_state):
        return data

    def _rebuild_from_type(self, func, new_type, args, _state):
        if not isinstance(new_type, _TensorClass):
            raise CheckpointError(
                f"{self.path}: refused tensor subclass {new_type!r}: only torch.Tensor "
                "and Parameter are read"
            )
        rebuilders = (
            self._rebuild_tensor,
            self._rebuild_tensor_v2,
            self._rebuild_tensor_v3,
            self._rebuild_parameter,
        )
        if func not in rebuilders:
            raise CheckpointError(f"{self.path}: refused tensor rebuild {func!r}")
        return func(*args)

    def _reconstructor(self, cls, base, state):
        if isinstance(cls, type) and issubclass(cls, StandIn):
            return cls(*(() if state is None else (state,)))
        if cls is OrderedDict and base is dict:
            return OrderedDict()
        raise CheckpointError(
            f"{self.path}: refused copyreg._reconstructor({cls!r}, {base!r})"
        )

    def _encode(self, text, encoding="utf-8"):
        if not isinstance(text, str) or encoding.lower() not in _CODEC_NAMES:
            raise CheckpointError(
                f"{self.path}: refused _codecs.encode(..., {encoding!r})"
            )
        return text.encode(encoding)

    @staticmethod
    def _plain_dict(*_factory):
        return {}

    @staticmethod
    def _numpy_scalar(dtype, data=None):
        dtype = np.dtype(dtype)
        if dtype.hasobject:
            return data
        return np.frombuffer(bytes(data), dtype=dtype, count=1)[0]

    def _numpy_reconstruct(self, subtype, shape, dtype_code):
        if subtype is not np.ndarray:
            raise CheckpointError(f"{self.path}: refused array subclass {subtype!r}")
        return np.ndarray.__new__(np.ndarray, shape, dtype_code)

    @staticmethod
    def _numpy_frombuffer(buffer, dtype, shape, order):
        values = np.frombuffer(bytes(buffer), dtype=np.dtype(dtype))
        return values.reshape(shape, order=order).copy()

    @staticmethod
    def _size(dims=()):
        return tuple(dims)

    @staticmethod
    def _device(kind, index=None):
        return str(kind) if index is None else f"{kind}:{index}"


def _load_zip(path):
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        pickles = sorted(n for n in names if n == "data.pkl" or n.endswith("/data.pkl"))
        if not pickles:
            raise CheckpointError(
                f"{path}: a ZIP archive without data.pkl, not a torch.save file"
            )
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = "<"
        if prefix + "byteorder" in names:
            mark = archive.read(prefix + "byteorder")
            if mark not in (b"little", b"big"):
                raise CheckpointError(f"{path}: unknown byteorder record {mark!r}")
            byteorder = "<" if mark == b"little" else ">"

        def load_storage(key, dtype_name, numel):
            name = f"{prefix}data/{key}"
            if name not in names:
                raise CheckpointError(f"{path}: storage record {name!r} is missing")
            data = archive.read(name)
            nbytes = numel * _element_size(dtype_name)
            if len(data) < nbytes:
                raise CheckpointError(
                    f"{path}: storage {name!r} holds {len(data)} bytes, "
                    f"expected {nbytes}"
                )
            return _Storage(data, byteorder)

        stream = io.BytesIO(archive.read(pickles[0]))
        return _CheckpointUnpickler(stream, path, load_storage).load()


def _load_legacy(path):
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        magic = _CheckpointUnpickler(file, path).load()
        if magic != MAGIC_NUMBER:
            raise CheckpointError(
                f"{path}: a pickle without torch.save's magic number, not a checkpoint"
            )
        protocol = _CheckpointUnpickler(file, path).load()
        if protocol != LEGACY_PROTOCOL_VERSION:
            raise CheckpointError(
                f"{path}: legacy protocol version {protocol!r}, expected "
                f"{LEGACY_PROTOCOL_VERSION}"
            )
        sys_info = _CheckpointUnpickler(file, path).load()
        if not isinstance(sys_info, dict):
            raise CheckpointError(f"{path}: sys info must be a dict, got {sys_info!r}")
        byteorder = "<" if sys_info.get("little_endian", True) else ">"
        start = file.tell()

        dtypes = {}

        def record_storage(key, dtype_name, numel):
            dtypes.setdefault(key, dtype_name)
            return _Storage(None, byteorder)

        _CheckpointUnpickler(file, path, record_storage).load()
        end = file.tell()
        keys = _CheckpointUnpickler(file, path).load()
        if not isinstance(keys, list) or set(map(str, keys)) != set(dtypes):
            raise CheckpointError(
                f"{path}: storage key list {keys!r} does not match the tensors"
            )
        locations = {}
        for key in map(str, keys):
            header = file.read(8)
            count = int.from_bytes(header, "little" if byteorder == "<" else "big")
            nbytes = count * _element_size(dtypes[key])
            if len(header) < 8 or file.tell() + nbytes > size:
                raise CheckpointError(
                    f"{path}: storage {key!r} ({nbytes} bytes) runs past the end of "
                    f"the file ({size} bytes): truncated"
                )
            locations[key] = (file.tell(), nbytes)
            file.seek(nbytes, os.SEEK_CUR)

        def read_storage(key, dtype_name, numel):
            offset, nbytes = locations[key]
            file.seek(offset)
            data = file.read(nbytes)
            return _Storage(data, byteorder)

        file.seek(start)
        stream = io.BytesIO(file.read(end - start))
        return _CheckpointUnpickler(stream, path, read_storage).load()


def load_torch_checkpoint(path):
    """Read a `torch.save` file into Python objects with NumPy arrays for tensors.

    Args:
        path: str or path-like. A checkpoint in the ZIP format (torch >= 1.6) or the
            legacy format.

    Returns:
        The saved dict (e.g. `{"net": state_dict, "epoch": ...}`), every tensor a
        NumPy array in native byte order.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is damaged, is not a checkpoint, or asks for a
            global that could run code.

    Example:
    ```python
    checkpoint = load_torch_checkpoint("OSTrack_ep0300.pth.tar")
    checkpoint["net"]["backbone.pos_embed_x"].shape  # (1, 256, 768)
    ```
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path!r}")
    with open(path, "rb") as file:
        head = file.read(512)
    try:
        if head.startswith(b"PK"):
            result = _load_zip(path)
        elif head.startswith(b"\x80"):
            result = _load_legacy(path)
        elif head[257:262] == b"ustar":
            raise CheckpointError(
                f"{path}: a tar-format checkpoint (PyTorch < 0.4) is not supported; "
                "re-save it with a recent torch"
            )
        else:
            raise CheckpointError(
                f"{path}: not a PyTorch checkpoint: neither a ZIP archive (torch >= "
                f"1.6) nor a legacy pickle stream; it starts with {head[:8]!r}"
            )
    except CheckpointError as error:
        if str(error).startswith(path):
            raise
        raise CheckpointError(f"{path}: {error}") from None
    except zipfile.BadZipFile as error:
        raise CheckpointError(
            f"{path}: a damaged or truncated ZIP checkpoint ({error})"
        ) from None
    except _READ_ERRORS as error:
        raise CheckpointError(
            f"{path}: damaged, truncated or not a checkpoint "
            f"({type(error).__name__}: {error})"
        ) from None
    if not isinstance(result, dict):
        raise CheckpointError(
            f"{path}: expected a dict at the top of the checkpoint, got "
            f"{type(result).__name__}"
        )
    return result
