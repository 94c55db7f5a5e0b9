import json
import os

import h5py
import keras
import numpy as np
import pytest

from keras_loretrack import LoReTrack
from keras_loretrack.models import PRESETS
from keras_loretrack.models.cost import count_macs
from keras_loretrack.models.position_regrid import regrid_position_table
from tests.presets import TINY_TEST


def inputs_for(model, batch=1, seed=0):
    rng = np.random.default_rng(seed)
    t, s = model.template_size, model.search_size
    return {
        "template": rng.normal(size=(batch, t, t, 3)).astype("float32"),
        "search": rng.normal(size=(batch, s, s, 3)).astype("float32"),
    }


def outputs_equal(a, b, inputs):
    out_a, out_b = a(inputs), b(inputs)
    for key in ("score_map", "size_map", "offset_map", "boxes"):
        np.testing.assert_array_equal(out_a[key], out_b[key], err_msg=key)


@pytest.fixture(scope="module")
def tiny():
    return LoReTrack.from_preset(TINY_TEST, load_weights=False)


def test_output_shapes_and_box_decoding(tiny):
    out = tiny(inputs_for(tiny, batch=2))
    assert out["score_map"].shape == (2, 4, 4, 1)
    assert out["size_map"].shape == (2, 4, 4, 2)
    assert out["offset_map"].shape == (2, 4, 4, 2)
    assert out["boxes"].shape == (2, 4)
    assert tiny.search_factor == 5.0 and tiny.template_factor == 2.0


def test_config_round_trip_is_exact(tiny):
    clone = LoReTrack.from_config(tiny.get_config())
    clone.set_weights(tiny.get_weights())
    assert clone.get_config() == tiny.get_config()
    outputs_equal(tiny, clone, inputs_for(tiny))


def test_preset_directory_round_trip(tiny, tmp_path):
    tiny.save_to_preset(tmp_path / "preset")
    config = json.loads((tmp_path / "preset" / "config.json").read_text())
    metadata = json.loads((tmp_path / "preset" / "metadata.json").read_text())
    assert config["registered_name"] == "keras_loretrack>LoReTrack"
    assert metadata["parameter_count"] == tiny.count_params()
    assert metadata["keras_version"] == keras.__version__
    outputs_equal(tiny, LoReTrack.from_preset(tmp_path / "preset"), inputs_for(tiny))
    umask = os.umask(0)
    os.umask(umask)
    mode = (tmp_path / "preset").stat().st_mode & 0o777
    assert mode == 0o777 & ~umask, oct(mode)  # readable by others, not mkdtemp's 0700
    assert [p.name for p in tmp_path.iterdir()] == ["preset"]  # no staging left


def test_preset_of_a_compiled_model_holds_no_optimizer_state(tmp_path):
    model = LoReTrack.from_preset(TINY_TEST, load_weights=False)
    model.compile(optimizer="adamw")
    model.optimizer.build(model.trainable_variables)
    model.save_to_preset(tmp_path / "preset")
    with h5py.File(tmp_path / "preset" / "model.weights.h5") as weights:
        assert "optimizer" not in weights
    outputs_equal(model, LoReTrack.from_preset(tmp_path / "preset"), inputs_for(model))


def test_keras_file_round_trip(tiny, tmp_path):
    tiny.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded, LoReTrack)
    outputs_equal(tiny, loaded, inputs_for(tiny))


def test_loading_into_another_resolution_regrids_position_tables(tiny, tmp_path):
    tiny.save_to_preset(tmp_path / "preset")
    small = LoReTrack.from_preset(tmp_path / "preset", search_size=32, template_size=16)
    assert small.feature_size == 2
    table = keras.ops.convert_to_numpy(
        tiny.backbone.search_position_embedding.embeddings
    )
    np.testing.assert_allclose(
        small.backbone.search_position_embedding.embeddings,
        regrid_position_table(table, 4, 2),
        atol=1e-6,
    )
    np.testing.assert_array_equal(
        small.backbone.transformer_blocks[1].attention.qkv.kernel,
        tiny.backbone.transformer_blocks[1].attention.qkv.kernel,
    )


def test_overrides_that_do_not_touch_weights_load_directly(tiny, tmp_path):
    tiny.save_to_preset(tmp_path / "preset")
    model = LoReTrack.from_preset(tmp_path / "preset", qkv_blocks=(1,))
    assert "block1_query" in model(inputs_for(model))


def test_distillation_model_shares_weights(tiny):
    view = tiny.distillation_model(blocks=(-1,))
    out = view(inputs_for(tiny))
    assert out["search_features"].shape == (1, 4, 4, 32)
    assert out["block1_key"].shape == (1, 2, 20, 16)
    np.testing.assert_array_equal(out["boxes"], tiny(inputs_for(tiny))["boxes"])
    assert {id(w) for w in view.weights} == {id(w) for w in tiny.weights}


def test_unknown_preset_lists_known_names():
    with pytest.raises(ValueError, match=r"Unknown preset 'res1024'.*res128"):
        LoReTrack.from_preset("res1024")


def test_builtin_vit_preset_without_weights_says_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setenv("LORETRACK_HOME", str(tmp_path))
    with pytest.raises(ValueError, match="loretrack convert"):
        LoReTrack.from_preset("res128")


def test_unknown_override_is_refused():
    with pytest.raises(ValueError, match="Unknown preset override 'serch_size'"):
        LoReTrack.from_preset(TINY_TEST, load_weights=False, serch_size=32)


def test_weights_that_do_not_fit_name_the_weight(tiny, tmp_path):
    tiny.save_to_preset(tmp_path / "preset")
    with h5py.File(tmp_path / "preset" / "model.weights.h5", "r+") as f:
        names = []
        f.visititems(lambda name, obj: names.append(name) if "qkv" in name else None)
        kernel = next(n for n in names if isinstance(f[n], h5py.Dataset))
        del f[kernel]
        f[kernel] = np.zeros((5, 5), "float32")
    with pytest.raises(
        ValueError,
        match=r"weight .transformer_block_0/attention/qkv/kernel. has saved shape "
        r"\(5, 5\), model shape \(32, 96\)",
    ):
        LoReTrack.from_preset(tmp_path / "preset")


def test_missing_weights_file(tiny, tmp_path):
    tiny.save_to_preset(tmp_path / "preset")
    (tmp_path / "preset" / "model.weights.h5").unlink()
    with pytest.raises(FileNotFoundError, match="has no model.weights.h5"):
        LoReTrack.from_preset(tmp_path / "preset")


def test_bad_inputs_get_clear_errors(tiny):
    good = inputs_for(tiny)
    with pytest.raises(TypeError, match="must be float ImageNet-normalised"):
        tiny({k: v.astype("uint8") for k, v in good.items()})
    with pytest.raises(ValueError, match="expected shape=\\(None, 64, 64, 3\\)"):
        tiny(
            {
                "template": good["template"],
                "search": np.zeros((1, 48, 48, 3), "float32"),
            }
        )
    with pytest.raises(ValueError, match="keys"):
        tiny({**good, "extra": good["search"]})


def test_macs_of_the_paper_presets_match_design():
    # LoReTrack paper: 65.3 G (384), 29.0 G (256), 7.2 G (128), 4.1 G (96);
    # 48.3 G and 21.5 G for OSTrack-384/256 with CE. Built from config only.
    expected = {
        "res384": 65.3,
        "res256": 29.0,
        "res128": 7.26,
        "res96": 4.08,
        "ostrack384": 48.3,
        "ostrack256": 21.5,
    }
    for name, giga in expected.items():
        model = LoReTrack.from_preset(name, load_weights=False)
        assert count_macs(model) / 1e9 == pytest.approx(giga, abs=0.05), name


@pytest.mark.large
@pytest.mark.parametrize(
    "name", [p for p in PRESETS if p.startswith(("res", "ostrack"))]
)
def test_vit_presets_build_with_the_right_shapes(name):
    model = LoReTrack.from_preset(name, load_weights=False)
    spec = model.compute_output_spec(
        {
            k: keras.KerasTensor((1,) + tuple(v.shape[1:]))
            for k, v in model.input.items()
        }
    )
    fs = model.search_size // 16
    assert spec["score_map"].shape == (1, fs, fs, 1)
    assert spec["boxes"].shape == (1, 4)


@pytest.mark.large
def test_vit_parameter_counts():
    counts = {}
    for name in ("res256", "res128"):
        model = LoReTrack.from_preset(name, load_weights=False)
        counts[name] = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert counts == {"res256": 92_366_469, "res128": 92_182_149}
