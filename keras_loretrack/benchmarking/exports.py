"""The bench's exported files: one per engine, each made in a process of its own.

A file is kept in the work folder with a JSON stamp (preset, weights,
calibration) beside it; a file whose stamp matches is not exported again, so an
interrupted bench resumes.
"""

import json
import multiprocessing
import os
import time

from keras_loretrack.atomic_files import write_json
from keras_loretrack.benchmarking.engine_table import ENGINES, SHARED_FILES
from keras_loretrack.benchmarking.engines import build_model


def engine_file_path(engine, directory):
    """Where `engine`'s exported file goes ("" for keras / torch, which need none).

    Engines that run another engine's file (`SHARED_FILES`) share its path.
    """
    engine = SHARED_FILES.get(engine, engine)
    kind = ENGINES[engine][0]
    if kind in ("keras", "torch"):
        return ""
    return os.path.join(directory, f"{engine}.{kind}")


def is_current(path, stamp):
    """Whether `path` exists and was exported with this exact `stamp`."""
    stamp_path = f"{path}.json"
    if not (os.path.isfile(path) and os.path.isfile(stamp_path)):
        return False
    with open(stamp_path, encoding="utf-8") as f:
        return json.load(f) == stamp


def export_engine_file(model, engine, directory, calibration, stamp):
    """Exports the file of an engine into `directory` unless an identical one exists.

    Args:
        model: `LoReTrack`.
        engine: str. A key of `ENGINES`.
        directory: str. The preset's work folder.
        calibration: list of crop pairs, or None (needed by static int8).
        stamp: dict. What the file is made from; its "preset" is recorded.

    Returns:
        str, the file path ("" for keras / torch engines, which need none).
    """
    from keras_loretrack.export import export_onnx, export_tflite

    path = engine_file_path(engine, directory)
    if not path or is_current(path, stamp):
        return path
    engine = SHARED_FILES.get(engine, engine)
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


def _export_child(load_weights, seed, engine, directory, calibration, stamp):
    model, _ = build_model(stamp["preset"], load_weights, seed)
    export_engine_file(model, engine, directory, calibration, stamp)


def export_in_fresh_process(
    engine, directory, calibration, stamp, load_weights=True, seed=0
):
    """`export_engine_file` in a process of its own, with the same model.

    The converters keep memory after each export: the exports of a ViT-B in
    one process outgrew 24 GB (killed at the sixth, res128's first ONNX).

    The child rebuilds the model with `build_model(stamp["preset"],
    load_weights, seed)`; the other arguments are `export_engine_file`'s.
    """
    path = engine_file_path(engine, directory)
    if not path or is_current(path, stamp):
        return path
    process = multiprocessing.get_context("spawn").Process(
        target=_export_child,
        args=(load_weights, seed, engine, directory, calibration, stamp),
    )
    process.start()
    process.join()
    if process.exitcode != 0 or not is_current(path, stamp):
        raise RuntimeError(
            f"Exporting {engine} of {stamp['preset']} failed (exit code "
            f"{process.exitcode})"
        )
    return path
