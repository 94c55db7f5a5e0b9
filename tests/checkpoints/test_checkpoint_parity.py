"""Numerical parity of converted checkpoints with an independent PyTorch network.

Random weights go through `torch.save({'net': state_dict})` in the official key
layout, with the position tables stored transposed as the release stores them; the
file is read without torch, loaded into a Keras preset and both networks run on the
same inputs.
"""

import numpy as np
import pytest

from keras_loretrack.checkpoints.numpy_forward import tracker_forward
from keras_loretrack.checkpoints.official_mapping import load_official_weights
from keras_loretrack.checkpoints.torch_reader import load_torch_checkpoint
from keras_loretrack.models import LoReTrack

torch = pytest.importorskip("torch")

from keras_loretrack.benchmarking.torch_ostrack import (  # noqa: E402
    OSTrackReference,
    mae_state_dict,
    randomize_,
    regrid_like_official,
    release_state_dict,
)
from tests.presets import TINY_TEST, TINY_TEST_CE  # noqa: E402

pytestmark = pytest.mark.torch
MAPS = ("score_map", "size_map", "offset_map")
ATOL = 1e-4


def reference_like(model, search_size=None, template_size=None, seed=0):
    """A PyTorch network with the architecture of a Keras preset, random weights."""
    backbone = model.backbone
    reference = OSTrackReference(
        search_size=search_size or backbone.search_size,
        template_size=template_size or backbone.template_size,
        patch_size=backbone.patch_size,
        dim=backbone.hidden_dim,
        depth=backbone.num_layers,
        num_heads=backbone.num_heads,
        mlp_dim=backbone.mlp_dim,
        head_channels=model.head_channels,
        ce_blocks=backbone.candidate_elimination_blocks,
        keep_ratio=backbone.candidate_keep_ratio,
    )
    return randomize_(reference, seed).eval()


def save_official(reference, path, zip_format=True):
    checkpoint = {"net": release_state_dict(reference), "epoch": 300, "net_type": "x"}
    torch.save(checkpoint, path, _use_new_zipfile_serialization=zip_format)
    return path


def random_inputs(model, batch_size=2, seed=0):
    rng = np.random.default_rng(seed)
    return {
        name: rng.normal(size=(batch_size, size, size, 3)).astype(np.float32)
        for name, size in (
            ("template", model.template_size),
            ("search", model.search_size),
        )
    }


def torch_outputs(reference, inputs):
    with torch.no_grad():
        outputs = reference(
            torch.from_numpy(inputs["template"]).permute(0, 3, 1, 2),
            torch.from_numpy(inputs["search"]).permute(0, 3, 1, 2),
        )
    return {
        name: (value.permute(0, 2, 3, 1) if value.ndim == 4 else value).numpy()
        for name, value in outputs.items()
    }


def assert_parity(actual, expected, atol=ATOL):
    for name in MAPS:
        difference = np.max(np.abs(actual[name] - expected[name]))
        assert difference <= atol, f"{name}: max difference {difference}"
    batch = expected["score_map"].shape[0]
    np.testing.assert_array_equal(
        actual["score_map"].reshape(batch, -1).argmax(axis=1),
        expected["score_map"].reshape(batch, -1).argmax(axis=1),
    )
    np.testing.assert_allclose(actual["boxes"], expected["boxes"], rtol=0, atol=atol)


def keras_outputs(model, inputs):
    return {k: np.asarray(v) for k, v in model(inputs, training=False).items()}


def check_preset(preset, tmp_path, zip_format=True, seed=0):
    model = LoReTrack.from_preset(preset, load_weights=False)
    reference = reference_like(model, seed=seed)
    path = save_official(reference, tmp_path / "official.pth.tar", zip_format)

    checkpoint = load_torch_checkpoint(path)
    report = load_official_weights(model, checkpoint)

    assert report.missing == [] and report.unexpected == []
    inputs = random_inputs(model, seed=seed)
    expected = torch_outputs(reference, inputs)
    assert_parity(keras_outputs(model, inputs), expected)
    return model, checkpoint, inputs, expected


@pytest.mark.parametrize(
    "preset, zip_format",
    [(TINY_TEST, True), (TINY_TEST, False), (TINY_TEST_CE, True)],
    ids=["tiny_test-zip", "tiny_test-legacy", "tiny_test_ce-zip"],
)
def test_tiny_parity(tmp_path, preset, zip_format):
    check_preset(preset, tmp_path, zip_format)


def test_numpy_reference_matches_torch(tmp_path):
    model, checkpoint, inputs, expected = check_preset(TINY_TEST_CE, tmp_path)
    backbone = model.backbone
    outputs = tracker_forward(
        checkpoint["net"],
        inputs["template"],
        inputs["search"],
        backbone.num_heads,
        candidate_elimination_blocks=backbone.candidate_elimination_blocks,
        candidate_keep_ratio=backbone.candidate_keep_ratio,
    )
    assert_parity(outputs, expected, atol=1e-5)


def test_candidate_elimination_changes_the_output(tmp_path):
    model, checkpoint, inputs, expected = check_preset(TINY_TEST_CE, tmp_path)
    plain = tracker_forward(
        checkpoint["net"],
        inputs["template"],
        inputs["search"],
        model.backbone.num_heads,
    )
    assert np.max(np.abs(plain["score_map"] - expected["score_map"])) > 1e-3


def regridded_reference(reference, search_size, template_size, patch_size):
    """The reference network at another resolution, tables resized as OSTrack does."""
    backbone = reference.backbone
    smaller = OSTrackReference(
        search_size=search_size,
        template_size=template_size,
        patch_size=patch_size,
        dim=backbone.pos_embed.shape[-1],
        depth=len(backbone.blocks),
        num_heads=backbone.blocks[0].attn.num_heads,
        mlp_dim=backbone.blocks[0].mlp.fc1.out_features,
        head_channels=tuple(
            getattr(reference.box_head, f"conv{i}_ctr")[0].out_channels
            for i in range(1, reference.box_head.num_stages + 1)
        ),
    ).eval()
    state = reference.state_dict()
    state["backbone.pos_embed_z"] = regrid_like_official(
        state["backbone.pos_embed_z"], template_size // patch_size
    )
    state["backbone.pos_embed_x"] = regrid_like_official(
        state["backbone.pos_embed_x"], search_size // patch_size
    )
    smaller.load_state_dict(state)
    return smaller


def check_regrid_round_trip(tmp_path, preset, source_search, seed=0):
    model = LoReTrack.from_preset(preset, load_weights=False)
    backbone = model.backbone
    source = reference_like(model, source_search, source_search // 2, seed=seed)
    path = save_official(source, tmp_path / "source.pth.tar")

    report = load_official_weights(model, load_torch_checkpoint(path))

    patch = backbone.patch_size
    assert report.regridded == {
        "backbone.pos_embed_z": (source_search // 2 // patch, backbone.template_grid),
        "backbone.pos_embed_x": (source_search // patch, backbone.feature_size),
    }
    target = regridded_reference(
        source, backbone.search_size, backbone.template_size, patch
    )
    inputs = random_inputs(model, seed=seed)
    assert_parity(keras_outputs(model, inputs), torch_outputs(target, inputs))


def test_tiny_regrid_round_trip(tmp_path):
    check_regrid_round_trip(tmp_path, TINY_TEST, source_search=192)


def check_mae(tmp_path, preset, seed=0):
    model = LoReTrack.from_preset(preset, load_weights=False)
    backbone = model.backbone
    reference = reference_like(model, seed=seed)
    mae = mae_state_dict(reference)
    torch.save({"model": mae}, tmp_path / "mae_pretrain.pth")

    report = load_official_weights(
        model, load_torch_checkpoint(tmp_path / "mae_pretrain.pth")
    )

    assert report.layout == "mae"
    assert report.regridded == {
        "backbone.pos_embed_z": (14, backbone.template_grid),
        "backbone.pos_embed_x": (14, backbone.feature_size),
    }
    table = reference.backbone.pos_embed.data[:, 1:]
    with torch.no_grad():
        reference.backbone.pos_embed_z.copy_(
            regrid_like_official(table, backbone.template_grid)
        )
        reference.backbone.pos_embed_x.copy_(
            regrid_like_official(table, backbone.feature_size)
        )
    inputs = random_inputs(model, seed=seed)
    with torch.no_grad():
        expected = reference.backbone(
            torch.from_numpy(inputs["template"]).permute(0, 3, 1, 2),
            torch.from_numpy(inputs["search"]).permute(0, 3, 1, 2),
        )
    expected = expected.permute(0, 2, 3, 1).numpy()
    actual = np.asarray(backbone(inputs, training=False)["search_features"])
    assert np.max(np.abs(actual - expected)) <= ATOL


def test_tiny_mae(tmp_path):
    check_mae(tmp_path, TINY_TEST)


@pytest.mark.large
@pytest.mark.parametrize("preset", ["res256", "res128", "ostrack256"])
def test_vit_base_parity(tmp_path, preset):
    check_preset(preset, tmp_path)


@pytest.mark.large
def test_vit_base_key_count_and_size(tmp_path):
    model = LoReTrack.from_preset("res256", load_weights=False)
    reference = reference_like(model)
    assert len(release_state_dict(reference)) == 242
    # Learned values (BatchNorm statistics are buffers).
    assert sum(p.numel() for p in reference.parameters()) == 92_518_533


@pytest.mark.large
def test_vit_base_384_checkpoint_into_res128(tmp_path):
    check_regrid_round_trip(tmp_path, "res128", source_search=384)


@pytest.mark.large
def test_vit_base_mae_into_res256(tmp_path):
    check_mae(tmp_path, "res256")
