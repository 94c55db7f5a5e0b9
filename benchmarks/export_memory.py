"""Peak memory and wall time of `loretrack export`, one process per export.

    python benchmarks/export_memory.py --presets res128 --modes onnx:none,onnx:int8
    python benchmarks/export_memory.py --presets res256 --modes tflite:all

Each export runs as `loretrack export --preset P --no-weights ...` in a fresh
process under `/usr/bin/time -v`; a poller reads the resident set of the whole
process tree from /proc every 0.2 s and kills the tree above `--limit-gb`
(the run is then recorded as killed). Peak RSS is the larger of the poller's
tree maximum and `time -v`'s "Maximum resident set size". Rows are merged into
the existing table (same preset, format, mode and frame count replaced), which
is rewritten atomically; notes written below the table are kept.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

from keras_loretrack.atomic_files import write_text

FORMAT_MODES = {
    "tflite": ("none", "fp16", "dynamic", "int8", "int8-mixed"),
    "onnx": ("none", "dynamic", "int8"),
}
CALIBRATED = ("int8", "int8-mixed")
DEFAULT_OUTPUT = os.path.join(os.path.dirname(__file__), "results", "export_memory.md")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
HEADER = (
    "| preset | format | mode | calibration frames | peak RSS MB | wall s | result |"
)


def parse_modes(text):
    """`tflite:all,onnx:int8` → [("tflite", "none"), ..., ("onnx", "int8")]."""
    modes = []
    for item in text.split(","):
        fmt, _, mode = item.partition(":")
        if fmt not in FORMAT_MODES:
            raise ValueError(f"Unknown format in --modes: {item!r}")
        chosen = FORMAT_MODES[fmt] if mode in ("", "all") else (mode,)
        for m in chosen:
            if m not in FORMAT_MODES[fmt]:
                raise ValueError(f"Unknown {fmt} mode in --modes: {item!r}")
            modes.append((fmt, m))
    return modes


def _children():
    """{parent pid: [child pids]} of every process on the machine."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def tree_rss_kb(pid):
    """Resident set of `pid` and all its descendants, in kB."""
    children = _children()
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, []))
        try:
            with open(f"/proc/{current}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_KB
        except OSError:
            pass
    return total


def _kill_tree(pid):
    children = _children()
    stack, pids = [pid], []
    while stack:
        current = stack.pop()
        pids.append(current)
        stack.extend(children.get(current, []))
    for p in pids:
        try:
            os.kill(p, 9)
        except OSError:
            pass


def measure(command, limit_kb):
    """Runs `command` under `time -v`; returns (peak kB, wall s, rc, killed, log)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        process = subprocess.Popen(
            ["/usr/bin/time", "-v", "-o", report.name] + command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        state = {"peak": 0, "killed": False}

        def poll():
            while process.poll() is None:
                rss = tree_rss_kb(process.pid)
                state["peak"] = max(state["peak"], rss)
                if rss > limit_kb:
                    state["killed"] = True
                    _kill_tree(process.pid)
                    return
                time.sleep(0.2)

        start = time.perf_counter()
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        log = process.communicate()[0]
        wall = time.perf_counter() - start
        poller.join()
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report.read())
    peak = max(state["peak"], int(match.group(1)) if match else 0)
    return peak, wall, process.returncode, state["killed"], log


def export_command(preset, fmt, mode, frames, output):
    command = [
        sys.executable,
        "-m",
        "keras_loretrack.cli.main",
        "export",
        "--preset",
        preset,
        "--no-weights",
        "--format",
        fmt,
        "--quantize",
        mode,
        "--output",
        output,
    ]
    if mode in CALIBRATED:
        command += [
            "--calibration",
            "procedural",
            "--calibration-frames",
            str(frames),
        ]
    return command


def read_table(path):
    """({(preset, format, mode, frames): row line}, notes below the table)."""
    rows, notes, in_table = {}, [], False
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("|"):
                    in_table = True
                    cells = [c.strip() for c in line.strip("|").split("|")]
                    if len(cells) == 7 and cells[0] not in ("preset", "---"):
                        rows[tuple(cells[:4])] = line
                elif in_table:
                    notes.append(line)
    return rows, "\n".join(notes).strip()


def to_markdown(rows, limit_gb, notes=""):
    order = {(f, m): i for i, (f, m) in enumerate(parse_modes("tflite:all,onnx:all"))}
    keys = sorted(rows, key=lambda k: (k[0], order.get(k[1:3], 99), k[3]))
    return "\n".join(
        [
            "# Export memory: peak RSS and wall time per preset and mode",
            "",
            "Command: `python benchmarks/export_memory.py --presets PRESETS "
            "--modes MODES` (each export a fresh `loretrack export --preset P "
            "--no-weights` process; calibrated modes on `--calibration procedural`).",
            "Peak RSS: the process tree's maximum resident set (a /proc poller "
            "every 0.2 s, and `/usr/bin/time -v`). Random weights: memory does not "
            f"depend on their values. Runs above {limit_gb:g} GB are killed "
            "(result `killed`).",
            "",
            HEADER,
            "|---|---|---|---|---|---|---|",
        ]
        + [rows[k] for k in keys]
        + (["", notes] if notes else [])
        + [""]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="res128,res256")
    parser.add_argument("--modes", default="tflite:all,onnx:all")
    parser.add_argument("--calibration-frames", type=int, default=64)
    parser.add_argument("--limit-gb", type=float, default=14.0)
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    parser.add_argument("--label", default="", help="suffix for the result column")
    parser.add_argument("--keep-dir", help="keep the exported files in this folder")
    args = parser.parse_args(argv)
    modes = parse_modes(args.modes)
    rows, notes = read_table(args.output)
    workdir = args.keep_dir or tempfile.mkdtemp(prefix="export-memory-")
    for preset in args.presets.split(","):
        for fmt, mode in modes:
            output = os.path.join(workdir, f"{preset}-{mode}.{fmt}")
            frames = args.calibration_frames if mode in CALIBRATED else "–"
            command = export_command(preset, fmt, mode, frames, output)
            peak, wall, rc, killed, log = measure(command, args.limit_gb * 1e6)
            result = "killed" if killed else ("ok" if rc == 0 else f"exit {rc}")
            if args.label:
                result += f" ({args.label})"
            if rc != 0 and not killed:
                print(log[-3000:], file=sys.stderr)
            key = (preset, fmt, mode, str(frames))
            cells = list(key) + [f"{peak / 1e3:.0f}", f"{wall:.0f}", result]
            rows[key] = f"| {' | '.join(cells)} |"
            print(rows[key], flush=True)
            if os.path.exists(output) and not args.keep_dir:
                os.remove(output)
            write_text(args.output, to_markdown(rows, args.limit_gb, notes))
    if not args.keep_dir:
        os.rmdir(workdir)


if __name__ == "__main__":
    main()
