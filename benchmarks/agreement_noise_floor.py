"""How far two float32 trackers drift apart when their frames differ by one grey level.

    python benchmarks/agreement_noise_floor.py --presets mini_teacher mini_student \
        --output benchmarks/results/agreement_noise_floor.md

The deployment tables score a quantised engine by its closed-loop agreement
with the float32 tracker: the mean IoU of its boxes against the float
tracker's, each tracker running on its own previous boxes. This script
measures what that number is for a perturbation no deployment would call an
error: the same Keras float32 tracker, on frames with independent integer
noise of at most `--levels` grey levels added (clipped to 0..255), against the
tracker on the clean frames. It runs on the sets the quantization bench uses
(`benchmarks/quantization_aware.py`): the procedural test videos where the
clean tracker succeeds (SUC at least 50) and the real sequence bag. Whatever
agreement this gives is the ceiling a quantised engine can be expected to
reach there: a one-step difference in a box moves the next search crop, and
the trajectories part from there.
"""

import argparse
import os
import platform
import sys

from keras_loretrack.atomic_files import write_text
from keras_loretrack.benchmarking.fidelity import mean_iou
from keras_loretrack.tracking import Tracker

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quantization_aware import (  # noqa: E402
    DEFAULT_SEQUENCES,
    TEST_VIDEOS,
    noisy,
    run_tracker,
    succeeded,
    test_sets,
)


def measure(preset, sets, levels, seeds):
    """Rows of one preset: the clean tracker, then one per noise level and seed."""
    tracker = Tracker.from_preset(preset)
    kept = succeeded(tracker, sets)
    reference, rows = {}, []
    clean = {"preset": preset, "levels": 0, "seed": "–"}
    for name, sequences in kept.items():
        reference[name], suc, _ = run_tracker(tracker, sequences)
        clean[name] = {"iou": 1.0, "suc": suc, "count": len(sequences)}
    rows.append(clean)
    for level in levels:
        for seed in range(seeds):
            row = {"preset": preset, "levels": level, "seed": seed}
            for name, sequences in kept.items():
                boxes, suc, _ = run_tracker(
                    tracker, [noisy(s, level, seed) for s in sequences]
                )
                row[name] = {"iou": mean_iou(boxes, reference[name]), "suc": suc}
            rows.append(row)
            print(row, flush=True)
    return rows, list(kept)


def report(rows, set_names, args):
    header = "| preset | noise (grey levels) | seed |"
    rule = "|---|---|---|"
    for name in set_names:
        header += f" {name}: IoU vs clean float32 | {name}: SUC |"
        rule += "---|---|"
    lines = [header, rule]
    for row in rows:
        cells = [row["preset"], f"±{row['levels']}", str(row["seed"])]
        for name in set_names:
            cell = row.get(name)
            cells += [f"{cell['iou']:.3f}", f"{cell['suc']:.1f}"] if cell else ["–"] * 2
        lines.append("| " + " | ".join(cells) + " |")
    counts = ", ".join(
        f"{name}: {rows[0][name]['count']}" for name in set_names if name in rows[0]
    )
    return "\n".join(
        [
            "# Closed-loop agreement under one grey level of noise",
            "",
            "Command: `python benchmarks/agreement_noise_floor.py "
            + " ".join(sys.argv[1:])
            + "`",
            f"Machine: {platform.machine()}, Keras float32 tracker on both sides.",
            "",
            "The same float32 tracker on clean frames and on frames with "
            "independent integer noise in [-k, k] grey levels (clipped), per "
            "noise seed. IoU: mean over frames after the first of the noisy "
            "run's boxes against the clean run's (closed loop, as the deployment "
            "tables' tracker IoU). SUC: against the ground truth. Sets: the "
            f"{args.test_videos} procedural test videos where the clean tracker's "
            f"SUC is at least 50, and bag; videos kept ({counts}).",
            "",
            *lines,
            "",
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["mini_teacher"])
    parser.add_argument("--levels", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sequences", default=DEFAULT_SEQUENCES)
    parser.add_argument("--real", nargs="*", default=["bag"])
    parser.add_argument("--test-videos", type=int, default=TEST_VIDEOS)
    parser.add_argument("--output", required=True, help="Markdown table")
    args = parser.parse_args()
    sets = test_sets(args.test_videos, args.sequences, args.real)
    rows, names = [], []
    for preset in args.presets:
        preset_rows, kept = measure(preset, sets, args.levels, args.seeds)
        rows += preset_rows
        names += [name for name in kept if name not in names]
    text = report(rows, names, args)
    write_text(args.output, text)
    print(text)


if __name__ == "__main__":
    main()
