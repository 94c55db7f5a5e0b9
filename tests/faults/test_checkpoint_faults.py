"""A crafted checkpoint cannot make the reader allocate from a few bytes."""

import pickle
import zipfile

import pytest

from keras_loretrack.checkpoints import CheckpointError, load_torch_checkpoint


def crafted(path, payload):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
    return path


class Expands:
    """Pickles as `kind(argument)`: a few bytes that ask for a big object."""

    def __init__(self, kind, argument):
        self.kind, self.argument = kind, argument

    def __reduce__(self):
        return self.kind, (self.argument,)


@pytest.mark.parametrize(
    "obj, message",
    [
        (Expands(list, range(10**7)), r"range\(0, 10000000, 1\) \(10000000 items"),
        (Expands(set, range(0, 10**9, 3)), r"items, more than 1048576"),
        (Expands(bytes, 10**10), r"bytes\(10000000000\), more than 1048576 bytes"),
        (Expands(bytearray, 10**9), r"bytearray\(1000000000\)"),
    ],
)
def test_expanding_calls_are_refused(tmp_path, obj, message):
    # Protocol 4 names `builtins.range` (protocol 2 names `__builtin__.xrange`,
    # refused as any unknown global).
    payload = pickle.dumps({"net": {"w": obj}}, protocol=4)
    assert len(payload) < 200
    path = crafted(tmp_path / "expands.pth", payload)
    with pytest.raises(CheckpointError, match=message) as error:
        load_torch_checkpoint(path)
    assert "expands.pth" in str(error.value)


def test_small_constructions_still_load(tmp_path):
    payload = pickle.dumps(
        {"net": {}, "ranges": list(range(5)), "raw": bytes(8)}, protocol=4
    )
    path = crafted(tmp_path / "small.pth", payload)
    assert load_torch_checkpoint(path)["raw"] == bytes(8)
