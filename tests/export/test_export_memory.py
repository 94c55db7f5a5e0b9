"""Calibration streams: more frames do not raise an export's peak memory.

Each export runs in a fresh process (peak RSS of a process only grows) on the
tiny preset with candidate elimination (search 128 / template 64: one crop
pair is 245 kB, so holding 4x more pairs, 144 more, would add 35 MB).
"""

import subprocess
import sys
import weakref

import pytest

from tests.presets import TINY_TEST, TINY_TEST_CE

FEW, MANY = 48, 192
# Run-to-run noise of the peak RSS is a few MB; 144 held pairs would add 35 MB.
MARGIN_MB = 16

_EXPORT = """
import resource, sys
from keras_loretrack.export import calibration_samples, calibration_sequences
from keras_loretrack.export import export_onnx, export_tflite
from keras_loretrack.models import LoReTrack
fmt, mode, frames, path, preset = sys.argv[1:]
model = LoReTrack.from_preset(preset, load_weights=False)
pairs = calibration_samples(calibration_sequences("procedural"), model, int(frames))
export = export_tflite if fmt == "tflite" else export_onnx
export(model, path, mode, pairs)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_rss_mb(fmt, mode, frames, path):
    result = subprocess.run(
        [sys.executable, "-c", _EXPORT, fmt, mode, str(frames), path, TINY_TEST_CE],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stdout.split()[-1]) / 1024


@pytest.mark.parametrize(
    "fmt, mode, runtime",
    [("onnx", "int8", "onnxruntime"), ("tflite", "int8-mixed", "ai_edge_litert")],
)
def test_four_times_more_calibration_frames_keep_the_peak(fmt, mode, runtime, tmp_path):
    pytest.importorskip(runtime)
    pytest.importorskip("skimage")
    few = _peak_rss_mb(fmt, mode, FEW, str(tmp_path / f"few.{fmt}"))
    many = _peak_rss_mb(fmt, mode, MANY, str(tmp_path / f"many.{fmt}"))
    assert many - few <= MARGIN_MB, (
        f"{fmt} {mode}: peak RSS {few:.0f} MB with {FEW} calibration frames, "
        f"{many:.0f} MB with {MANY}"
    )


class _CountingPairs:
    """Crop pairs made on demand that count how many are alive at once."""

    def __init__(self, pairs):
        self._pairs = pairs
        self._alive = []
        self.most_alive = 0

    def __len__(self):
        return len(self._pairs)

    def __getitem__(self, index):
        pair = self._pairs[index]
        self._alive = [ref for ref in self._alive if ref() is not None]
        self._alive.append(weakref.ref(pair["search"]))
        self.most_alive = max(self.most_alive, len(self._alive))
        return pair


@pytest.mark.parametrize(
    "fmt, mode, runtime",
    [("onnx", "int8", "onnxruntime"), ("tflite", "int8", "ai_edge_litert")],
)
def test_calibration_is_read_one_pair_at_a_time(fmt, mode, runtime, tmp_path):
    pytest.importorskip(runtime)
    from keras_loretrack.export import export_onnx, export_tflite
    from keras_loretrack.export.calibration import calibration_samples
    from keras_loretrack.models import LoReTrack
    from tests.export.test_calibration import moving_square_sequence

    model = LoReTrack.from_preset(TINY_TEST, load_weights=False)
    sequence = moving_square_sequence("square", num_frames=33)
    pairs = _CountingPairs(calibration_samples([sequence], model, num_frames=32))
    export = export_tflite if fmt == "tflite" else export_onnx
    export(model, str(tmp_path / f"tiny.{fmt}"), mode, pairs)
    assert pairs.most_alive <= 3, f"{pairs.most_alive} of 32 pairs held at once"
