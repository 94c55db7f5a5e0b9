"""Run `.tflite` files on saved crops with LiteRT alone (NumPy + ai_edge_litert).

    python benchmarks/aarch64_runner.py INPUT_DIR OUTPUT.npz MODEL.tflite [...]

The half of `benchmarks/aarch64_check.py` that runs on both machines (x86 and
an emulated aarch64 root that has no TensorFlow or Keras): reads
`INPUT_DIR/template.npy` (N, T, T, 3) and `INPUT_DIR/search.npy` (N, S, S, 3),
normalised float32 crops, runs every model on each pair through the
`serving_default` signature runner with one thread (XNNPACK on, as LiteRT's
default), and writes the float32 maps, stacked over the N pairs, to OUTPUT.npz
as `<model stem>/<output name>`, plus `info`, a JSON record of the machine.
int8 inputs are quantised (`round(x / scale) + zero_point`, clipped) and int8
outputs dequantised with each tensor's own parameters.
"""

import json
import os
import platform
import struct
import sys
from importlib.metadata import version

import numpy as np
from ai_edge_litert.interpreter import Interpreter

AT_HWCAP, AT_HWCAP2 = 16, 26
# Linux arm64 hwcap bits (arch/arm64/include/uapi/asm/hwcap.h).
ARM64_FEATURES = {
    (AT_HWCAP, 1): "asimd",
    (AT_HWCAP, 10): "asimdhp",
    (AT_HWCAP, 20): "asimddp",
    (AT_HWCAP, 22): "sve",
    (AT_HWCAP2, 13): "i8mm",
}


def arm64_features():
    """Names of the NEON / dot-product / i8mm / SVE bits the kernel reports."""
    with open("/proc/self/auxv", "rb") as f:
        data = f.read()
    words = struct.unpack(f"{len(data) // 8}Q", data[: len(data) // 8 * 8])
    auxv = dict(zip(words[::2], words[1::2]))
    return [
        name
        for (key, bit), name in ARM64_FEATURES.items()
        if auxv.get(key, 0) >> bit & 1
    ]


def run_model(path, templates, searches):
    """Float32 maps {name: (N, ...)} of one file on N crop pairs."""
    runner = Interpreter(model_path=path, num_threads=1).get_signature_runner()
    inputs, outputs = runner.get_input_details(), runner.get_output_details()
    maps = {name: [] for name in outputs}
    for template, search in zip(templates, searches):
        feed = {}
        for name, value in (("template", template), ("search", search)):
            detail = inputs[name]
            if detail["dtype"] != np.float32:
                scale, zero_point = detail["quantization"]
                info = np.iinfo(detail["dtype"])
                value = np.round(value / scale) + zero_point
                value = np.clip(value, info.min, info.max)
            feed[name] = value[None].astype(detail["dtype"])
        for name, value in runner(**feed).items():
            if value.dtype != np.float32:
                scale, zero_point = outputs[name]["quantization"]
                value = (value.astype(np.float32) - zero_point) * scale
            maps[name].append(value[0])
    return {name: np.stack(values) for name, values in maps.items()}


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__.splitlines()[2].strip())
    input_dir, output, models = argv[0], argv[1], argv[2:]
    templates = np.load(os.path.join(input_dir, "template.npy"))
    searches = np.load(os.path.join(input_dir, "search.npy"))
    arrays = {}
    for path in models:
        stem = os.path.splitext(os.path.basename(path))[0]
        for name, value in run_model(path, templates, searches).items():
            arrays[f"{stem}/{name}"] = value
    machine = platform.machine()
    info = {
        "machine": machine,
        "python": platform.python_version(),
        "libc": " ".join(platform.libc_ver()),
        "ai_edge_litert": version("ai-edge-litert"),
        "numpy": np.__version__,
        "features": arm64_features() if machine == "aarch64" else [],
    }
    arrays["info"] = np.array(json.dumps(info))
    np.savez(output, **arrays)


if __name__ == "__main__":
    main(sys.argv[1:])
