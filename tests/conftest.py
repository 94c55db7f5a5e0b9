import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pathlib  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

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
