"""Presets under faults: nothing a user had is destroyed; configs and weights agree."""

import errno
import json
import os
import shutil

import pytest

from keras_loretrack.cli.main import main
from keras_loretrack.models import LoReTrack, preset_io
from tests.presets import TINY_TEST


def snapshot(folder):
    """Every file under `folder` with its bytes."""
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, folder)] = f.read()
    return files


@pytest.fixture(scope="module")
def model():
    return LoReTrack.from_preset(TINY_TEST, load_weights=False)


@pytest.fixture
def saved(model, tmp_path):
    folder = tmp_path / "preset"
    model.save_to_preset(folder)
    return folder


def edit_config(folder, change):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    change(config["config"]["backbone"]["config"])
    path.write_text(json.dumps(config))
    return path


def test_a_folder_with_other_files_is_refused_and_kept(model, tmp_path):
    folder = tmp_path / "results"
    (folder / "sub").mkdir(parents=True)
    (folder / "results.txt").write_text("x")
    before = snapshot(folder)
    with pytest.raises(
        FileExistsError, match=r"not part of a preset \(results\.txt, sub\)"
    ):
        model.save_to_preset(folder)
    assert snapshot(folder) == before
    assert sorted(os.listdir(tmp_path)) == ["results"]


def test_a_file_as_preset_folder_is_refused(model, tmp_path):
    path = tmp_path / "model.h5"
    path.write_text("mine")
    with pytest.raises(FileExistsError, match="exists and is not a folder"):
        model.save_to_preset(path)
    assert path.read_text() == "mine"


def test_a_preset_is_replaced_leaving_nothing_behind(model, saved):
    first = snapshot(saved)
    model.save_to_preset(saved)
    assert sorted(os.listdir(saved)) == sorted(preset_io.PRESET_FILES)
    assert snapshot(saved)["config.json"] == first["config.json"]
    assert sorted(os.listdir(saved.parent)) == ["preset"]


def test_a_failed_swap_keeps_the_old_preset(model, saved, monkeypatch):
    before = snapshot(saved)
    real_rename = os.rename
    calls = []

    def rename(source, target):
        calls.append(source)
        if ".partial-" in os.fspath(source):
            raise OSError(errno.EIO, "rename failed")
        return real_rename(source, target)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="rename failed"):
        model.save_to_preset(saved)
    assert snapshot(saved) == before
    assert sorted(os.listdir(saved.parent)) == ["preset"]


def test_a_full_disk_while_writing_weights_keeps_the_old_preset(
    model, saved, monkeypatch
):
    before = snapshot(saved)

    def full_disk(path):
        with open(path, "wb") as f:
            f.write(b"\0" * 64)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(model, "save_weights", full_disk)
    with pytest.raises(OSError, match="No space left"):
        model.save_to_preset(saved)
    assert snapshot(saved) == before
    assert sorted(os.listdir(saved.parent)) == ["preset"]


def test_too_little_free_space_is_refused_before_writing(model, saved, monkeypatch):
    before = snapshot(saved)
    usage = shutil.disk_usage(saved.parent)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=1000))
    with pytest.raises(OSError, match=r"Not enough free space .* MB needed"):
        model.save_to_preset(saved)
    assert snapshot(saved) == before


def test_staging_folders_of_a_killed_save_are_removed(model, saved):
    stale = saved.parent / ".preset.partial-999999999"
    stale.mkdir()
    (stale / "model.weights.h5").write_bytes(b"half")
    model.save_to_preset(saved)
    assert sorted(os.listdir(saved.parent)) == ["preset"]


def test_a_save_killed_between_its_renames_gets_the_old_preset_back(model, saved):
    before = snapshot(saved)
    aside = saved.parent / ".preset.old-999999999"
    os.rename(saved, aside)  # as a save killed after moving the old preset aside
    (saved.parent / ".preset.partial-999999999").mkdir()
    stand_in = LoReTrack.from_preset(TINY_TEST, load_weights=False)
    monkey_failure = RuntimeError("killed again")

    def fail(path):
        raise monkey_failure

    stand_in.save_weights = fail
    with pytest.raises(RuntimeError, match="killed again"):
        stand_in.save_to_preset(saved)
    assert snapshot(saved) == before
    assert sorted(os.listdir(saved.parent)) == ["preset"]


def test_fewer_blocks_in_config_than_in_weights_is_an_error(saved):
    edit_config(saved, lambda c: c.update(num_layers=1))
    with pytest.raises(ValueError) as error:
        LoReTrack.from_preset(saved)
    message = str(error.value)
    assert str(saved / "model.weights.h5") in message
    assert "2 transformer blocks, the config says num_layers=1" in message


def test_more_blocks_in_config_than_in_weights_is_an_error(saved):
    edit_config(saved, lambda c: c.update(num_layers=3))
    with pytest.raises(ValueError, match="num_layers=3"):
        LoReTrack.from_preset(saved)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("num_layers", -1, "'num_layers' must be a positive integer, got -1"),
        ("num_heads", "2", "'num_heads' must be a positive integer, got '2'"),
        ("hidden_dim", 0, "'hidden_dim' must be a positive integer, got 0"),
        ("search_size", None, "'search_size' must be a positive integer, got None"),
        ("patch_size", True, "'patch_size' must be a positive integer, got True"),
        ("search_size", 70, "search_size=70 is not a multiple of patch_size=16"),
        ("num_heads", 3, "hidden_dim=32 is not a multiple of num_heads=3"),
    ],
)
def test_bad_config_values_name_field_and_file(saved, field, value, message):
    path = edit_config(saved, lambda c: c.update({field: value}))
    with pytest.raises(ValueError) as error:
        LoReTrack.from_preset(saved, load_weights=False)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)


def test_truncated_config_names_the_file(saved):
    path = saved / "config.json"
    path.write_text(path.read_text()[:50])
    with pytest.raises(ValueError, match=rf"{path} is not valid JSON"):
        LoReTrack.from_preset(saved)


def test_a_config_of_something_else_is_refused(saved):
    (saved / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="does not hold a LoReTrack config"):
        LoReTrack.from_preset(saved)


def test_truncated_weights_name_the_file(saved):
    path = saved / "model.weights.h5"
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(ValueError) as error:
        LoReTrack.from_preset(saved)
    assert f"{path} is not a readable Keras weights file" in str(error.value)


def test_an_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown preset 'res512'.*'res128'"):
        LoReTrack.from_preset("res512")


def test_convert_refuses_a_folder_with_other_files_before_working(tmp_path, capsys):
    output = tmp_path / "out"
    output.mkdir()
    (output / "notes.txt").write_text("keep")
    checkpoint = tmp_path / "missing.pth"
    status = main(
        ["convert", str(checkpoint), "--preset", TINY_TEST, "--output", str(output)]
    )
    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith("loretrack convert: ") and error.count("\n") == 1
    assert "notes.txt" in error
    assert (output / "notes.txt").read_text() == "keep"
