import numpy as np
import pytest

from keras_loretrack.tracking import engines
from keras_loretrack.tracking.engines import (
    Engine,
    KerasEngine,
    engine_from_file,
    register_file_engine,
)


def crops(engine, seed=0):
    rng = np.random.default_rng(seed)
    shapes = engine.input_shapes()
    return (
        rng.normal(size=shapes["template"]).astype("float32"),
        rng.normal(size=shapes["search"]).astype("float32"),
    )


def test_keras_engine_matches_the_model_call(tiny_model, tiny_engine):
    template, search = crops(tiny_engine)
    maps = tiny_engine(template, search)
    assert set(maps) == {"score_map", "size_map", "offset_map"}
    reference = tiny_model({"template": template, "search": search}, training=False)
    for key, value in maps.items():
        assert isinstance(value, np.ndarray)
        np.testing.assert_allclose(value, reference[key], atol=1e-6, err_msg=key)
    assert maps["score_map"].shape == (1, 4, 4, 1)
    assert maps["size_map"].shape == (1, 4, 4, 2)


def test_keras_engine_attributes_come_from_the_model(tiny_model, tiny_engine):
    assert tiny_engine.search_size == tiny_model.search_size == 64
    assert tiny_engine.template_size == tiny_model.template_size == 32
    assert tiny_engine.feature_size == tiny_model.feature_size == 4
    assert tiny_engine.search_factor == 5.0 and tiny_engine.template_factor == 2.0
    assert tiny_engine.name == tiny_model.name


def test_keras_engine_traces_once(tiny_engine):
    for seed in range(3):
        tiny_engine(*crops(tiny_engine, seed))
    assert tiny_engine._forward.experimental_get_tracing_count() == 1


def test_keras_engine_rejects_wrong_shapes(tiny_engine):
    template, search = crops(tiny_engine)
    with pytest.raises(ValueError, match=r"search must have shape \(1, 64, 64, 3\)"):
        tiny_engine(template, search[:, :32])


def test_keras_engine_rejects_non_models():
    with pytest.raises(TypeError, match="LoReTrack-like model"):
        KerasEngine(object())


def test_xla_engine_agrees(tiny_model, tiny_engine):
    template, search = crops(tiny_engine, seed=5)
    xla = KerasEngine(tiny_model, jit_compile=True)(template, search)
    for key, value in tiny_engine(template, search).items():
        np.testing.assert_allclose(xla[key], value, atol=1e-5, err_msg=key)


def test_engine_needs_a_call():
    class Incomplete(Engine):
        pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setattr(engines, "_FILE_ENGINES", {})
    monkeypatch.setattr(engines, "_DEFAULT_RUNTIMES", {})


def test_engine_from_file_without_a_registered_engine(tmp_path, clean_registry):
    path = tmp_path / "model.tflite"
    path.write_bytes(b"")
    with pytest.raises(
        ValueError, match=r"No tracking engine is registered for '\.tflite' files"
    ):
        engine_from_file(path)


def test_engine_from_file_dispatches_on_extension(tmp_path, clean_registry):
    opened = []

    @register_file_engine(".onnx", ".ONNXX", runtime="first")
    def load(path, **kwargs):
        opened.append((path, kwargs))
        return "engine"

    @register_file_engine(".onnx", runtime="second", default=False)
    def load_second(path, **kwargs):
        return "second engine"

    path = tmp_path / "Model.ONNX"
    path.write_bytes(b"")
    assert engine_from_file(path, threads=2) == "engine"
    assert opened == [(str(path), {"threads": 2})]
    assert engine_from_file(path, runtime="second") == "second engine"
    assert engines.registered_file_extensions() == [".onnx", ".onnxx"]
    assert engines.registered_runtimes(".ONNX") == ["first", "second"]
    assert engines.registered_runtimes() == ["first", "second"]
    with pytest.raises(
        ValueError, match=r"'third' does not open \.onnxx files.*\['first'\]"
    ):
        engine_from_file(tmp_path / "m.onnxx", runtime="third")
    with pytest.raises(FileNotFoundError, match="Model file not found"):
        engine_from_file(tmp_path / "missing.onnx")


def test_register_file_engine_checks_extensions():
    with pytest.raises(ValueError, match="starting with '.', got 'tflite'"):
        register_file_engine("tflite", runtime="litert")


def test_the_runtime_does_not_import_the_exporter():
    import subprocess
    import sys

    code = (
        "import sys, keras_loretrack.tracking\n"
        "loaded = [m for m in sys.modules if m.startswith("
        "('keras_loretrack.export', 'tf2onnx', 'tests'))]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_engines_carry_a_crop_geometry(tiny_engine, tiny_model):
    from keras_loretrack.data.crops import CropGeometry

    assert tiny_engine.geometry == CropGeometry.of(tiny_model)
    with pytest.raises(AttributeError):
        tiny_engine.search_size = 128
