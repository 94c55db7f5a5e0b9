"""Peak memory and wall time of every path a user runs, at full ViT-B size.

    python benchmarks/user_paths.py --workdir /tmp/user_paths \
        --output benchmarks/results/user_paths.md

Each path is one command a user types (`loretrack convert`, `track`, `eval`,
`demo`, and the training recipes, also under MirroredStrategy with mixed
precision and as two local workers), run in its own process under
`/usr/bin/time -v`, one after the other on an otherwise idle machine. The
ViT-B presets (res128, res256) carry random weights: memory and time do not
depend on their values. The inputs are made first and not timed: a checkpoint
in the official OSTrack layout (PyTorch pickle, written from a random res256
model), a random res256 teacher preset, and procedural clips in OTB layout
(the demo's). Exports have their own table (`benchmarks/export_memory.py`).

Each result is kept in `<workdir>/results.json` as it finishes, so a killed
run resumes where it stopped and `--paths` can run a subset.
"""

import argparse
import json
import os
import platform
import re
import shlex
import socket
import subprocess
import sys

from keras_loretrack.atomic_files import write_json, write_text

HERE = os.path.dirname(os.path.abspath(__file__))
RECIPES = os.path.join(HERE, "..", "recipes")
CLIP = "procedural-200000000"


def paths(work):
    """The measured commands by name, with the inputs they need."""
    python = sys.executable
    frames = os.path.join(work, "clips", CLIP, "img")
    with open(os.path.join(work, "clips", CLIP, "groundtruth_rect.txt")) as f:
        init = f.readline().strip()
    training = [
        "--data", "procedural=8", "--samples-per-epoch", "16", "--batch-size", "4",
        "--epochs", "1", "--val-samples", "4", "--skip-eval", "--verbose", "2",
    ]  # fmt: skip
    commands = {
        "convert res256 (official .pth.tar)": [
            "loretrack", "convert", os.path.join(work, "official_res256.pth.tar"),
            "--preset", "res256", "--output", os.path.join(work, "converted256"),
        ],
        "demo (3 clips, mini_teacher)": [
            "loretrack", "demo", "--output-dir", os.path.join(work, "demo"),
        ],
    }  # fmt: skip
    for preset in ("res128", "res256"):
        commands[f"track {preset} (100 frames, video out)"] = [
            "loretrack", "track", "--preset", preset, "--no-weights",
            "--frames", frames, f"--init={init}", "--max-frames", "100",
            "--output-boxes", os.path.join(work, f"{preset}.txt"),
            "--output-video", os.path.join(work, f"{preset}.mp4"),
        ]  # fmt: skip
        commands[f"eval {preset} (3 clips x 50 frames)"] = [
            "loretrack", "eval", "--preset", preset, "--no-weights",
            "--dataset", "folder", "--root", os.path.join(work, "clips"),
            "--results", os.path.join(work, f"eval_{preset}"),
            "--max-frames", "50", "--no-progress",
        ]  # fmt: skip
    commands["train_baseline res128 (4 steps, batch 4)"] = [
        python, os.path.join(RECIPES, "train_baseline.py"), "--preset", "res128",
        "--output", os.path.join(work, "baseline128"), *training,
    ]  # fmt: skip
    commands["train_teacher res256 (4 steps, batch 4)"] = [
        python, os.path.join(RECIPES, "train_teacher.py"), "--preset", "res256",
        "--output", os.path.join(work, "teacher256"), *training,
    ]  # fmt: skip
    distill = [
        os.path.join(RECIPES, "distill_student.py"),
        "--teacher", os.path.join(work, "teacher256_preset"), "--student", "res128",
        *training,
    ]  # fmt: skip
    commands["distill_student res128 from res256 (4 steps, batch 4)"] = [
        python, *distill, "--output", os.path.join(work, "distill128"),
    ]  # fmt: skip
    name = "distill_student res128 from res256, mirrored on 2 CPU devices, bfloat16"
    commands[f"{name} (4 steps, batch 4)"] = [
        python, "-c", TWO_CPU_DEVICES, *distill, "--strategy", "mirrored",
        "--mixed-precision", "--output", os.path.join(work, "distill128_mirrored"),
    ]  # fmt: skip
    baseline = [
        python, os.path.join(RECIPES, "train_baseline.py"), "--preset", "res128",
        "--output", os.path.join(work, "baseline128_workers"), *training,
        "--strategy", "multiworker",
    ]  # fmt: skip
    commands["train_baseline res128, 2 local workers (4 steps, batch 4)"] = [
        "sh",
        "-c",
        two_workers(baseline),
    ]
    return commands


TWO_CPU_DEVICES = (
    "import runpy, sys, tensorflow as tf; "
    "tf.config.set_logical_device_configuration("
    "tf.config.list_physical_devices('CPU')[0], "
    "[tf.config.LogicalDeviceConfiguration()] * 2); "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def two_workers(command):
    """A shell line starting `command` as two workers of one cluster on loopback."""
    sockets = [socket.socket() for _ in range(2)]
    for s in sockets:
        s.bind(("localhost", 0))
    cluster = [f"localhost:{s.getsockname()[1]}" for s in sockets]
    for s in sockets:
        s.close()
    starts = []
    for index in range(2):
        task = {"type": "worker", "index": index}
        config = {"cluster": {"worker": cluster}, "task": task}
        starts.append(
            f"TF_CONFIG={shlex.quote(json.dumps(config))} "
            f"{shlex.join(command)} & p{index}=$!"
        )
    return "; ".join(starts) + "; wait $p0 && wait $p1"


def make_inputs(work):
    """The checkpoint, teacher preset and clips the commands read (not timed)."""
    os.makedirs(work, exist_ok=True)
    checkpoint = os.path.join(work, "official_res256.pth.tar")
    teacher = os.path.join(work, "teacher256_preset")
    clips = os.path.join(work, "clips")
    if not (os.path.exists(checkpoint) and os.path.isdir(teacher)):
        import torch

        from keras_loretrack import LoReTrack
        from keras_loretrack.checkpoints.official_mapping import official_state_dict

        model = LoReTrack.from_preset("res256", load_weights=False)
        state = {k: torch.from_numpy(v) for k, v in official_state_dict(model).items()}
        torch.save({"net": state}, checkpoint)
        model.save_to_preset(teacher)
    if not os.path.isdir(clips):
        subprocess.run(
            ["loretrack", "demo", "--output-dir", clips, "--clips", "3"], check=True
        )
        for name in os.listdir(clips):
            if not os.path.isdir(os.path.join(clips, name)):
                os.remove(os.path.join(clips, name))


def measure(command):
    """Peak RSS (MB) and wall time (s) of one command under /usr/bin/time -v."""
    run = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True
    )
    if run.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({run.returncode}):\n{run.stderr[-3000:]}"
        )
    rss_kb = int(
        re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr)[1]
    )
    clock = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", run.stderr)[1]
    seconds = 0.0
    for part in clock.split(":"):
        seconds = seconds * 60 + float(part)
    return {"peak_rss_mb": rss_kb / 1024, "wall_s": seconds}


def to_markdown(results):
    lines = [
        "# Every user path at full ViT-B size: peak memory and wall time",
        "",
        "Command: `python benchmarks/user_paths.py --workdir /tmp/user_paths "
        "--output benchmarks/results/user_paths.md`",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}. Each command alone in its own process under "
        "`/usr/bin/time -v` (peak RSS is the largest process of the command); "
        "wall time includes importing TensorFlow and building the model. "
        "Random ViT-B weights; `track` reads 1280x720 procedural JPEGs.",
        "",
        "| path | peak RSS MB | wall s |",
        "|---|---|---|",
    ]
    for name, row in results.items():
        lines.append(f"| {name} | {row['peak_rss_mb']:.0f} | {row['wall_s']:.1f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True, help="inputs and outputs")
    parser.add_argument("--output", default=os.path.join(HERE, "results/user_paths.md"))
    parser.add_argument("--paths", nargs="*", help="substrings of path names to run")
    args = parser.parse_args()
    work = os.path.abspath(args.workdir)
    make_inputs(work)
    store = os.path.join(work, "results.json")
    results = {}
    if os.path.exists(store):
        with open(store) as f:
            results = json.load(f)
    for name, command in paths(work).items():
        if name in results or (args.paths and not any(p in name for p in args.paths)):
            continue
        print(f"{name}: {' '.join(command)}", flush=True)
        results[name] = measure(command)
        print(f"  {results[name]}", flush=True)
        write_json(store, results, indent=1)
    write_text(args.output, to_markdown(results))


if __name__ == "__main__":
    main()
