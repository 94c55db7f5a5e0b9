"""`loretrack bench`: speed, size, memory and fidelity of every deployment engine."""

import dataclasses
import datetime
import importlib.util
import json
import os
import platform
import sys
import time
import warnings

from keras_loretrack.atomic_files import write_json, write_text
from keras_loretrack.cli.machine_speed import (
    int8_matmul_gmacs,
    matmul_gflops,
    transformer_matmul_shapes,
)

DESCRIPTION = """\
For each preset x engine: median and p90 ms of the model call and of the whole tracker
step, fps, file MB, peak RSS, and fidelity to the Keras float32 model: the largest
absolute difference of each map on real crops, and the mean IoU of the tracker's boxes
against the Keras float32 tracker's over every frame of the real sequences (also per
sequence, beside each tracker's IoU against the ground truth). All engines
run in one process, round-robin in chunks of frames, so that the load of other processes
falls on all of them alike; each runtime waits for work as it does by default (ONNX
Runtime's and OpenMP's workers spin), with a pause after each chunk that lets spinning
workers go idle before the next engine runs; peak RSS comes from a separate process per
engine. Engines: keras, tflite-fp32, tflite-fp16, tflite-dynamic, tflite-int8,
tflite-int8-mixed, onnx, onnx-dynamic, onnx-int8, onnx-int8-unfused (no LayerNorm / GELU
rewrites), onnx-dynamic-8bit and onnx-int8-8bit (8-bit instead of 7-bit weights),
torch-fp32 and torch-int8 (PyTorch dynamic int8 of the Linear layers; the reference
network of tests/reference/torch_ostrack.py with the same weights, run from the
repository root). Presets without weights get seeded, well-scaled random ones
(keras_loretrack.export.randomize_weights). Exports and results are kept in --work-dir,
so an interrupted run resumes.
"""

ENGINES = {
    "keras": ("keras", None),
    "tflite-fp32": ("tflite", "none"),
    "tflite-fp16": ("tflite", "fp16"),
    "tflite-dynamic": ("tflite", "dynamic"),
    "tflite-int8": ("tflite", "int8"),
    "tflite-int8-mixed": ("tflite", "int8-mixed"),
    "onnx": ("onnx", "none"),
    "onnx-dynamic": ("onnx", "dynamic"),
    "onnx-int8": ("onnx", "int8"),
    "onnx-int8-unfused": ("onnx", "int8"),
    "onnx-dynamic-8bit": ("onnx", "dynamic"),
    "onnx-int8-8bit": ("onnx", "int8"),
    "torch-fp32": ("torch", None),
    "torch-int8": ("torch", "dynamic"),
}
DEFAULT_ENGINES = (
    "keras,tflite-fp32,tflite-fp16,tflite-dynamic,tflite-int8,tflite-int8-mixed,"
    "onnx,onnx-int8,torch-fp32,torch-int8"
)
MAP_NAMES = ("score_map", "size_map", "offset_map")
REFERENCE = "keras"
CHUNK = 8
# Seconds between two engines' chunks. ONNX Runtime's spinning workers slowed a
# TFLite call made right after an ONNX Runtime call by 36 ms (res128); 0.1 s
# later, not at all.
SETTLE_SECONDS = 0.2
FIDELITY_PAIRS = 32
WARMUP_CALLS = 3


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
    parser.add_argument("--calibration-frames", type=int, default=64)
    parser.add_argument(
        "--max-frames",
        type=int,
        help="track at most this many frames per sequence (default: all)",
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


def parse_list(text, known=None, what="name"):
    """Splits `a,b` and checks each entry is in `known`."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError(f"Expected a comma-separated list of {what}s, got {text!r}")
    if known is not None:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"Unknown {what}s {unknown}; expected some of {list(known)}"
            )
    return names


# === Models, weights and engines ===


def build_model(preset, load_weights, seed):
    """The Keras model of a preset: its weights, or seeded random ones.

    Returns:
        (model, weights) with weights "preset" or f"random(seed={seed})".
    """
    from keras_loretrack.export import randomize_weights
    from keras_loretrack.models import LoReTrack

    if load_weights:
        try:
            return LoReTrack.from_preset(preset, load_weights=True), "preset"
        except (ValueError, FileNotFoundError):
            pass
    model = LoReTrack.from_preset(preset, load_weights=False)
    return randomize_weights(model, seed), f"random(seed={seed})"


def official_state_dict(model):
    """The model's weights as an official (PyTorch-layout) state dict of arrays."""
    import keras

    from keras_loretrack.checkpoints.official_mapping import official_variables

    state = {}
    for key, (variable, kind) in official_variables(model).items():
        value = keras.ops.convert_to_numpy(variable)
        if kind == "linear":
            value = value.T
        elif kind == "conv":
            value = value.transpose(3, 2, 0, 1)
        elif kind == "position":
            value = value[None]
        state[key] = value
    return state


def torch_reference_module():
    """tests/reference/torch_ostrack.py, importable from the repository root."""
    try:
        from tests.reference import torch_ostrack
    except ImportError as error:
        raise RuntimeError(
            "The PyTorch rows need torch and the reference network "
            "tests/reference/torch_ostrack.py: run `python -m keras_loretrack.cli.main "
            f"bench ...` from the repository root ({error})"
        ) from None
    return torch_ostrack


class TorchEngine:
    """The PyTorch reference network with a model's weights, as a tracker engine.

    Args:
        state_path: str. `.npz` of `official_state_dict`.
        geometry: dict. The model's architecture and crop settings.
        quantized: bool. Apply PyTorch dynamic int8 quantisation to the Linear
            layers (`torch.ao.quantization.quantize_dynamic`).
        threads: int. `torch.set_num_threads`.
    """

    def __init__(self, state_path, geometry, quantized, threads):
        import numpy as np
        import torch

        reference = torch_reference_module()
        torch.set_num_threads(threads)
        network = reference.OSTrackReference(
            search_size=geometry["search_size"],
            template_size=geometry["template_size"],
            patch_size=geometry["patch_size"],
            dim=geometry["hidden_dim"],
            depth=geometry["num_layers"],
            num_heads=geometry["num_heads"],
            mlp_dim=geometry["mlp_dim"],
            head_channels=tuple(geometry["head_channels"]),
            ce_blocks=tuple(geometry["candidate_elimination_blocks"]),
        )
        with np.load(state_path) as arrays:
            state = {k: torch.from_numpy(arrays[k]) for k in arrays.files}
        missing, unexpected = network.load_state_dict(state, strict=False)
        ignored = ("cls_token", "pos_embed", "num_batches_tracked")
        missing = [k for k in missing if not k.endswith(ignored)]
        if missing or unexpected:
            raise ValueError(
                f"PyTorch reference does not fit the weights: missing {missing[:4]}, "
                f"unexpected {unexpected[:4]}"
            )
        network.eval()
        if quantized:
            network = torch.ao.quantization.quantize_dynamic(
                network, {torch.nn.Linear}, dtype=torch.qint8
            )
        self.network = network
        self.torch = torch
        self.name = "torch-int8" if quantized else "torch-fp32"
        for key in ("search_size", "template_size", "feature_size"):
            setattr(self, key, int(geometry[key]))
        for key in ("search_factor", "template_factor"):
            setattr(self, key, float(geometry[key]))

    def __call__(self, template, search):
        torch = self.torch
        with torch.inference_mode():
            out = self.network(
                torch.from_numpy(template.transpose(0, 3, 1, 2).copy()),
                torch.from_numpy(search.transpose(0, 3, 1, 2).copy()),
            )
        return {k: out[k].numpy().transpose(0, 2, 3, 1) for k in MAP_NAMES}


class TimedEngine:
    """Forwards to an engine and records the duration of every call."""

    def __init__(self, engine):
        self.engine = engine
        for key in (
            "search_size",
            "template_size",
            "search_factor",
            "template_factor",
            "feature_size",
        ):
            setattr(self, key, getattr(engine, key))
        self.name = getattr(engine, "name", "engine")
        self.times = []

    def __call__(self, template, search):
        start = time.perf_counter()
        out = self.engine(template, search)
        self.times.append(time.perf_counter() - start)
        return out


def geometry_of(model):
    """What `TorchEngine` and the peak-RSS child processes need about a model."""
    backbone = model.backbone
    return {
        "search_size": model.search_size,
        "template_size": model.template_size,
        "feature_size": model.feature_size,
        "search_factor": model.search_factor,
        "template_factor": model.template_factor,
        "patch_size": backbone.patch_size,
        "hidden_dim": backbone.hidden_dim,
        "num_layers": backbone.num_layers,
        "num_heads": backbone.num_heads,
        "mlp_dim": backbone.mlp_dim,
        "head_channels": list(model.head_channels),
        "candidate_elimination_blocks": list(backbone.candidate_elimination_blocks),
    }


@dataclasses.dataclass
class EngineSpec:
    """How to (re)build one engine, in this process or a child."""

    engine: str
    path: str = ""
    preset: str = ""
    load_weights: bool = False
    seed: int = 0
    geometry: dict = dataclasses.field(default_factory=dict)


def open_engine(spec, threads, model=None):
    """Builds the engine a spec describes (the Keras one from `model` if given)."""
    kind, quantization = ENGINES[spec.engine]
    if kind == "keras":
        from keras_loretrack.tracking import KerasEngine

        if model is None:
            model, _ = build_model(spec.preset, spec.load_weights, spec.seed)
        return KerasEngine(model, name=spec.engine)
    if kind == "tflite":
        from keras_loretrack.tracking.litert_engine import LiteRTEngine

        return LiteRTEngine(spec.path, num_threads=threads, name=spec.engine)
    if kind == "onnx":
        from keras_loretrack.tracking.onnx_engine import OnnxEngine

        return OnnxEngine(spec.path, num_threads=threads, name=spec.engine)
    return TorchEngine(spec.path, spec.geometry, quantization == "dynamic", threads)


def _configure_threads(threads):
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        # TensorFlow already ran in this process (e.g. called from Python):
        # its pools are fixed, so the Keras row uses whatever they were set to.
        warnings.warn(
            "TensorFlow is already initialised in this process; the Keras engine "
            f"keeps its thread pools instead of --threads {threads}",
            stacklevel=2,
        )


def _memory_mb(field):
    """VmRSS / VmHWM of this process from /proc/self/status, in MB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024.0
    raise OSError(f"{field} not in /proc/self/status")


def _rss_child(spec, threads, sample, queue):
    _configure_threads(threads)
    kind = ENGINES[spec.engine][0]
    if kind == "tflite":
        import ai_edge_litert.interpreter  # noqa: F401
    elif kind == "onnx":
        import onnxruntime  # noqa: F401
    elif kind == "torch":
        torch_reference_module()
    import keras_loretrack.tracking  # noqa: F401

    imports_peak = _memory_mb("VmHWM")
    # Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS.
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")
    baseline = _memory_mb("VmRSS")
    engine = open_engine(spec, threads)
    for _ in range(3):
        engine(sample["template"], sample["search"])
    peak = _memory_mb("VmHWM")
    queue.put((max(peak, imports_peak), peak - baseline))


def peak_rss_mb(spec, threads, sample):
    """Peak RSS (MB) of a fresh process that opens `spec`'s engine and runs it.

    Returns:
        (peak, engine): the process's peak, and the peak above the resident
        size after importing the runtime (what the engine itself adds).
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_rss_child, args=(spec, threads, sample, queue))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"peak-RSS process of {spec.engine} failed")
    return queue.get()


# === Exports ===


def engine_file_path(engine, directory):
    """Where `engine`'s exported file goes ("" for keras / torch, which need none)."""
    kind = ENGINES[engine][0]
    if kind in ("keras", "torch"):
        return ""
    return os.path.join(directory, f"{engine}.{kind}")


def _is_current(path, stamp):
    """Whether `path` exists and was exported with this exact `stamp`."""
    stamp_path = f"{path}.json"
    if not (os.path.isfile(path) and os.path.isfile(stamp_path)):
        return False
    with open(stamp_path, encoding="utf-8") as f:
        return json.load(f) == stamp


def export_engine_file(model, engine, directory, calibration, stamp):
    """Exports the file of an engine into `directory` unless an identical one exists.

    Returns:
        str, the file path ("" for keras / torch engines, which need none).
    """
    from keras_loretrack.export import export_onnx, export_tflite

    path = engine_file_path(engine, directory)
    if not path or _is_current(path, stamp):
        return path
    kind, quantization = ENGINES[engine]
    started = time.perf_counter()
    if kind == "tflite":
        export_tflite(model, path, quantization, calibration, preset=stamp["preset"])
    else:
        export_onnx(
            model,
            path,
            quantization,
            calibration,
            preset=stamp["preset"],
            rewrite=engine != "onnx-int8-unfused",
            seven_bit_weights=not engine.endswith("-8bit"),
        )
    print(f"  exported {path} in {time.perf_counter() - started:.0f} s")
    write_json(f"{path}.json", stamp, indent=1, sort_keys=True)
    return path


def _export_child(args, engine, directory, calibration, stamp):
    model, _ = build_model(stamp["preset"], args.load_weights, args.seed)
    export_engine_file(model, engine, directory, calibration, stamp)


def export_in_fresh_process(args, engine, directory, calibration, stamp):
    """`export_engine_file` in a process of its own, with the same model.

    The converters keep memory after each export: the exports of a ViT-B in
    one process outgrew 24 GB (killed at the sixth, res128's first ONNX).
    """
    import multiprocessing

    path = engine_file_path(engine, directory)
    if not path or _is_current(path, stamp):
        return path
    process = multiprocessing.get_context("spawn").Process(
        target=_export_child, args=(args, engine, directory, calibration, stamp)
    )
    process.start()
    process.join()
    if process.exitcode != 0 or not _is_current(path, stamp):
        raise RuntimeError(
            f"Exporting {engine} of {stamp['preset']} failed (exit code "
            f"{process.exitcode})"
        )
    return path


# === Measurements ===


def _percentiles(seconds):
    import numpy as np

    ms = np.asarray(seconds, dtype=np.float64) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 90))


def crop_box(maps, window):
    """The tracker's box in search-crop units (x, y, w, h) from one engine call."""
    import numpy as np

    from keras_loretrack.tracking import postprocess

    (cx, cy, w, h), _ = postprocess.decode_box(
        window * maps["score_map"][0, :, :, 0],
        maps["size_map"][0],
        maps["offset_map"][0],
    )
    return np.array([cx - 0.5 * w, cy - 0.5 * h, w, h])


def map_fidelity(engines, pairs):
    """Open-loop fidelity to the reference engine on the same crops.

    Returns:
        dict engine → {"max_diff": {map: largest |engine - reference|},
        "crop_iou": mean IoU of the boxes decoded (Hann window, argmax,
        offset, size) from the engine's and the reference's maps}.
    """
    import numpy as np

    from keras_loretrack.evaluation.metrics import iou
    from keras_loretrack.tracking import postprocess

    reference = [engines[REFERENCE](p["template"], p["search"]) for p in pairs]
    window = postprocess.hann_window(engines[REFERENCE].feature_size)
    expected_boxes = np.array([crop_box(maps, window) for maps in reference])
    fidelity = {}
    for name, engine in engines.items():
        worst = dict.fromkeys(MAP_NAMES, 0.0)
        boxes = []
        for pair, expected in zip(pairs, reference):
            out = engine(pair["template"], pair["search"])
            boxes.append(crop_box(out, window))
            for key in MAP_NAMES:
                diff = float(np.abs(out[key] - expected[key]).max())
                worst[key] = max(worst[key], diff)
        crop_iou = float(np.mean(iou(np.array(boxes), expected_boxes)))
        fidelity[name] = {"max_diff": worst, "crop_iou": crop_iou}
    return fidelity


def track_round_robin(engines, sequences, max_frames=None):
    """Tracks every sequence with every engine, in chunks of `CHUNK` frames each.

    Returns:
        dict engine → {"boxes": {seq: (N, 4)}, "model": [s], "step": [s]}.
    """
    import numpy as np
    from tqdm import tqdm

    from keras_loretrack.tracking import Tracker

    results = {n: {"boxes": {}, "model": [], "step": []} for n in engines}
    for sequence in sequences:
        count = len(sequence) if max_frames is None else min(len(sequence), max_frames)
        frames = [sequence.frame(i) for i in range(count)]
        trackers = {n: Tracker(TimedEngine(e)) for n, e in engines.items()}
        boxes = {n: [] for n in engines}
        for name, tracker in trackers.items():
            boxes[name].append(tracker.initialize(frames[0], sequence.init_box)["box"])
            tracker.engine.times.clear()
        bar = tqdm(total=(count - 1) * len(engines), desc=sequence.name, leave=False)
        for start in range(1, count, CHUNK):
            for name, tracker in trackers.items():
                for frame in frames[start : start + CHUNK]:
                    began = time.perf_counter()
                    out = tracker.track(frame)
                    results[name]["step"].append(time.perf_counter() - began)
                    boxes[name].append(out["box"])
                    bar.update(1)
                time.sleep(SETTLE_SECONDS)
        bar.close()
        for name, tracker in trackers.items():
            results[name]["model"].extend(tracker.engine.times)
            results[name]["boxes"][sequence.name] = np.array(boxes[name])
    return results


def mean_iou(boxes, reference):
    """Mean IoU over every frame after the first of every sequence."""
    import numpy as np

    from keras_loretrack.evaluation.metrics import iou

    values = [iou(boxes[s][1:], reference[s][1:]) for s in reference]
    return float(np.nanmean(np.concatenate(values)))


def sequence_ious(boxes, reference, sequences):
    """Per sequence: mean IoU against the reference tracker's boxes and against
    the ground truth (frames after the first; ground truth where it is valid)."""
    import numpy as np

    from keras_loretrack.evaluation.metrics import iou

    result = {}
    for sequence in sequences:
        tracked = boxes[sequence.name]
        count = len(tracked)
        truth = np.empty(0)
        if len(sequence.ground_truth) >= count:  # not just the first frame's box
            valid = sequence.valid_mask()[1:count]
            truth = iou(tracked[1:], sequence.ground_truth[1:count])[valid]
        result[sequence.name] = {
            "reference": float(
                np.nanmean(iou(tracked[1:], reference[sequence.name][1:]))
            ),
            "ground_truth": float(np.nanmean(truth)) if truth.size else None,
        }
    return result


def bench_preset(preset, args, engine_names, sequences, cache):
    """Measures every engine of one preset; returns its table rows."""
    from keras_loretrack.export.calibration import calibration_samples
    from keras_loretrack.models.cost import count_macs

    model, weights = build_model(preset, args.load_weights, args.seed)
    directory = os.path.join(args.work_dir, os.path.basename(os.path.normpath(preset)))
    os.makedirs(directory, exist_ok=True)
    calibration = None
    if any(ENGINES[e][1] in ("int8", "int8-mixed") for e in engine_names):
        from keras_loretrack.export.calibration import calibration_sequences

        calibration = calibration_samples(
            calibration_sequences(args.calibration, seed=args.seed),
            model,
            num_frames=args.calibration_frames,
        )
    stamp = {
        "preset": preset,
        "weights": weights,
        "calibration": args.calibration,
        "calibration_frames": args.calibration_frames,
    }
    geometry = geometry_of(model)
    specs = {}
    for name in engine_names:
        path = export_in_fresh_process(args, name, directory, calibration, stamp)
        if ENGINES[name][0] == "torch":
            path = os.path.join(directory, "torch_state.npz")
            if not os.path.isfile(path):
                import numpy as np

                np.savez(path, **official_state_dict(model))
        specs[name] = EngineSpec(
            name, path, preset, args.load_weights, args.seed, geometry
        )
    engines = {n: open_engine(s, args.threads, model) for n, s in specs.items()}
    gflops_before = matmul_gflops(args.threads)
    int8_shapes = None
    if importlib.util.find_spec("onnxruntime") is not None:
        int8_shapes = transformer_matmul_shapes(model)
        int8_before = int8_matmul_gmacs(int8_shapes, args.threads)
    pairs = calibration_samples(sequences, model, num_frames=FIDELITY_PAIRS)
    for engine in engines.values():
        for _ in range(WARMUP_CALLS):
            engine(pairs[0]["template"], pairs[0]["search"])
    fidelity = map_fidelity(engines, pairs)
    tracked = track_round_robin(engines, sequences, args.max_frames)
    gflops = (gflops_before, matmul_gflops(args.threads))
    int8_gmacs = None
    if int8_shapes is not None:
        int8_gmacs = (int8_before, int8_matmul_gmacs(int8_shapes, args.threads))
    gmacs = count_macs(model) / 1e9
    reference_boxes = tracked[REFERENCE]["boxes"]
    rss = {}
    for name, spec in specs.items():
        rss[name] = peak_rss_mb(spec, args.threads, pairs[0])
        peak, own = rss[name]
        print(f"  {name}: peak RSS {peak:.0f} MB ({own:.0f} MB for the engine)")
    rows = []
    for name, spec in specs.items():
        model_median, model_p90 = _percentiles(tracked[name]["model"])
        step_median, step_p90 = _percentiles(tracked[name]["step"])
        rows.append(
            {
                "preset": preset,
                "engine": name,
                "weights": weights,
                "file_mb": os.path.getsize(spec.path) / 1e6 if spec.path else None,
                "peak_rss_mb": rss[name][0],
                "engine_rss_mb": rss[name][1],
                "model_median_ms": model_median,
                "model_p90_ms": model_p90,
                "step_median_ms": step_median,
                "step_p90_ms": step_p90,
                "fps": 1e3 / step_median,
                "max_diff": fidelity[name]["max_diff"],
                "crop_iou": fidelity[name]["crop_iou"],
                "mean_iou": mean_iou(tracked[name]["boxes"], reference_boxes),
                "sequence_iou": sequence_ious(
                    tracked[name]["boxes"], reference_boxes, sequences
                ),
                "partitions": getattr(engines[name], "delegate_partitions", None),
                "frames": len(tracked[name]["step"]),
                "matmul_gflops": gflops,
                "int8_matmul_gmacs": int8_gmacs,
                "gmacs": gmacs,
            }
        )
        cache[f"{preset}/{name}"] = rows[-1]
    return rows


# === Report ===


CHOICES = (
    (
        "TFLite: int8 only in fully-connected / conv layers, float LayerNorm, "
        "softmax, GELU, attention, float I/O (int8-mixed) instead of int8 "
        "everywhere with int8 I/O",
        "tflite-int8",
        "tflite-int8-mixed",
    ),
    (
        "TFLite: static activation ranges from real crops instead of dynamic "
        "per-call quantisation",
        "tflite-dynamic",
        "tflite-int8-mixed",
    ),
    ("TFLite: float32 → int8-mixed", "tflite-fp32", "tflite-int8-mixed"),
    (
        "ONNX: LayerNorm as one LayerNormalization node and GELU in the form "
        "ONNX Runtime fuses, instead of tf2onnx's op-by-op graph",
        "onnx-int8-unfused",
        "onnx-int8",
    ),
    (
        "ONNX: 7-bit instead of 8-bit weights (dynamic int8): no int16 overflow in "
        "ONNX Runtime's AVX2 uint8 × int8 kernel",
        "onnx-dynamic-8bit",
        "onnx-dynamic",
    ),
    (
        "ONNX: 7-bit instead of 8-bit weights (static int8)",
        "onnx-int8-8bit",
        "onnx-int8",
    ),
    (
        "ONNX: static int8 (calibrated) instead of dynamic int8",
        "onnx-dynamic",
        "onnx-int8",
    ),
    ("ONNX: float32 → static int8", "onnx", "onnx-int8"),
    ("PyTorch dynamic int8 → ONNX static int8", "torch-int8", "onnx-int8"),
    ("PyTorch dynamic int8 → TFLite int8-mixed", "torch-int8", "tflite-int8-mixed"),
)


def _format(value, pattern="{:.1f}"):
    return "–" if value is None else pattern.format(value)


def _choices_table(rows):
    by_key = {(r["preset"], r["engine"]): r for r in rows}
    lines = []
    for preset in dict.fromkeys(r["preset"] for r in rows):
        for text, before, after in CHOICES:
            a, b = by_key.get((preset, before)), by_key.get((preset, after))
            if a is None or b is None:
                continue
            lines.append(
                f"| {preset} | {text} | {before} → {after} "
                f"| {a['model_median_ms']:.1f} → {b['model_median_ms']:.1f} "
                f"| {a['crop_iou']:.3f} → {b['crop_iou']:.3f} "
                f"| {a['mean_iou']:.3f} → {b['mean_iou']:.3f} "
                f"| {_format(a.get('partitions'), '{}')} → "
                f"{_format(b.get('partitions'), '{}')} |"
            )
    if not lines:
        return []
    return [
        "",
        "## What each graph choice bought",
        "",
        "| preset | choice | engines | model median ms | crop-box IoU | tracker IoU "
        "| XNNPACK partitions |",
        "|---|---|---|---|---|---|---|",
        *lines,
    ]


def _sequences_table(rows, sequences):
    names = [s.name for s in sequences]
    lines = []
    for r in rows:
        per_sequence = r.get("sequence_iou") or {}
        cells = []
        for name in names:
            value = per_sequence.get(name, {})
            cells.append(
                f"{_format(value.get('reference'), '{:.3f}')} / "
                f"{_format(value.get('ground_truth'), '{:.3f}')}"
            )
        lines.append(f"| {r['preset']} | {r['engine']} | {' | '.join(cells)} |")
    return [
        "",
        "## Closed-loop tracking per sequence",
        "",
        "Mean IoU of each tracker's boxes against the Keras float32 tracker's / "
        "against the ground truth, frames after the first. Where the Keras float32 "
        "tracker has lost the target (its own ground-truth IoU near 0), agreement "
        "with it measures how alike two trackers drift over background, not how "
        "well the engine tracks.",
        "",
        f"| preset | engine | {' | '.join(names)} |",
        f"|---|---|{'---|' * len(names)}",
        *lines,
    ]


def to_markdown(rows, args, sequences):
    """The Markdown report of all rows."""
    import keras_loretrack

    frames = sum(
        len(s) if args.max_frames is None else min(len(s), args.max_frames)
        for s in sequences
    )
    lines = [
        "# Deployment engines: latency, size, memory and fidelity",
        "",
        f"Command: `loretrack bench --presets {args.presets} --engines {args.engines} "
        f"--sequences {args.sequences} --threads {args.threads} --calibration "
        f"{args.calibration} --calibration-frames {args.calibration_frames}"
        f"{f' --max-frames {args.max_frames}' if args.max_frames else ''}`",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; keras_loretrack "
        f"{keras_loretrack.__version__}; {datetime.date.today().isoformat()}. "
        f"{args.threads} threads per runtime.",
        f"Sequences: {', '.join(s.name for s in sequences)} ({frames} frames).",
        "",
        "- model: the engine call alone; step: `Tracker.track` (crop, normalise, "
        f"model, window, decode). Engines run round-robin in chunks of {CHUNK} "
        f"frames in one process, {SETTLE_SECONDS} s apart, each runtime waiting for "
        "work as it does by default (ONNX Runtime's and OpenMP's workers spin); "
        "median and p90 over all tracked frames.",
        "- max abs diff: largest |engine - Keras float32| of the score / size / "
        f"offset maps over {FIDELITY_PAIRS} real crop pairs (maps are in [0, 1], "
        "offsets raw).",
        "- crop-box IoU: on the same crops, IoU of the box the tracker decodes "
        "(Hann window, argmax, offset, size) from the engine's maps and from Keras "
        "float32's (open loop: one step, same input).",
        "- tracker IoU: mean IoU against the Keras float32 tracker's boxes over every "
        "frame after the first, each tracker running on its own previous boxes "
        "(closed loop).",
        "- peak RSS: of a fresh process that imports the runtime, opens the engine "
        "and runs it; in brackets the part above its size after the imports "
        "(TensorFlow is imported in every case: the tracker package needs it). "
        "File MB: the exported file.",
        "",
        "| preset | engine | file MB | peak RSS MB (engine) | model median ms "
        "| model p90 ms "
        "| step median ms | step p90 ms | fps | max abs diff score / size / offset "
        "| crop-box IoU | tracker IoU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        diff = " / ".join(f"{r['max_diff'][k]:.2g}" for k in MAP_NAMES)
        lines.append(
            f"| {r['preset']} | {r['engine']} | {_format(r['file_mb'])} "
            f"| {r['peak_rss_mb']:.0f} ({r['engine_rss_mb']:.0f}) "
            f"| {r['model_median_ms']:.1f} "
            f"| {r['model_p90_ms']:.1f} | {r['step_median_ms']:.1f} "
            f"| {r['step_p90_ms']:.1f} | {r['fps']:.1f} | {diff} "
            f"| {r['crop_iou']:.3f} | {r['mean_iou']:.3f} |"
        )
    weights = sorted({r["weights"] for r in rows})
    lines += ["", f"Weights: {', '.join(weights)}."]
    for preset in dict.fromkeys(r["preset"] for r in rows):
        row = next(r for r in rows if r["preset"] == preset)
        before, after = row["matmul_gflops"]
        lines.append(
            f"{preset}: float32 1024² matrix multiply ran at {before:.0f} GFLOP/s "
            f"before and {after:.0f} GFLOP/s after the timed tracking ({args.threads} "
            "threads, TensorFlow): the machine's speed while it was measured."
        )
        if row.get("int8_matmul_gmacs"):
            before, after = row["int8_matmul_gmacs"]
            floor_ms = row["gmacs"] / max(before, after) * 1e3
            lines.append(
                f"{preset}: ONNX Runtime's uint8 × int8 matrix multiply at the "
                f"transformer's layer shapes ran at {before:.0f} GMAC/s before and "
                f"{after:.0f} GMAC/s after the timed tracking: at the faster rate, the "
                f"model's {row['gmacs']:.2f} GMAC of linear and convolution layers "
                f"need at least {floor_ms:.1f} ms in int8 on this machine, before any "
                "other op."
            )
    lines += _sequences_table(rows, sequences)
    lines += _choices_table(rows)
    return "\n".join(lines) + "\n"


def run(args):
    """Runs the benchmark; returns the process exit status."""
    from keras_loretrack.export.calibration import calibration_sequences

    try:
        engine_names = parse_list(args.engines, ENGINES, "engine")
        presets = parse_list(args.presets, what="preset")
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        if REFERENCE not in engine_names:
            engine_names.insert(0, REFERENCE)
        sequences = calibration_sequences(args.sequences, label="--sequences folder")
        if any(ENGINES[e][0] == "torch" for e in engine_names):
            torch_reference_module()
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"loretrack bench: {error}", file=sys.stderr)
        return 2
    _configure_threads(args.threads)
    os.makedirs(args.work_dir, exist_ok=True)
    cache_path = os.path.join(args.work_dir, "results.json")
    cache = {}
    if os.path.isfile(cache_path) and not args.fresh:
        with open(cache_path, encoding="utf-8") as f:
            cache = json.load(f)
    rows = []
    for preset in presets:
        keys = [f"{preset}/{e}" for e in engine_names]
        if all(k in cache for k in keys):
            print(f"{preset}: kept from {cache_path}")
        else:
            print(f"{preset}: exporting and measuring {len(engine_names)} engines")
            bench_preset(preset, args, engine_names, sequences, cache)
            write_json(cache_path, cache, indent=1, sort_keys=True)
        rows.extend(cache[k] for k in keys)
    table = to_markdown(rows, args, sequences)
    print(table)
    write_text(args.output, table)
    return 0
