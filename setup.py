"""Packaging for keras_loretrack."""

import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
version = {}
exec((HERE / "keras_loretrack" / "version.py").read_text(), version)

OPTIONAL = {
    "export": [
        "tf2onnx>=1.17,<2",
        "onnx>=1.16",
        "onnxruntime>=1.20,<2",
        "ai-edge-litert>=2.0,<3",
    ],
    # OpenVINO runs exported .onnx files: Tracker.from_file(path, runtime="openvino").
    "openvino": ["openvino>=2025.0,<2027"],
    "plots": ["matplotlib>=3.8,<4"],
    # The PyTorch reference of the parity tests and benchmarks (CPU build).
    "torch": ["torch==2.13.0"],
    "procedural": ["scikit-image>=0.22,<1"],
}

setup(
    name="keras-loretrack",
    version=version["__version__"],
    description=(
        "LoReTrack in Keras 3: low-resolution transformer tracking distilled from "
        "a frozen high-resolution twin."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_loretrack", "keras_loretrack.*"]),
    package_data={"keras_loretrack": ["presets/*/*", "sequences/tables/*.json"]},
    install_requires=[
        "keras>=3.10,<4",
        "numpy>=1.26,<3",
        "opencv-python-headless>=4.8,<6",
        "h5py>=3.10",
        "tqdm>=4.66",
    ],
    extras_require={
        # pip treats tensorflow and tensorflow-cpu as different packages: pick one.
        "tf": ["tensorflow>=2.18,<2.22"],
        "tf-cpu": ["tensorflow-cpu>=2.18,<2.22"],
        **OPTIONAL,
        # Every optional part but TensorFlow itself (add `tf` or `tf-cpu`).
        "all": sorted({r for requirements in OPTIONAL.values() for r in requirements}),
        "test": [
            "build>=1.2",
            "pytest>=8",
            "ruff>=0.6",
            "got10k==0.1.3",
            "six>=1.16",
            *OPTIONAL["procedural"],
            *OPTIONAL["plots"],
            *OPTIONAL["openvino"],
        ],
    },
    entry_points={"console_scripts": ["loretrack=keras_loretrack.cli.main:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
