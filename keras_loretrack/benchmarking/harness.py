"""One bench run: for each preset, export, time and compare every engine.

`run_benchmark` measures each preset not already in the work folder's
`results.json` with `bench_preset` (timing in `rounds`, each engine alone in a
process of its own) and returns every row; the report is
`keras_loretrack.benchmarking.report.to_markdown` of them.
"""

import dataclasses
import importlib.util
import json
import os

import numpy as np

from keras_loretrack.atomic_files import write_json
from keras_loretrack.benchmarking import fidelity
from keras_loretrack.benchmarking.engine_table import ENGINES, REFERENCE
from keras_loretrack.benchmarking.engines import (
    EngineSpec,
    architecture_of,
    build_model,
    configure_threads,
    open_engine,
)
from keras_loretrack.benchmarking.exports import export_in_fresh_process
from keras_loretrack.benchmarking.machine_speed import transformer_matmul_shapes
from keras_loretrack.benchmarking.memory import peak_rss_mb
from keras_loretrack.benchmarking.rounds import floor_kind, floor_ms, measure_round
from keras_loretrack.checkpoints.official_mapping import official_state_dict


@dataclasses.dataclass(frozen=True)
class BenchSettings:
    """What one bench run measures, and how.

    Args:
        presets: tuple of str. Presets (names or directories).
        engines: tuple of str. Keys of `ENGINES`; the reference (`keras`) is
            measured too when absent.
        sequences: str. Folder of the OTB-layout sequences that are tracked.
        threads: int. Threads of every runtime.
        calibration: str. int8 calibration source: OTB-layout folder or
            `procedural`.
        calibration_frames: int. Calibration crop pairs.
        max_frames: int or None. Track at most this many frames per sequence.
        rounds: int. Rounds of timing, each engine alone in its own process
            once per round (see `keras_loretrack.benchmarking.rounds`).
        work_dir: str. Exported files and partial results (resume).
        seed: int. Seed of the random weights.
        load_weights: bool. Use the preset's weights where it has some.
        fresh: bool. Ignore results kept in `work_dir`.
    """

    presets: tuple
    engines: tuple
    sequences: str
    threads: int = 2
    calibration: str = "procedural"
    calibration_frames: int = 64
    max_frames: int = None
    rounds: int = 3
    work_dir: str = os.path.join("benchmarks", "work", "export")
    seed: int = 0
    load_weights: bool = True
    fresh: bool = False

    def __post_init__(self):
        object.__setattr__(self, "presets", tuple(self.presets))
        object.__setattr__(self, "engines", tuple(self.engines))
        if not self.presets or not self.engines:
            raise ValueError("A bench needs at least one preset and one engine")
        unknown = [e for e in self.engines if e not in ENGINES]
        if unknown:
            raise ValueError(
                f"Unknown engines {unknown}; expected some of {list(ENGINES)}"
            )
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")

    @property
    def measured_engines(self):
        """The engines measured: the reference first unless listed."""
        if REFERENCE in self.engines:
            return list(self.engines)
        return [REFERENCE, *self.engines]


def _median(values):
    """Median of the values that are not None; None if there are none."""
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def _timing_fields(name, rounds, gmacs):
    """An engine's row fields from its timings and the probes of every round."""
    timings = [r["engines"][name] for r in rounds]
    kind = floor_kind(name)
    floors = [floor_ms(r["probe"], kind, gmacs) for r in rounds]
    model_ms = [t["model_median_ms"] for t in timings]
    ratios = [None if f is None else ms / f for ms, f in zip(model_ms, floors)]
    step_median = _median(t["step_median_ms"] for t in timings)
    return {
        "rounds": len(rounds),
        "pids": [t["pid"] for t in timings],
        "model_ms_rounds": model_ms,
        "model_median_ms": _median(model_ms),
        "model_p90_ms": _median(t["model_p90_ms"] for t in timings),
        "step_median_ms": step_median,
        "step_p90_ms": _median(t["step_p90_ms"] for t in timings),
        "fps": 1e3 / step_median,
        "frames": timings[0]["frames"],
        "floor_kind": kind,
        "floor_ms_rounds": floors,
        "floor_ratio_rounds": ratios,
        "floor_ratio": _median(ratios),
    }


def bench_preset(preset, settings, sequences, cache, save):
    """Measures every engine of one preset; returns its table rows.

    Each round is kept in `cache` under `"{preset}/round-{i}"` as it is
    measured (`save()` stores the cache), each row under `"{preset}/{engine}"`.
    """
    from keras_loretrack.export.calibration import (
        calibration_samples,
        calibration_sequences,
    )
    from keras_loretrack.models.cost import count_macs

    engine_names = settings.measured_engines
    model, weights = build_model(preset, settings.load_weights, settings.seed)
    directory = os.path.join(
        settings.work_dir, os.path.basename(os.path.normpath(preset))
    )
    os.makedirs(directory, exist_ok=True)
    calibration = None
    if any(ENGINES[e][1] in ("int8", "int8-mixed") for e in engine_names):
        calibration = calibration_samples(
            calibration_sequences(settings.calibration, seed=settings.seed),
            model,
            num_frames=settings.calibration_frames,
        )
    stamp = {
        "preset": preset,
        "weights": weights,
        "calibration": settings.calibration,
        "calibration_frames": settings.calibration_frames,
    }
    architecture = architecture_of(model)
    specs = {}
    for name in engine_names:
        path = export_in_fresh_process(
            name, directory, calibration, stamp, settings.load_weights, settings.seed
        )
        if ENGINES[name][0] == "torch":
            path = os.path.join(directory, "torch_state.npz")
            if not os.path.isfile(path):
                np.savez(path, **official_state_dict(model))
        specs[name] = EngineSpec(
            name, path, preset, settings.load_weights, settings.seed, architecture
        )
    shapes = None
    if importlib.util.find_spec("onnxruntime") is not None:
        shapes = transformer_matmul_shapes(model)
    rounds = []
    for index in range(settings.rounds):
        kept = cache.setdefault(f"{preset}/round-{index + 1}", {})
        rounds.append(measure_round(index, specs, settings, shapes, kept, save))
    threads = settings.threads
    engines = {n: open_engine(s, threads, model) for n, s in specs.items()}
    pairs = calibration_samples(sequences, model, num_frames=fidelity.FIDELITY_PAIRS)
    maps = fidelity.map_fidelity(engines, pairs)
    gmacs = count_macs(model) / 1e9
    boxes = {
        name: {s: np.array(b) for s, b in rounds[0]["engines"][name]["boxes"].items()}
        for name in specs
    }
    rss = {}
    for name, spec in specs.items():
        rss[name] = peak_rss_mb(spec, threads, pairs[0])
        peak, own = rss[name]
        print(f"  {name}: peak RSS {peak:.0f} MB ({own:.0f} MB for the engine)")
    rows = []
    for name, spec in specs.items():
        rows.append(
            {
                "preset": preset,
                "engine": name,
                "weights": weights,
                "file_mb": os.path.getsize(spec.path) / 1e6 if spec.path else None,
                "peak_rss_mb": rss[name][0],
                "engine_rss_mb": rss[name][1],
                **_timing_fields(name, rounds, gmacs),
                "max_diff": maps[name]["max_diff"],
                "crop_iou": maps[name]["crop_iou"],
                "mean_iou": fidelity.mean_iou(boxes[name], boxes[REFERENCE]),
                "sequence_iou": fidelity.sequence_ious(
                    boxes[name], boxes[REFERENCE], sequences
                ),
                "partitions": getattr(engines[name], "delegate_partitions", None),
                "probes": [r["probe"] for r in rounds],
                "gmacs": gmacs,
            }
        )
        cache[f"{preset}/{name}"] = rows[-1]
    return rows


def run_benchmark(settings, sequences):
    """Measures every preset of `settings` not kept in its work folder.

    A preset is kept when every engine's row is there, timed in as many rounds;
    otherwise its exports and the rounds measured so far are reused.

    Args:
        settings: `BenchSettings`.
        sequences: list of `Sequence`. The real sequences to track.

    Returns:
        list of dict, one row per preset and engine (reference included).
    """
    configure_threads(settings.threads)
    os.makedirs(settings.work_dir, exist_ok=True)
    cache_path = os.path.join(settings.work_dir, "results.json")
    cache = {}
    if os.path.isfile(cache_path) and not settings.fresh:
        with open(cache_path, encoding="utf-8") as f:
            cache = json.load(f)
    engine_names = settings.measured_engines

    def save():
        write_json(cache_path, cache, indent=1, sort_keys=True)

    rows = []
    for preset in settings.presets:
        keys = [f"{preset}/{e}" for e in engine_names]
        if all(cache.get(k, {}).get("rounds") == settings.rounds for k in keys):
            print(f"{preset}: kept from {cache_path}")
        else:
            print(f"{preset}: exporting and measuring {len(engine_names)} engines")
            bench_preset(preset, settings, sequences, cache, save)
            save()
        rows.extend(cache[k] for k in keys)
    return rows
