"""`loretrack bench`: speed, size, memory and fidelity of every deployment engine.

The harness is `keras_loretrack.benchmarking`; this module reads the flags.
"""

import os
import sys

from keras_loretrack.atomic_files import write_text
from keras_loretrack.benchmarking.engine_table import DEFAULT_ENGINES, ENGINES
from keras_loretrack.cli.arguments import parse_list
from keras_loretrack.optional import require

DESCRIPTION = """\
For each preset x engine: median and p90 ms of the model call and of the whole tracker
step, fps, file MB, peak RSS, and fidelity to the Keras float32 model: the largest
absolute difference of each map on real crops, and the mean IoU of the tracker's boxes
against the Keras float32 tracker's over every frame of the real sequences (also per
sequence, beside each tracker's IoU against the ground truth). Each engine is timed
alone in a fresh process of its own (runtimes sharing a process compete: ONNX Runtime's
and OpenMP's workers spin while they wait), once per round, the engines' order reversed
every other round; every round first measures the machine's float32 and int8 matrix-
multiply rates in a process of its own, and each engine is also reported as a ratio to
its floor in the same round (the model's multiply-accumulates at the int8 rate for int8
engines, at the float32 rate for the others). Peak RSS comes from a separate process
per engine. Engines: keras, tflite-fp32, tflite-fp16, tflite-dynamic, tflite-int8,
tflite-int8-mixed, onnx, onnx-dynamic, onnx-int8, onnx-int8-unfused (no LayerNorm / GELU
rewrites), onnx-dynamic-8bit and onnx-int8-8bit (8-bit instead of 7-bit weights),
torch-fp32 and torch-int8 (PyTorch dynamic int8 of the Linear layers; the reference
network keras_loretrack.benchmarking.torch_ostrack with the same weights, needs the
torch extra). Presets without weights get seeded, well-scaled random ones
(keras_loretrack.export.randomize_weights). Exports and results are kept in --work-dir,
so an interrupted run resumes.
"""


def add_parser(subparsers):
    """Registers the `bench` sub-command."""
    parser = subparsers.add_parser(
        "bench",
        help="latency, size, memory and fidelity of the export engines",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--presets", default="res128", help="comma-separated presets (default res128)"
    )
    parser.add_argument(
        "--engines",
        default=DEFAULT_ENGINES,
        help=f"comma-separated engines among {list(ENGINES)}",
    )
    parser.add_argument(
        "--sequences", required=True, help="folder of OTB-layout real sequences"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="threads of every runtime (default 2)"
    )
    parser.add_argument("--output", required=True, help="Markdown file to write")
    parser.add_argument(
        "--calibration",
        default="procedural",
        help="int8 calibration source: OTB-layout folder or `procedural` (default)",
    )
    parser.add_argument(
        "--calibration-frames",
        type=int,
        default=64,
        help="frames used to calibrate the int8 exports (default 64)",
    )
    parser.add_argument(
        "--max-frames",
        type=int,
        help="track at most this many frames per sequence (default: all)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of timing, each engine alone in its own process (default 3)",
    )
    parser.add_argument(
        "--work-dir",
        default=os.path.join("benchmarks", "work", "export"),
        help="exported files and partial results (resume)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random weights' seed")
    parser.add_argument(
        "--no-weights",
        dest="load_weights",
        action="store_false",
        help="use seeded random weights even if the preset has weights",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="ignore results kept in --work-dir"
    )
    parser.set_defaults(func=run)
    return parser


def run(args):
    """Runs the benchmark; returns the process exit status."""
    from keras_loretrack.benchmarking.engines import torch_reference_module
    from keras_loretrack.benchmarking.harness import BenchSettings, run_benchmark
    from keras_loretrack.benchmarking.report import to_markdown
    from keras_loretrack.export.calibration import calibration_sequences

    try:
        engines = parse_list(args.engines, ENGINES, "engine")
        presets = parse_list(args.presets, what="preset")
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        if args.rounds < 1:
            raise ValueError(f"--rounds must be >= 1, got {args.rounds}")
        settings = BenchSettings(
            presets=presets,
            engines=engines,
            sequences=args.sequences,
            threads=args.threads,
            calibration=args.calibration,
            calibration_frames=args.calibration_frames,
            max_frames=args.max_frames,
            rounds=args.rounds,
            work_dir=args.work_dir,
            seed=args.seed,
            load_weights=args.load_weights,
            fresh=args.fresh,
        )
        sequences = calibration_sequences(args.sequences, label="--sequences folder")
        if any(ENGINES[e][0] == "torch" for e in engines):
            torch_reference_module()
        if any(ENGINES[e][0] == "openvino" for e in engines):
            require("openvino", "openvino", "The OpenVINO engines")
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as error:
        print(f"loretrack bench: {error}", file=sys.stderr)
        return 2
    rows = run_benchmark(settings, sequences)
    table = to_markdown(rows, settings, sequences)
    print(table)
    write_text(args.output, table)
    return 0
