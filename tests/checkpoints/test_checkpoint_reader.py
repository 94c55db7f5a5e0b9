"""The torch-free checkpoint reader against files written by `torch.save`."""

import collections
import io
import os
import pickle
import pickletools
import sys
import types
import zipfile

import numpy as np
import pytest

from keras_loretrack.checkpoints.torch_reader import (
    CheckpointError,
    StandIn,
    TorchDtype,
    load_torch_checkpoint,
)


class TrainingSettings:
    """Stands for a repository class pickled with a checkpoint (settings, stats)."""

    def __init__(self):
        self.script_name = "ostrack"
        self.batch_size = 32


class EasyDictLike(dict):
    """A dict subclass as training configs use (EasyDict)."""


def _sample_tensors(torch):
    generator = torch.Generator().manual_seed(0)
    big = torch.randn(10, 20, generator=generator)
    table = torch.randn(1, 6, 4, generator=generator)
    return collections.OrderedDict(
        float32=torch.randn(3, 4, generator=generator),
        float16=torch.randn(5, generator=generator).half(),
        bfloat16=torch.randn(2, 3, generator=generator).bfloat16(),
        float64=torch.randn(2, generator=generator).double(),
        int64=torch.arange(6).reshape(2, 3) - 3,
        int32=torch.arange(4, dtype=torch.int32),
        uint8=torch.arange(250, 256, dtype=torch.uint8),
        boolean=torch.tensor([True, False, True]),
        complex64=torch.randn(3, dtype=torch.complex64, generator=generator),
        transposed=table.transpose(1, 2).contiguous().transpose(1, 2),
        view=big[2:5, 3:7],
        row=big[7],
        column=big[:, 11],
        scalar=torch.tensor(3.5),
        empty=torch.zeros(0, 3),
        parameter=torch.nn.Parameter(torch.randn(2, generator=generator)),
        num_batches_tracked=torch.tensor(17),
    )


def _expected(torch, tensor):
    tensor = tensor.detach()
    if tensor.dtype == torch.bfloat16:
        return tensor.float().numpy()
    return tensor.numpy()


def _save(torch, obj, path, zip_format=True):
    torch.save(obj, path, _use_new_zipfile_serialization=zip_format)
    return path


@pytest.mark.torch
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_reads_every_dtype_layout_and_view(tmp_path, zip_format):
    torch = pytest.importorskip("torch")
    tensors = _sample_tensors(torch)
    assert tensors["transposed"].stride() == (24, 1, 6)
    assert tensors["view"].storage_offset() == 43
    # Many storages: the legacy reader must not lose its place in the stream.
    many = [torch.full((i + 1,), float(i)) for i in range(60)]
    obj = {"net": tensors, "epoch": 300, "many": many}
    path = _save(torch, obj, tmp_path / "x.pth", zip_format)

    checkpoint = load_torch_checkpoint(path)

    assert checkpoint["epoch"] == 300
    for i, values in enumerate(checkpoint["many"]):
        np.testing.assert_array_equal(values, np.full(i + 1, float(i), np.float32))
    assert list(checkpoint["net"]) == list(tensors)
    for name, tensor in tensors.items():
        values = checkpoint["net"][name]
        expected = _expected(torch, tensor)
        assert isinstance(values, np.ndarray), name
        assert values.dtype == expected.dtype, name
        assert values.shape == expected.shape, name
        assert values.flags.c_contiguous and values.dtype.isnative, name
        np.testing.assert_array_equal(values, expected, err_msg=name)


@pytest.mark.torch
def test_bfloat16_is_exact_float32(tmp_path):
    torch = pytest.importorskip("torch")
    values = torch.tensor([1.0, -2.5, 3.140625, 1e-20, -3e38, float("inf")])
    path = _save(torch, {"w": values.bfloat16()}, tmp_path / "b.pth")
    loaded = load_torch_checkpoint(path)["w"]
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, values.bfloat16().float().numpy())


@pytest.mark.torch
def test_python_and_numpy_values_and_torch_objects(tmp_path):
    torch = pytest.importorskip("torch")
    obj = {
        "stats": collections.OrderedDict(loss=np.float64(0.25), steps=np.int64(7)),
        "array": np.arange(6, dtype=np.int16).reshape(2, 3),
        "dtype": torch.float16,
        "device": torch.device("cuda", 1),
        "size": torch.Size([2, 3]),
        "misc": [{1, 2}, frozenset({3}), b"bytes", (1.5, None), slice(1, 4)],
    }
    for protocol in (2, 5):
        path = tmp_path / f"p{protocol}.pth"
        torch.save(obj, path, pickle_protocol=protocol)
        loaded = load_torch_checkpoint(path)
        assert loaded["stats"]["loss"] == np.float64(0.25)
        assert isinstance(loaded["stats"]["steps"], np.int64)
        np.testing.assert_array_equal(loaded["array"], obj["array"])
        assert loaded["dtype"] == TorchDtype("float16")
        assert loaded["device"] == "cuda:1"
        assert loaded["size"] == (2, 3)
        assert loaded["misc"] == obj["misc"]


@pytest.mark.torch
def test_repository_classes_become_inert_stand_ins(tmp_path):
    torch = pytest.importorskip("torch")
    config = EasyDictLike(lr=4e-4, epochs=300)
    config.name = "vitb_256"
    obj = {"net": {"w": torch.ones(2)}, "settings": TrainingSettings(), "cfg": config}
    path = _save(torch, obj, tmp_path / "s.pth")

    loaded = load_torch_checkpoint(path)

    settings = loaded["settings"]
    assert isinstance(settings, StandIn)
    assert not isinstance(settings, TrainingSettings)
    assert settings.stand_in_for.endswith(".TrainingSettings")
    assert settings.script_name == "ostrack" and settings.batch_size == 32
    assert loaded["cfg"].items == {"lr": 4e-4, "epochs": 300}
    assert loaded["cfg"].name == "vitb_256"
    assert "StandIn for" in repr(settings)
    with pytest.raises(AttributeError, match="no 'missing'"):
        _ = settings.missing


@pytest.mark.torch
def test_full_training_checkpoint_like_the_release(tmp_path, monkeypatch):
    """`{'net', 'optimizer', 'stats', 'settings', ...}` as OSTrack's trainer saves it,
    with settings and meters of modules that do not exist here."""
    torch = pytest.importorskip("torch")
    settings_module = types.ModuleType("lib.train.admin.settings")
    stats_module = types.ModuleType("lib.train.admin.stats")
    for name, module in (
        ("lib", types.ModuleType("lib")),
        ("lib.train", types.ModuleType("lib.train")),
        ("lib.train.admin", types.ModuleType("lib.train.admin")),
        ("lib.train.admin.settings", settings_module),
        ("lib.train.admin.stats", stats_module),
    ):
        monkeypatch.setitem(sys.modules, name, module)
    settings_module.Settings = type(
        "Settings", (), {"__module__": settings_module.__name__}
    )
    stats_module.AverageMeter = type(
        "AverageMeter", (), {"__module__": stats_module.__name__}
    )
    settings = settings_module.Settings()
    settings.script_name, settings.device = "ostrack", torch.device("cuda", 0)
    settings.cfg = EasyDictLike(MODEL=EasyDictLike(BACKBONE="vit_base_patch16_224_ce"))
    meter = stats_module.AverageMeter()
    meter.avg, meter.count = 0.125, np.int64(60000)
    net = torch.nn.Linear(4, 3)
    optimizer = torch.optim.AdamW(net.parameters(), lr=4e-4)
    net(torch.ones(2, 4)).sum().backward()
    optimizer.step()
    state = {
        "epoch": 300,
        "actor_type": "OSTrackActor",
        "net_type": "OSTrack",
        "net": net.state_dict(),
        "net_info": None,
        "constructor": None,
        "optimizer": optimizer.state_dict(),
        "stats": collections.OrderedDict(train={"Loss/total": meter}),
        "settings": settings,
    }
    path = tmp_path / "OSTrack_ep0300.pth.tar"
    torch.save(state, path)
    for name in ("lib", "lib.train", "lib.train.admin", settings_module.__name__):
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, stats_module.__name__)

    loaded = load_torch_checkpoint(path)

    np.testing.assert_array_equal(loaded["net"]["weight"], net.weight.detach().numpy())
    moments = loaded["optimizer"]["state"][0]["exp_avg"]
    np.testing.assert_array_equal(
        moments, optimizer.state_dict()["state"][0]["exp_avg"]
    )
    assert loaded["optimizer"]["param_groups"][0]["lr"] == 4e-4
    assert loaded["settings"].stand_in_for == "lib.train.admin.settings.Settings"
    assert loaded["settings"].device == "cuda:0"
    assert loaded["settings"].cfg.items["MODEL"].items == {
        "BACKBONE": "vit_base_patch16_224_ce"
    }
    assert loaded["stats"]["train"]["Loss/total"].avg == 0.125
    assert "lib" not in sys.modules


def _swap_zip_to_big_endian(source, target):
    """Rewrites a float32-only zip checkpoint as a big-endian machine writes it."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            if "/data/" in info.filename:
                data = np.frombuffer(data, "<f4").astype(">f4").tobytes()
            elif info.filename.endswith("/byteorder"):
                data = b"big"
            new.writestr(info.filename, data)


def _pickle_end(stream, start):
    for opcode, _, position in pickletools.genops(io.BytesIO(stream[start:])):
        if opcode.name == "STOP":
            return start + position + 1
    raise AssertionError("no STOP opcode")


def _swap_legacy_to_big_endian(source, target):
    """Rewrites a float32-only legacy checkpoint as a big-endian machine writes it."""
    stream = open(source, "rb").read()
    ends = [0]
    for _ in range(5):  # magic, protocol, sys info, object, storage keys
        ends.append(_pickle_end(stream, ends[-1]))
    sys_info = pickle.loads(stream[ends[2] : ends[3]])
    sys_info["little_endian"] = False
    out = stream[: ends[2]] + pickle.dumps(sys_info, protocol=2)
    out += stream[ends[3] : ends[5]]
    position = ends[5]
    while position < len(stream):
        count = int.from_bytes(stream[position : position + 8], "little")
        data = stream[position + 8 : position + 8 + 4 * count]
        out += (
            count.to_bytes(8, "big")
            + np.frombuffer(data, "<f4").astype(">f4").tobytes()
        )
        position += 8 + 4 * count
    open(target, "wb").write(out)


@pytest.mark.torch
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_big_endian_files(tmp_path, zip_format):
    torch = pytest.importorskip("torch")
    tensors = {
        "a": torch.randn(3, 5),
        "t": torch.randn(1, 4, 3).transpose(1, 2).contiguous().transpose(1, 2),
    }
    source = _save(torch, tensors, tmp_path / "little.pth", zip_format)
    target = tmp_path / "big.pth"
    swap = _swap_zip_to_big_endian if zip_format else _swap_legacy_to_big_endian
    swap(source, target)
    assert open(source, "rb").read() != open(target, "rb").read()

    loaded = load_torch_checkpoint(target)

    for name, tensor in tensors.items():
        assert loaded[name].dtype == np.dtype("float32")
        np.testing.assert_array_equal(loaded[name], tensor.numpy())


# Bad inputs: every one must end in a CheckpointError naming the file.


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_torch_checkpoint(tmp_path / "nope.pth")


def test_random_bytes(tmp_path):
    path = tmp_path / "random.pth"
    path.write_bytes(
        np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes()
    )
    with pytest.raises(CheckpointError, match="random.pth: not a PyTorch checkpoint"):
        load_torch_checkpoint(path)


@pytest.mark.parametrize("seed", range(8))
def test_random_bytes_behind_a_pickle_header(tmp_path, seed):
    rng = np.random.default_rng(seed)
    path = tmp_path / "noise.pth"
    path.write_bytes(b"\x80\x02" + rng.integers(0, 256, 2048, np.uint8).tobytes())
    with pytest.raises(CheckpointError, match="noise.pth"):
        load_torch_checkpoint(path)


def test_plain_pickle_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=2))
    with pytest.raises(CheckpointError, match="plain.pkl: .*magic number"):
        load_torch_checkpoint(path)


def test_zip_without_data_pickle(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("folder/readme.txt", "hello")
    with pytest.raises(CheckpointError, match="other.zip: .*without data.pkl"):
        load_torch_checkpoint(path)


@pytest.mark.torch
@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.999])
def test_truncated_zip(tmp_path, fraction):
    torch = pytest.importorskip("torch")
    path = _save(torch, {"net": {"w": torch.randn(64, 64)}}, tmp_path / "cut.pth")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError, match="cut.pth: a damaged or truncated ZIP"):
        load_torch_checkpoint(path)


@pytest.mark.torch
def test_truncated_legacy_file(tmp_path):
    torch = pytest.importorskip("torch")
    path = _save(torch, {"w": torch.randn(64, 64)}, tmp_path / "cut.pth", False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(CheckpointError, match="cut.pth: .*truncated"):
        load_torch_checkpoint(path)


@pytest.mark.torch
def test_storage_shorter_than_its_tensor(tmp_path):
    torch = pytest.importorskip("torch")
    source = _save(torch, {"w": torch.randn(8, 8)}, tmp_path / "ok.pth")
    path = tmp_path / "short.pth"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            new.writestr(
                info.filename, data[:100] if "/data/" in info.filename else data
            )
    with pytest.raises(CheckpointError, match="short.pth: storage .* holds 100 bytes"):
        load_torch_checkpoint(path)


@pytest.mark.torch
def test_top_level_must_be_a_dict(tmp_path):
    torch = pytest.importorskip("torch")
    path = _save(torch, [torch.ones(2)], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="expected a dict .* got list"):
        load_torch_checkpoint(path)


class RunsShell:
    """Unpickling this would run a shell command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def _zip_with_pickle(path, payload):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
    return path


@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_pickle_calling_os_system_is_refused(tmp_path, container):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"net": {"w": RunsShell(f"touch {marker}")}}, protocol=2)
    assert os.system.__module__.encode() in payload
    path = tmp_path / "evil.pth"
    if container == "zip":
        _zip_with_pickle(path, payload)
    else:
        path.write_bytes(payload)
    with pytest.raises(
        CheckpointError,
        match=rf"evil.pth: refused global {os.system.__module__}.system: it could "
        "execute code",
    ):
        load_torch_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "module, name",
    [
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("builtins", "getattr"),
        ("builtins", "__import__"),
        ("__builtin__", "eval"),
        ("os", "system"),
        ("subprocess", "Popen"),
        ("posix", "system"),
        ("importlib", "import_module"),
        ("operator", "attrgetter"),
        ("functools", "partial"),
        ("pickle", "loads"),
    ],
)
def test_code_running_globals_are_refused(tmp_path, module, name):
    # GLOBAL module name, MARK, UNICODE arg, TUPLE, REDUCE, STOP: module.name("...")
    payload = (
        b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"(X\x04\x00\x00\x00id()tR."
    )
    path = _zip_with_pickle(tmp_path / "crafted.pth", payload)
    expected = {"__builtin__": "builtins"}.get(module, module)
    with pytest.raises(CheckpointError, match=rf"refused global {expected}.{name}"):
        load_torch_checkpoint(path)


@pytest.mark.parametrize(
    "module, name", [("torch", "load"), ("numpy", "load"), ("torch._utils", "x")]
)
def test_other_torch_and_numpy_globals_are_unsupported(tmp_path, module, name):
    payload = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R."
    path = _zip_with_pickle(tmp_path / "crafted.pth", payload)
    with pytest.raises(CheckpointError, match=rf"unsupported global {module}.{name}"):
        load_torch_checkpoint(path)
