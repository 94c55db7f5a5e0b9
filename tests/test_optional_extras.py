"""A missing optional dependency names the extra that installs it."""

import sys

import pytest

from keras_loretrack.cli.main import main
from keras_loretrack.optional import MissingExtraError, require
from tests.presets import TINY_TEST


def test_require_returns_the_module():
    assert require("json.decoder", "none", "Parsing").JSONDecoder


def test_require_names_package_and_extra(monkeypatch):
    # Earlier tests may have imported it: block the package and the submodule.
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    monkeypatch.setitem(sys.modules, "tf2onnx.tf_loader", None)
    with pytest.raises(MissingExtraError) as error:
        require("tf2onnx.tf_loader", "export", "ONNX export")
    message = str(error.value)
    assert message.startswith("ONNX export needs tf2onnx, which is not installed")
    assert message.endswith('pip install "keras-loretrack[export]"')
    assert isinstance(error.value, ImportError)


@pytest.mark.parametrize(
    "module, file_format", [("tf2onnx", "onnx"), ("ai_edge_litert", "tflite")]
)
def test_export_says_which_extra_is_missing(
    module, file_format, monkeypatch, tmp_path, capsys
):
    for name in list(sys.modules):
        if name == module or name.startswith(module + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)
    status = main(
        ["export", "--preset", TINY_TEST, "--no-weights", "--format", file_format]
        + ["--output", str(tmp_path / f"model.{file_format}")]
    )
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert error.startswith("loretrack export: ") and "\n" not in error
    assert 'pip install "keras-loretrack[export]"' in error
    assert list(tmp_path.iterdir()) == []


def test_plots_need_the_plots_extra(monkeypatch, tmp_path):
    from keras_loretrack.evaluation.analysis import plot_curves

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(MissingExtraError, match=r"keras-loretrack\[plots\]"):
        plot_curves({}, str(tmp_path))


def test_procedural_videos_need_the_procedural_extra(monkeypatch):
    from keras_loretrack.sequences.procedural import textures

    textures.load_texture.cache_clear()
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(MissingExtraError, match=r"keras-loretrack\[procedural\]"):
        textures.load_texture("astronaut")
    textures.load_texture.cache_clear()


def test_openvino_runtime_needs_the_openvino_extra(monkeypatch, tmp_path):
    from keras_loretrack.tracking.openvino_engine import OpenVinoEngine

    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(MissingExtraError, match=r"keras-loretrack\[openvino\]"):
        OpenVinoEngine(tmp_path / "model.onnx")
