"""Track with an exported LoReTrack `.tflite` using only LiteRT, NumPy and OpenCV.

    python tflite/run_tflite.py loretrack128.tflite demo/procedural-200000002/img \
        --init 197.32,76.48,35.20,21.83 --threads 2

This is the whole tracker a phone app needs, written out without keras_loretrack so
each step can be ported line by line (Kotlin, Swift, C++): read the crop settings
from the file's metadata, crop and normalise the template once, then for every
frame crop the search region around the previous box, run the model, window the
score map, decode the box and map it back to the image. It prints one `x,y,w,h`
line per frame.
"""

import argparse
import json
import math
import os
import re

import cv2
import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter


def read_metadata(path):
    """The JSON record stored under the `keras_loretrack` metadata entry."""
    with open(path, "rb") as f:
        model = schema.Model.GetRootAs(f.read(), 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == b"keras_loretrack":
            data = model.Buffers(entry.Buffer()).DataAsNumpy()
            return json.loads(bytes(data).decode("utf-8"))
    raise ValueError(f"{path} has no keras_loretrack metadata")


def crop(image, box, factor, size):
    """Square crop of side ceil(sqrt(w*h)*factor) centred on the box, zero padded,
    resized to size x size; returns (crop, size / crop_side)."""
    x, y, w, h = box
    side = math.ceil(math.sqrt(w * h) * factor)
    x1 = round(x + 0.5 * w - 0.5 * side)
    y1 = round(y + 0.5 * h - 0.5 * side)
    height, width = image.shape[:2]
    canvas = np.zeros((side, side, 3), np.uint8)
    sx1, sy1 = max(x1, 0), max(y1, 0)
    sx2, sy2 = min(x1 + side, width - 1), min(y1 + side, height - 1)
    if sx2 > sx1 and sy2 > sy1:
        canvas[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[sy1:sy2, sx1:sx2]
    resized = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_LINEAR)
    return resized, size / side


class LiteRTTracker:
    """OSTrack's tracker around a LoReTrack `.tflite` (see the module doc)."""

    def __init__(self, path, threads=2):
        self.meta = read_metadata(path)
        self.mean = np.array(self.meta["mean"], np.float32)
        self.std = np.array(self.meta["std"], np.float32)
        self.runner = Interpreter(
            model_path=path, num_threads=threads
        ).get_signature_runner()
        self.inputs = self.runner.get_input_details()
        self.outputs = self.runner.get_output_details()
        fs = self.meta["feature_size"]
        hann = 0.5 * (1 - np.cos(2 * np.pi * np.arange(1, fs + 1) / (fs + 1)))
        self.window = np.outer(hann, hann).astype(np.float32)

    def _tensor(self, name, rgb):
        x = (rgb.astype(np.float32) / 255.0 - self.mean) / self.std
        detail = self.inputs[name]
        if detail["dtype"] != np.float32:  # full-int8 files take int8 crops
            scale, zero_point = detail["quantization"]
            info = np.iinfo(detail["dtype"])
            x = np.clip(np.round(x / scale) + zero_point, info.min, info.max)
        return x[None].astype(detail["dtype"])

    def _map(self, outputs, name):
        value = outputs[name][0]
        if value.dtype != np.float32:  # full-int8 files return int8 maps
            scale, zero_point = self.outputs[name]["quantization"]
            value = (value.astype(np.float32) - zero_point) * scale
        return value

    def initialize(self, image, box):
        template, _ = crop(
            image, box, self.meta["template_factor"], self.meta["template_size"]
        )
        self.template = self._tensor("template", template)
        self.box = np.asarray(box, np.float64)

    def track(self, image):
        size = self.meta["search_size"]
        search, resize = crop(image, self.box, self.meta["search_factor"], size)
        outputs = self.runner(
            template=self.template, search=self._tensor("search", search)
        )
        score = self._map(outputs, "score_map")[..., 0]
        fs = score.shape[0]
        iy, ix = divmod(int(np.argmax(self.window * score)), fs)
        off_x, off_y = self._map(outputs, "offset_map")[iy, ix]
        w, h = self._map(outputs, "size_map")[iy, ix]
        scale = size / resize  # image pixels per unit of the search crop
        x, y, pw, ph = self.box
        cx = (ix + off_x) / fs * scale + x + 0.5 * pw - 0.5 * scale
        cy = (iy + off_y) / fs * scale + y + 0.5 * ph - 0.5 * scale
        w, h = w * scale, h * scale
        height, width = image.shape[:2]
        x1 = min(max(0.0, cx - 0.5 * w), width - 10.0)
        y1 = min(max(0.0, cy - 0.5 * h), height - 10.0)
        x2 = min(max(10.0, cx + 0.5 * w), float(width))
        y2 = min(max(10.0, cy + 0.5 * h), float(height))
        self.box = np.array([x1, y1, max(10.0, x2 - x1), max(10.0, y2 - y1)])
        return self.box


def natural_key(name):
    """Sorts `img2.jpg` before `img10.jpg`, as the `loretrack` command does."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="exported .tflite")
    parser.add_argument("frames", help="folder of frames (natural order: 2 before 10)")
    parser.add_argument("--init", required=True, help="first-frame box x,y,w,h")
    parser.add_argument(
        "--threads", type=int, default=2, help="LiteRT threads (default 2)"
    )
    args = parser.parse_args()
    names = sorted(
        (n for n in os.listdir(args.frames) if n.lower().endswith((".jpg", ".png"))),
        key=natural_key,
    )
    tracker = LiteRTTracker(args.model, args.threads)
    for index, name in enumerate(names):
        image = cv2.cvtColor(
            cv2.imread(os.path.join(args.frames, name)), cv2.COLOR_BGR2RGB
        )
        if index == 0:
            box = [float(v) for v in args.init.split(",")]
            tracker.initialize(image, box)
        else:
            box = tracker.track(image)
        print(",".join(f"{v:.2f}" for v in box))


if __name__ == "__main__":
    main()
