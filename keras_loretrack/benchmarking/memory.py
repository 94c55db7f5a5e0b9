"""Peak resident memory of one engine, in a fresh process of its own."""

import multiprocessing

from keras_loretrack.benchmarking.engine_table import ENGINES
from keras_loretrack.benchmarking.engines import (
    configure_threads,
    open_engine,
    torch_reference_module,
)


def memory_mb(field):
    """VmRSS / VmHWM of this process from /proc/self/status, in MB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024.0
    raise OSError(f"{field} not in /proc/self/status")


def _rss_child(spec, threads, sample, queue):
    configure_threads(threads)
    kind = ENGINES[spec.engine][0]
    if kind == "tflite":
        import ai_edge_litert.interpreter  # noqa: F401
    elif kind == "onnx":
        import onnxruntime  # noqa: F401
    elif kind == "openvino":
        import openvino  # noqa: F401
    elif kind == "torch":
        torch_reference_module()
    import keras_loretrack.tracking  # noqa: F401

    imports_peak = memory_mb("VmHWM")
    # Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS.
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")
    baseline = memory_mb("VmRSS")
    engine = open_engine(spec, threads)
    for _ in range(3):
        engine(sample["template"], sample["search"])
    peak = memory_mb("VmHWM")
    queue.put((max(peak, imports_peak), peak - baseline))


def peak_rss_mb(spec, threads, sample):
    """Peak RSS (MB) of a fresh process that opens `spec`'s engine and runs it.

    Args:
        spec: `EngineSpec`.
        threads: int. Threads of the runtime.
        sample: dict {"template", "search"}. One crop pair to run.

    Returns:
        (peak, engine): the process's peak, and the peak above the resident
        size after importing the runtime (what the engine itself adds).
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_rss_child, args=(spec, threads, sample, queue))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"peak-RSS process of {spec.engine} failed")
    return queue.get()
