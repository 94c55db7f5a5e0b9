import json
import os

import numpy as np
import pytest

from keras_loretrack.atomic_files import atomic_output, write_json, write_text


def test_write_text_and_json_create_folders_and_round_trip(tmp_path):
    write_text(tmp_path / "a" / "table.md", "| x |\n")
    write_json(tmp_path / "b" / "c.json", {"x": [1, 2]})
    assert (tmp_path / "a" / "table.md").read_text() == "| x |\n"
    assert json.loads((tmp_path / "b" / "c.json").read_text()) == {"x": [1, 2]}


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "boxes.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_output(path) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["boxes.txt"]


def test_temporary_keeps_the_extension_writers_choose_formats_by(tmp_path):
    with atomic_output(tmp_path / "arrays.npz") as tmp:
        assert tmp.endswith(".npz") and os.path.basename(tmp).startswith(".")
        np.savez(tmp, x=np.arange(3))
    np.testing.assert_array_equal(np.load(tmp_path / "arrays.npz")["x"], np.arange(3))
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "arrays.npz").stat().st_mode & 0o777 == 0o666 & ~umask


def test_temporaries_say_what_they_are_and_those_of_killed_runs_go(tmp_path):
    target = tmp_path / "boxes.txt"
    dead = 999999999  # no process has this id
    stale = tmp_path / f".partial-{dead}-abc_1234-boxes.txt"
    live = tmp_path / f".partial-{os.getppid()}-abc_1234-boxes.txt"
    other = tmp_path / f".partial-{dead}-abc_1234-scores.txt"  # another target
    for path in (stale, live, other):
        path.write_text("half")
    with atomic_output(target) as tmp:
        name = os.path.basename(tmp)
        assert name.startswith(f".partial-{os.getpid()}-")
        assert name.endswith("-boxes.txt")
        write_text(tmp, "1,2,3,4\n")
    assert target.read_text() == "1,2,3,4\n"
    assert sorted(os.listdir(tmp_path)) == sorted(["boxes.txt", live.name])
