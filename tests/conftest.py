import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pathlib  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.presets import TINY_TEST_CE  # noqa: E402

pytest_plugins = ["tests.dataset_trees"]

SEQUENCES_DIR = pathlib.Path(
    os.environ.get(
        "LORETRACK_SEQUENCES",
        pathlib.Path(__file__).resolve().parents[1].parent / "shared/data/sequences",
    )
)


@pytest.fixture(scope="session")
def sequences_dir():
    """The real OTB-layout sequences in ../shared/data/sequences (skip if absent)."""
    if not SEQUENCES_DIR.is_dir():
        pytest.skip(f"real sequences not found at {SEQUENCES_DIR}")
    return SEQUENCES_DIR


@pytest.fixture
def tiny_batch():
    """`tiny_batch(size=4, seed=0)`: random (template 32, search 64) crops and
    their normalised xyxy `box` targets, for the tiny presets."""

    def make(size=4, seed=0):
        rng = np.random.default_rng(seed)
        x = {
            "template": rng.normal(size=(size, 32, 32, 3)).astype("float32"),
            "search": rng.normal(size=(size, 64, 64, 3)).astype("float32"),
        }
        center = rng.uniform(0.3, 0.7, (size, 2))
        extent = rng.uniform(0.1, 0.4, (size, 2))
        box = np.concatenate([center - extent / 2, center + extent / 2], -1)
        return x, {"box": box.astype("float32")}

    return make


@pytest.fixture(scope="session")
def torch_reference():
    """`torch_reference(preset, seed=0)`: the PyTorch OSTrack network of
    `keras_loretrack.benchmarking.torch_ostrack` with the preset's architecture
    and seeded random weights (skips without torch)."""
    pytest.importorskip("torch")
    from keras_loretrack.benchmarking.torch_ostrack import OSTrackReference, randomize_
    from keras_loretrack.models import LoReTrack

    def make(preset, seed=0):
        model = LoReTrack.from_preset(preset, load_weights=False)
        backbone = model.backbone
        reference = OSTrackReference(
            search_size=backbone.search_size,
            template_size=backbone.template_size,
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

    return make


@pytest.fixture(scope="session")
def tracker_checkpoint(torch_reference, tmp_path_factory):
    """An official tracker checkpoint (`net` key, release layout) of the
    `TINY_TEST_CE` architecture with random weights."""
    import torch

    from keras_loretrack.benchmarking.torch_ostrack import release_state_dict

    path = tmp_path_factory.mktemp("ckpt") / "tiny_ce.pth.tar"
    reference = torch_reference(TINY_TEST_CE)
    torch.save({"net": release_state_dict(reference), "epoch": 300}, path)
    return path
