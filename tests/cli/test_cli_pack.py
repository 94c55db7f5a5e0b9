"""`loretrack pack`: the server zip from eval's results, and its one-line errors."""

import subprocess
import sys
import zipfile

import cv2
import numpy as np
import pytest

from keras_loretrack.cli.main import main
from keras_loretrack.evaluation import write_result

NAMES = ("GOT-10k_Test_000001", "GOT-10k_Test_000002")


@pytest.fixture
def got10k_test(tmp_path):
    """(dataset root, results root) of a 2-sequence GOT-10k test split with
    results written as `loretrack eval` writes them."""
    root = tmp_path / "GOT10k"
    (root / "test").mkdir(parents=True)
    (root / "test" / "list.txt").write_text("\n".join(NAMES) + "\n")
    folder = tmp_path / "results" / "mini" / "got10k_test"
    for count, name in enumerate(NAMES, start=3):
        (root / "test" / name).mkdir()
        (root / "test" / name / "groundtruth.txt").write_text("1,2,3,4\n")
        for index in range(1, count + 1):
            image = np.full((8, 8, 3), index, np.uint8)
            cv2.imwrite(str(root / "test" / name / f"{index:08d}.jpg"), image)
        boxes = np.tile([1.0, 2.0, 3.0, 4.0], (count, 1))
        write_result(folder, name, boxes, np.full(count, 0.01), layout="got10k")
    return root, tmp_path / "results"


def test_pack_writes_the_archive(got10k_test, tmp_path, capsys):
    root, results = got10k_test
    output = tmp_path / "got10k_submission.zip"
    argv = ["pack", "--dataset", "got10k", "--results", str(results)]
    status = main(argv + ["--root", str(root), "--output", str(output)])
    assert status == 0
    out = capsys.readouterr().out
    assert "packed 2 sequences (7 frames)" in out and str(output) in out
    with zipfile.ZipFile(output) as archive:
        assert f"{NAMES[1]}/{NAMES[1]}_001.txt" in archive.namelist()
        text = archive.read(f"{NAMES[0]}/{NAMES[0]}_001.txt").decode()
        assert text == "1.0000,2.0000,3.0000,4.0000\n" * 3


def test_pack_refuses_a_missing_result(got10k_test, tmp_path, capsys):
    root, results = got10k_test
    missing = results / "mini" / "got10k_test" / NAMES[1] / f"{NAMES[1]}_001.txt"
    missing.unlink()
    output = tmp_path / "sub.zip"
    argv = ["pack", "--dataset", "got10k", "--results", str(results)]
    status = main(argv + ["--root", str(root), "--output", str(output)])
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith(f"loretrack pack: {NAMES[1]}: no result")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not output.exists()


def test_pack_bad_results_folder_is_a_usage_error(tmp_path, capsys):
    argv = ["pack", "--dataset", "trackingnet", "--results", str(tmp_path / "none")]
    status = main(argv + ["--root", str(tmp_path), "--output", str(tmp_path / "a.zip")])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("loretrack pack: Results folder not found")
    assert err.count("\n") == 1


def test_pack_module_imports_nothing_heavy():
    code = (
        "import sys, keras_loretrack.cli.pack; "
        "print([m for m in ('tensorflow', 'keras') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
