import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pathlib  # noqa: E402

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
