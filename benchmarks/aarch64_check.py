"""Do exported `.tflite` files load and give the same maps on aarch64 as on x86?

    nice -n 19 python benchmarks/aarch64_check.py --presets mini_teacher,mini_student \\
        --modes none,int8-mixed,int8 --aarch64-root /tmp/arm64root

For each preset and TFLite quantisation mode, the file is exported with
`keras_loretrack.export.export_tflite` (int8 modes calibrated on 64 crop pairs
of procedural "val" videos), or taken as it is when `<work>/<preset>-<mode>.tflite`
already exists. Fixed inputs: `--pairs` normalised (template, search) crop pairs
cut by the tracker's crop function from procedural "test" videos (never
calibrated on), saved as `template.npy` / `search.npy`. `aarch64_runner.py`
(LiteRT and NumPy only, one thread, XNNPACK on) runs every file on them with
the host's Python, then with an arm64 Debian Python under
`qemu-aarch64-static -cpu CPU` for each `--qemu-cpus` model (`cortex-a53`:
ARMv8.0 NEON; `cortex-a76`: ARMv8.2 with the int8 dot product). Compared:
the largest absolute difference of each output map (float32, int8 outputs
dequantised), the windowed argmax cell, and the box decoded there as the
tracker does (`keras_loretrack.tracking.postprocess`), in pixels of the search
crop and as IoU. The table is written atomically. Emulation says nothing about
speed on a phone: no time is measured.

qemu-user shows the guest the host's x86 `/proc/cpuinfo`, on which LiteRT's
CPU detection segfaults when an interpreter is created; before each run the
script writes `<root>/proc/cpuinfo` for the emulated model (its MIDR and
feature names), which qemu's `-L` prefix puts in front of the host's file.

One-time setup of the aarch64 side (Debian bookworm host, as root, ~400 MB;
no debootstrap second stage, nothing in the root is ever configured):

    apt-get install -y qemu-user-static debootstrap
    debootstrap --arch=arm64 --foreign --variant=minbase \\
        --include=python3.11-minimal,libpython3.11-stdlib,libstdc++6 \\
        bookworm /tmp/arm64root http://deb.debian.org/debian
    cd /tmp/arm64root/var/cache/apt/archives && for deb in *.deb; do
        dpkg-deb --fsys-tarfile "$deb" |
            tar -x --keep-directory-symlink -C /tmp/arm64root; done
    pip download --only-binary=:all: --platform manylinux_2_27_aarch64 \\
        --python-version 3.11 -d /tmp/aarch64_wheels \\
        "ai-edge-litert==$(pip show ai-edge-litert | sed -n 's/^Version: //p')" \\
        "numpy==$(pip show numpy | sed -n 's/^Version: //p')"
    rm /tmp/arm64root/proc && mkdir /tmp/arm64root/proc  # for a fake cpuinfo
    mkdir -p /tmp/arm64root/opt/site && for wheel in /tmp/aarch64_wheels/*.whl; do
        python -m zipfile -e "$wheel" /tmp/arm64root/opt/site; done
"""

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from importlib.metadata import version

import numpy as np

from keras_loretrack.atomic_files import write_text

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "aarch64_runner.py")
DEFAULT_OUTPUT = os.path.join(HERE, "results", "aarch64_check.md")
DEFAULT_WORK = os.path.join(HERE, "work", "aarch64_check")
MODES = ("none", "fp16", "dynamic", "int8", "int8-mixed")
FLOAT_MODES = ("none", "fp16")
MAPS = ("score_map", "size_map", "offset_map")
TEST_VIDEOS = 4
VIDEO_FRAMES = 60
# /proc/cpuinfo of each emulated CPU model: MIDR variant, part, revision and the
# Linux feature names (see the module docstring for why the root needs one).
CPU_MODELS = {
    "cortex-a53": (
        "0x0",
        "0xd03",
        "4",
        "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid",
    ),
    "cortex-a76": (
        "0x4",
        "0xd0b",
        "1",
        "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
        "asimdrdm lrcpc dcpop asimddp ssbs",
    ),
}
HEADER = (
    "| preset | mode | MB | aarch64 CPU (qemu) | loads | max abs diff score / "
    "size / offset | same peak cell | box max diff px | min box IoU | within "
    "tolerance | x86 vs float32 file: box px / IoU |"
)


def export_files(presets, modes, work, calibration_frames):
    """{(preset, mode): path}; exports the files not already in `work`."""
    from keras_loretrack.export import export_tflite
    from keras_loretrack.export.calibration import load_calibration
    from keras_loretrack.models import LoReTrack

    files = {}
    for preset in presets:
        model = None
        for mode in modes:
            path = os.path.join(work, f"{preset}-{mode}.tflite")
            files[preset, mode] = path
            if os.path.exists(path):
                print(f"using {path}", flush=True)
                continue
            model = model or LoReTrack.from_preset(preset)
            calibration = None
            if mode in ("int8", "int8-mixed"):
                calibration = load_calibration(
                    "procedural", model, num_frames=calibration_frames
                )
            export_tflite(model, path, mode, calibration, preset=preset)
            print(f"exported {path}", flush=True)
    return files


def write_inputs(preset, pairs, directory):
    """Saves `pairs` crop pairs of procedural test videos as template/search.npy."""
    from keras_loretrack.export.calibration import calibration_samples
    from keras_loretrack.models import LoReTrack
    from keras_loretrack.sequences.procedural import procedural_dataset

    videos = procedural_dataset(TEST_VIDEOS, split="test", num_frames=VIDEO_FRAMES)
    model = LoReTrack.from_preset(preset, load_weights=False)
    samples = list(calibration_samples(videos, model, num_frames=pairs))
    os.makedirs(directory, exist_ok=True)
    for name in ("template", "search"):
        stacked = np.concatenate([sample[name] for sample in samples])
        np.save(os.path.join(directory, f"{name}.npy"), stacked)
    return len(samples)


def write_cpuinfo(root, cpu):
    """Writes `<root>/proc/cpuinfo` for the emulated `cpu` (see `CPU_MODELS`)."""
    proc = os.path.join(root, "proc")
    if os.path.islink(proc) or not os.path.isdir(proc):
        raise SystemExit(
            f"aarch64_check: {proc} must be a directory (not a link to /proc); "
            "see the setup in --help"
        )
    variant, part, revision, features = CPU_MODELS[cpu]
    entries = [
        f"processor\t: {index}\nBogoMIPS\t: 50.00\nFeatures\t: {features}\n"
        f"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: {variant}\n"
        f"CPU part\t: {part}\nCPU revision\t: {revision}\n"
        for index in range(os.cpu_count())
    ]
    write_text(os.path.join(proc, "cpuinfo"), "\n".join(entries))


def run_runner(prefix, input_dir, output, models, env=None):
    """Runs `aarch64_runner.py` after `prefix`; returns (arrays, error text)."""
    command = prefix + [RUNNER, input_dir, output] + models
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return None, (done.stderr.strip().splitlines() or ["?"])[-1]
    with np.load(output) as data:
        return {key: data[key] for key in data.files}, ""


def decoded_boxes(maps, search_size):
    """Boxes (N, 4) cx, cy, w, h in search-crop pixels and peak cells (N,)."""
    from keras_loretrack.tracking.postprocess import decode_box, hann_window

    scores = maps["score_map"][..., 0]
    window = hann_window(scores.shape[1])
    boxes, cells = [], []
    for score, size, offset in zip(scores, maps["size_map"], maps["offset_map"]):
        box, cell = decode_box(window * score, size, offset)
        boxes.append(box * search_size)
        cells.append(cell[0] * scores.shape[1] + cell[1])
    return np.array(boxes), np.array(cells)


def iou(a, b):
    """IoU of (N, 4) cx, cy, w, h boxes, row by row."""
    lo = np.maximum(a[:, :2] - a[:, 2:] / 2, b[:, :2] - b[:, 2:] / 2)
    hi = np.minimum(a[:, :2] + a[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2)
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    return inter / (np.prod(a[:, 2:], axis=1) + np.prod(b[:, 2:], axis=1) - inter)


def compare(reference, other, search_size):
    """Largest map differences, peak cells agreeing, box differences."""
    diffs = {name: float(np.abs(reference[name] - other[name]).max()) for name in MAPS}
    ref_boxes, ref_cells = decoded_boxes(reference, search_size)
    boxes, cells = decoded_boxes(other, search_size)
    return {
        "maps": diffs,
        "same_cell": int((cells == ref_cells).sum()),
        "box_px": float(np.abs(boxes - ref_boxes).max()),
        "iou": float(iou(boxes, ref_boxes).min()),
    }


def tolerance(mode, args):
    """(map, box px) tolerance: float kernels round alike, int8 ones need not."""
    if mode in FLOAT_MODES:
        return args.float_map_tolerance, args.float_box_tolerance_px
    return args.int8_map_tolerance, args.int8_box_tolerance_px


def row(preset, mode, megabytes, cpu, result, limits, pairs, quantization):
    """One table line; `quantization`: x86 differences from the float32 file."""
    scale = "–"
    if quantization is not None:
        scale = f"{quantization['box_px']:.2f} / {quantization['iou']:.3f}"
    if result is None:
        cells = [preset, mode, megabytes, cpu, "no", "–", "–", "–", "–", "no", scale]
        return "| " + " | ".join(cells) + " |"
    ok = (
        max(result["maps"].values()) <= limits[0]
        and result["same_cell"] == pairs
        and result["box_px"] <= limits[1]
    )
    cells = [
        preset,
        mode,
        megabytes,
        cpu,
        "yes",
        " / ".join(f"{result['maps'][name]:.1e}" for name in MAPS),
        f"{result['same_cell']}/{pairs}",
        f"{result['box_px']:.1e}",
        f"{result['iou']:.6f}",
        "yes" if ok else "**no**",
        scale,
    ]
    return "| " + " | ".join(cells) + " |"


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def to_markdown(rows, x86, arm, qemu, args, pairs, command):
    return "\n".join(
        [
            "# Exported TFLite files on aarch64 (emulated) against x86",
            "",
            f"Command: `{command}`",
            "",
            f"x86: {cpu_name()}, {os.cpu_count()} CPUs, Python {x86['python']} "
            f"({x86['libc']}), ai-edge-litert {x86['ai_edge_litert']}, NumPy "
            f"{x86['numpy']}; files converted with TensorFlow "
            f"{version('tensorflow-cpu')}, keras_loretrack "
            f"{version('keras_loretrack')}.",
            f"aarch64: Debian bookworm arm64 Python {arm['python']} "
            f"({arm['libc']}), ai-edge-litert {arm['ai_edge_litert']}, NumPy "
            f"{arm['numpy']}, under {qemu} (user-mode emulation; the CPU column "
            "names qemu's `-cpu` model and the features the runner saw in its "
            "hwcaps). qemu-user shows the guest the host's x86 /proc/cpuinfo, on "
            "which LiteRT's CPU detection segfaults; the root holds an arm64 "
            "one for the emulated model (MIDR, features), written by the script.",
            "",
            f"Inputs: {pairs} normalised (template, search) crop pairs of "
            f"{TEST_VIDEOS} procedural test videos (never calibrated on), the "
            "same bytes on both machines; one thread, XNNPACK on. Differences "
            "are aarch64 against x86 for the same file; boxes are decoded at the "
            "Hann-windowed score peak, in pixels of the search crop "
            "(cx, cy, w, h). The last column gives the file's own quantisation "
            "error for scale: x86, this file against the float32 file.",
            f"Tolerances: float files ({', '.join(FLOAT_MODES)}): every map's "
            f"max abs diff <= {args.float_map_tolerance:g}, box <= "
            f"{args.float_box_tolerance_px:g} px (float rounding only); integer "
            f"kernels (dynamic, int8-mixed, int8): maps <= "
            f"{args.int8_map_tolerance:g}, box <= {args.int8_box_tolerance_px:g} "
            "px; both: the same peak cell on every pair.",
            "",
            "Emulated runs say nothing about speed on an ARM phone; no time is "
            "measured here.",
            "",
            HEADER,
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        + rows
        + [""]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="mini_teacher")
    parser.add_argument("--modes", default="none,int8-mixed")
    parser.add_argument("--aarch64-root", required=True, help="arm64 Debian root")
    parser.add_argument("--aarch64-python", default="usr/bin/python3.11")
    parser.add_argument("--aarch64-site", default="opt/site", help="unzipped wheels")
    parser.add_argument("--qemu", default="qemu-aarch64-static")
    parser.add_argument("--qemu-cpus", default="cortex-a53,cortex-a76")
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--calibration-frames", type=int, default=64)
    parser.add_argument("--float-map-tolerance", type=float, default=1e-5)
    parser.add_argument("--float-box-tolerance-px", type=float, default=1e-3)
    parser.add_argument("--int8-map-tolerance", type=float, default=0.1)
    parser.add_argument("--int8-box-tolerance-px", type=float, default=1.0)
    parser.add_argument("--work", default=DEFAULT_WORK)
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    presets, modes = args.presets.split(","), args.modes.split(",")
    for mode in modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r} in --modes; expected {MODES}")
    cpus = args.qemu_cpus.split(",")
    for cpu in cpus:
        if cpu not in CPU_MODELS:
            parser.error(
                f"unknown CPU {cpu!r} in --qemu-cpus; expected {sorted(CPU_MODELS)}"
            )
    root = os.path.abspath(args.aarch64_root)
    python = os.path.join(root, args.aarch64_python)
    if not os.path.isfile(python):
        parser.error(f"no aarch64 Python at {python}; see the setup in --help")
    os.makedirs(args.work, exist_ok=True)
    files = export_files(presets, modes, args.work, args.calibration_frames)
    arm_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.path.join(root, args.aarch64_site),
        "PYTHONNOUSERSITE": "1",
    }
    qemu = subprocess.run(
        [args.qemu, "--version"], capture_output=True, text=True
    ).stdout.splitlines()[0]
    rows, arm_info = [], None
    with tempfile.TemporaryDirectory(prefix="aarch64-check-") as tmp:
        for preset in presets:
            inputs = os.path.join(tmp, preset)
            pairs = write_inputs(preset, args.pairs, inputs)
            stems = {
                mode: os.path.splitext(os.path.basename(files[preset, mode]))[0]
                for mode in modes
            }
            models = [files[preset, mode] for mode in modes]
            x86, error = run_runner(
                [sys.executable], inputs, os.path.join(tmp, "x86.npz"), models
            )
            if x86 is None:
                sys.exit(f"aarch64_check: x86 run failed: {error}")
            x86_info = json.loads(str(x86["info"]))
            search_size = np.load(os.path.join(inputs, "search.npy")).shape[1]
            quantization = {mode: None for mode in modes}
            if "none" in modes:
                fp32 = {m: x86[f"{stems['none']}/{m}"] for m in MAPS}
                for mode in modes:
                    if mode != "none":
                        maps = {m: x86[f"{stems[mode]}/{m}"] for m in MAPS}
                        quantization[mode] = compare(fp32, maps, search_size)
            for cpu in cpus:
                write_cpuinfo(root, cpu)
                prefix = [args.qemu, "-L", root, "-cpu", cpu, python, "-s"]
                output = os.path.join(tmp, f"arm-{cpu}.npz")
                arm, error = run_runner(prefix, inputs, output, models, arm_env)
                features = "?"
                if arm is None:
                    print(f"{cpu}: {error}", file=sys.stderr)
                else:
                    arm_info = json.loads(str(arm["info"]))
                    features = "+".join(arm_info["features"])
                for mode in modes:
                    result = None
                    if arm is not None:
                        result = compare(
                            {m: x86[f"{stems[mode]}/{m}"] for m in MAPS},
                            {m: arm[f"{stems[mode]}/{m}"] for m in MAPS},
                            search_size,
                        )
                    megabytes = os.path.getsize(files[preset, mode]) / 1e6
                    rows.append(
                        row(
                            preset,
                            mode,
                            f"{megabytes:.1f}",
                            f"{cpu} ({features})",
                            result,
                            tolerance(mode, args),
                            pairs,
                            quantization[mode],
                        )
                    )
                    print(rows[-1], flush=True)
    if arm_info is None:
        sys.exit("aarch64_check: no aarch64 run succeeded")
    command = " ".join(shlex.quote(a) for a in ["python", *sys.argv])
    write_text(
        args.output, to_markdown(rows, x86_info, arm_info, qemu, args, pairs, command)
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
