"""`loretrack export`: a preset → a `.tflite` or `.onnx` a tracker runs alone."""

import os
import sys

from keras_loretrack.cli.arguments import add_model_arguments, load_model, model_name

DESCRIPTION = """\
Export a preset to TFLite (LiteRT, builtin ops only) or ONNX (tf2onnx, checked in ONNX
Runtime). The file records the crop sizes, crop factors and normalisation, so
`loretrack track --model FILE` needs nothing else. TFLite quantisation: none, fp16,
dynamic (int8 weights), int8 (full integer, int8 I/O) or int8-mixed (int8
fully-connected and conv layers, float LayerNorm / softmax / GELU / attention).
ONNX: none, dynamic or int8 (static QDQ), with 7-bit int8 weights (8-bit ones overflow
ONNX Runtime's x86 kernel without VNNI). The static int8 modes calibrate on real
crops cut by the tracker's crop function from --calibration: a folder of OTB-layout
sequences (<seq>/img/, <seq>/groundtruth_rect.txt) or `procedural`.
"""


def quantizations():
    """Quantisation modes per format: {"tflite": (...), "onnx": (...)}."""
    from keras_loretrack.export import onnx, tflite

    return {"tflite": tflite.QUANTIZATIONS, "onnx": onnx.QUANTIZATIONS}


def add_parser(subparsers):
    """Registers the `export` sub-command."""
    parser = subparsers.add_parser(
        "export",
        help="export a preset to .tflite or .onnx (optionally int8)",
        description=DESCRIPTION,
    )
    add_model_arguments(parser, files=False, jit_compile=False)
    parser.add_argument(
        "--format", required=True, choices=("tflite", "onnx"), help="file format"
    )
    parser.add_argument(
        "--quantize",
        default="none",
        choices=("none", "fp16", "dynamic", "int8", "int8-mixed"),
        help="tflite: none, fp16, dynamic, int8, int8-mixed; onnx: none, dynamic, "
        "int8 (default none)",
    )
    parser.add_argument(
        "--calibration",
        help="OTB-layout sequence folder (or `procedural`) for int8 calibration",
    )
    parser.add_argument(
        "--calibration-frames",
        type=int,
        default=64,
        help="crop pairs used for calibration (default 64)",
    )
    parser.add_argument("--output", required=True, help="file to write")
    parser.add_argument(
        "--opset", type=int, default=17, help="ONNX opset, >= 17 (default 17)"
    )
    parser.set_defaults(func=run)
    return parser


def check_arguments(args):
    """Validates the arguments before anything is built.

    Raises:
        ValueError: unknown format or quantisation, missing calibration, bad
            frame count, or an output extension that does not match.
        FileNotFoundError: the calibration directory does not exist.
    """
    from keras_loretrack.export.calibration import PROCEDURAL, calibration_sequences
    from keras_loretrack.export.tflite import CALIBRATED

    formats = quantizations()
    if args.format not in formats:
        raise ValueError(
            f"Unknown export format {args.format!r}; expected one of {sorted(formats)}"
        )
    modes = formats[args.format]
    if args.quantize not in modes:
        raise ValueError(
            f"--quantize {args.quantize!r} is not available for {args.format}; "
            f"expected one of {list(modes)}"
        )
    extension = os.path.splitext(args.output)[1].lower()
    if extension != f".{args.format}":
        raise ValueError(
            f"--output must end in .{args.format} for --format {args.format}, got "
            f"{args.output!r}"
        )
    if args.calibration_frames < 1:
        raise ValueError(
            f"--calibration-frames must be >= 1, got {args.calibration_frames}"
        )
    if args.quantize in CALIBRATED:
        if not args.calibration:
            raise ValueError(
                f"--quantize {args.quantize} needs --calibration: a folder of "
                f"OTB-layout sequences or {PROCEDURAL!r}"
            )
        return calibration_sequences(args.calibration)
    return None


def run(args):
    """Runs the export; returns the process exit status."""
    from keras_loretrack.atomic_files import check_writable

    try:
        sequences = check_arguments(args)
        check_writable(args.output, label="--output")
    except (ValueError, OSError) as error:
        print(f"loretrack export: {error}", file=sys.stderr)
        return 2

    from keras_loretrack.export import export_onnx, export_tflite
    from keras_loretrack.export.calibration import calibration_samples

    try:
        model = load_model(args)
        calibration = None
        if sequences is not None:
            calibration = calibration_samples(
                sequences, model, num_frames=args.calibration_frames
            )
            print(f"calibration: {len(calibration)} crop pairs from {args.calibration}")
    except (ValueError, FileNotFoundError) as error:
        print(f"loretrack export: {error}", file=sys.stderr)
        return 2
    preset = model_name(args)
    try:
        if args.format == "tflite":
            metadata = export_tflite(
                model, args.output, args.quantize, calibration, preset=preset
            )
        else:
            metadata = export_onnx(
                model,
                args.output,
                args.quantize,
                calibration,
                preset=preset,
                opset=args.opset,
            )
    except (ValueError, OSError, RuntimeError) as error:
        print(f"loretrack export: export failed: {error}", file=sys.stderr)
        return 1
    size_mb = os.path.getsize(args.output) / 1e6
    print(
        f"wrote {args.output} ({size_mb:.1f} MB, {args.format} {args.quantize}): "
        f"search {metadata.search_size} px x{metadata.search_factor}, template "
        f"{metadata.template_size} px x{metadata.template_factor}, maps "
        f"{metadata.feature_size}x{metadata.feature_size}"
    )
    return 0
