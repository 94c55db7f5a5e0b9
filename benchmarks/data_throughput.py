"""Training-pipeline throughput on 720p fixtures, with 1 and 2 CPU cores.

    python benchmarks/data_throughput.py --fixtures /tmp/loretrack_fixtures \
        --output benchmarks/results/data_throughput.md

Builds LaSOT-, GOT-10k- and COCO-layout trees of procedural JPEGs (LaSOT and
GOT-10k 1280x720 videos with a panning textured background and a moving
textured target, COCO 640x480 stills with several objects; quality 90, about
the size of real frames) under `--fixtures` (kept and reused), then measures
the training stream the recipes build (`training.datasets.training_data` over
`load_sources(["lasot:train=...", "got10k:train=...", "coco=..."])`, default
`workers`) at two crop geometries: the res384 teacher's (search 384, template
192) and a student's (`--student`, default res256).

Every measurement runs in a process of its own pinned to its cores with
`taskset -c 0` or `taskset -c 0,1`, with TensorFlow's intra- and inter-op pools
and tf.data's private thread pool set to the core count. Such a process times:

- `stages`: the per-pair cost, one pair at a time, of decode alone (the pair
  draw and two `Sequence.frame` reads), decode + crop (jitter, two
  `sample_target` crops, normalisation: `PairAugmentation.validation()`) and
  decode + crop + augment (the default training augmentation);
- `pipeline`: pairs per second out of the `tf.data` stream itself, after
  warm-up batches.

A round runs a machine-rate probe (`machine_speed.matmul_gflops` on one
pinned core) and then every (geometry, cores) process, in reversed order
every other round. Frames are read from the page cache (the fixtures are
small), so disk bandwidth is not part of the figures.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import cv2
import numpy as np

from keras_loretrack.atomic_files import write_json, write_text

SEQUENCE_SIZE = (1280, 720)
COCO_SIZE = (640, 480)
JPEG_QUALITY = 90
FIXTURE_VERSION = 1
# Assumed pairs/s one accelerator consumes when training the res384 teacher.
CONSUMPTION = (
    ("OSTrack-384's reported training speed (4 A100)", 18e6 / (29 * 3600) / 4),
    ("compute-bound A100, 35 % of 312 TFLOP/s", 0.35 * 312e12 / (3 * 2 * 65.3e9)),
)


def _texture(rng, width, height, cell):
    """Smooth colour noise with detail at scale `cell` px."""
    low = rng.integers(0, 256, (height // cell + 2, width // cell + 2, 3), np.uint8)
    return cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)


def _scene(rng, width, height):
    """A background with coarse and fine structure, as camera frames have."""
    coarse = _texture(rng, width, height, 96).astype(np.float32)
    fine = _texture(rng, width, height, 6).astype(np.float32)
    return np.clip(0.75 * coarse + 0.25 * fine, 0, 255).astype(np.uint8)


def _draw_object(image, box, patch):
    x, y, w, h = (int(round(v)) for v in box)
    x1, y1 = max(x, 0), max(y, 0)
    x2, y2 = min(x + w, image.shape[1]), min(y + h, image.shape[0])
    if x2 > x1 and y2 > y1:
        resized = cv2.resize(patch, (w, h), interpolation=cv2.INTER_LINEAR)
        image[y1:y2, x1:x2] = resized[y1 - y : y2 - y, x1 - x : x2 - x]


def _write_jpeg(path, rgb, rng):
    noisy = rgb.astype(np.int16) + rng.integers(-3, 4, rgb.shape, dtype=np.int16)
    bgr = cv2.cvtColor(np.clip(noisy, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f"Could not write fixture frame {path}")


def _video(rng, frame_path, count):
    """Writes `count` frames of a panning scene with a moving target; its boxes.

    `frame_path` is a format string of the 1-based frame number.
    """
    width, height = SEQUENCE_SIZE
    world = _scene(rng, width + 400, height + 200)
    patch = _texture(rng, 160, 160, 12)
    size = rng.uniform(60, 260, 2)
    center = rng.uniform([0.3 * width, 0.3 * height], [0.7 * width, 0.7 * height])
    velocity = rng.normal(0, 6, 2)
    boxes = []
    for index in range(count):
        pan = int(200 + 180 * np.sin(index / 25)), int(100 + 80 * np.cos(index / 31))
        frame = world[pan[1] : pan[1] + height, pan[0] : pan[0] + width].copy()
        center = np.clip(center + velocity, size / 2, [width, height] - size / 2)
        size = np.clip(size * np.exp(rng.normal(0, 0.02, 2)), 30, 400)
        box = np.concatenate([center - size / 2, size])
        _draw_object(frame, box, patch)
        _write_jpeg(frame_path.format(index + 1), frame, rng)
        boxes.append(box)
    return np.asarray(boxes)


def _write_lines(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(f"{line}\n" for line in lines))


def _box_lines(boxes):
    return [",".join(f"{v:.2f}" for v in box) for box in boxes]


def build_lasot(root, rng, sequences, frames):
    names = []
    for k in range(sequences):
        category = ("airplane", "bear", "car", "dog")[k % 4]
        name = f"{category}-{k + 1}"
        folder = os.path.join(root, category, name)
        boxes = _video(rng, os.path.join(folder, "img", "{:08d}.jpg"), frames)
        _write_lines(os.path.join(folder, "groundtruth.txt"), _box_lines(boxes))
        zeros = ",".join("0" for _ in range(frames))
        _write_lines(os.path.join(folder, "full_occlusion.txt"), [zeros])
        _write_lines(os.path.join(folder, "out_of_view.txt"), [zeros])
        names.append(name)
    _write_lines(os.path.join(root, "training_set.txt"), names)


def build_got10k(root, rng, sequences, frames):
    names = [f"GOT-10k_Train_{k + 1:06d}" for k in range(sequences)]
    for name in names:
        folder = os.path.join(root, "train", name)
        boxes = _video(rng, os.path.join(folder, "{:08d}.jpg"), frames)
        _write_lines(os.path.join(folder, "groundtruth.txt"), _box_lines(boxes))
        _write_lines(os.path.join(folder, "absence.label"), ["0"] * frames)
        _write_lines(os.path.join(folder, "cover.label"), ["8"] * frames)
        _write_lines(os.path.join(folder, "cut_by_image.label"), ["0"] * frames)
        _write_lines(
            os.path.join(folder, "meta_info.ini"),
            ["[METAINFO]", "resolution: ({}, {})".format(*SEQUENCE_SIZE)],
        )
    _write_lines(os.path.join(root, "train", "list.txt"), names)


def build_coco(root, rng, images, objects):
    width, height = COCO_SIZE
    records, annotations = [], []
    for k in range(images):
        frame = _scene(rng, width, height)
        for _ in range(objects):
            w, h = rng.uniform(30, 250, 2)
            x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
            _draw_object(frame, (x, y, w, h), _texture(rng, 96, 96, 10))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": k + 1,
                    "category_id": 1,
                    "bbox": [round(float(v), 2) for v in (x, y, w, h)],
                    "iscrowd": 0,
                }
            )
        file_name = f"{k + 1:012d}.jpg"
        _write_jpeg(os.path.join(root, "train2017", file_name), frame, rng)
        records.append(
            {"id": k + 1, "file_name": file_name, "width": width, "height": height}
        )
    content = {
        "images": records,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "object"}],
    }
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    write_json(os.path.join(root, "annotations", "instances_train2017.json"), content)


def build_fixtures(root, sequences, frames, coco_images):
    """The three trees under `root`; reused when a finished build matches."""
    spec = {
        "version": FIXTURE_VERSION,
        "sequences": sequences,
        "frames": frames,
        "coco_images": coco_images,
    }
    marker = os.path.join(root, "fixtures.json")
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8") as f:
            if json.load(f) == spec:
                return
    if os.path.exists(root) and os.listdir(root):
        if not os.path.isfile(marker):
            raise FileExistsError(
                f"--fixtures folder {root} is not empty and holds no fixtures.json; "
                "give an empty or new folder"
            )
        import shutil

        shutil.rmtree(root)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    build_lasot(os.path.join(root, "lasot"), rng, sequences, frames)
    build_got10k(os.path.join(root, "got10k"), rng, sequences, frames)
    build_coco(os.path.join(root, "coco"), rng, coco_images, objects=3)
    write_json(marker, spec)
    print(f"fixtures built in {time.perf_counter() - start:.0f} s under {root}")


def fixture_summary(root):
    """Frames, total MB and mean KB per JPEG for each tree."""
    summary = {}
    for name in ("lasot", "got10k", "coco"):
        sizes = [
            os.path.getsize(os.path.join(folder, file))
            for folder, _, files in os.walk(os.path.join(root, name))
            for file in files
            if file.endswith(".jpg")
        ]
        summary[name] = (len(sizes), sum(sizes) / 1e6, np.mean(sizes) / 1e3)
    return summary


def source_specs(root):
    return [
        f"lasot:train={os.path.join(root, 'lasot')}",
        f"got10k:train={os.path.join(root, 'got10k')}",
        f"coco={os.path.join(root, 'coco')}",
    ]


def geometry_of(preset):
    from keras_loretrack.data.crops import CropGeometry
    from keras_loretrack.models.loretrack_presets import PRESETS

    backbone, task = PRESETS[preset]["backbone"], PRESETS[preset]["task"]
    return CropGeometry(
        backbone["search_size"],
        backbone["template_size"],
        task["search_factor"],
        task["template_factor"],
    )


def configure(cores):
    """TensorFlow's pools at `cores` threads (before any op runs)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(cores)
    tf.config.threading.set_inter_op_parallelism_threads(cores)


def time_stages(sources, geometry, count, seed=1):
    """Median seconds per pair of decode, decode + crop, decode + crop + augment."""
    from keras_loretrack.data.augmentation import PairAugmentation
    from keras_loretrack.data.pipeline import PairProcessor
    from keras_loretrack.data.sampling import PairSampler, sample_rng

    sampler = PairSampler(sources)

    def decode(index):
        pair = sampler.sample(sample_rng(seed, 0, index))
        pair.sequence.frame(pair.template_index)
        if pair.search_index != pair.template_index:
            pair.sequence.frame(pair.search_index)

    crop = PairProcessor(sampler, geometry, PairAugmentation.validation(), seed)
    full = PairProcessor(sampler, geometry, PairAugmentation(), seed)
    stages = {
        "decode": decode,
        "decode+crop": lambda i: crop(0, i),
        "decode+crop+augment": lambda i: full(0, i),
    }
    for function in stages.values():
        function(0)
    times = {name: [] for name in stages}
    for index in range(1, count + 1):
        for name, function in stages.items():
            start = time.perf_counter()
            function(index)
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def machine_busy_seconds():
    """CPU seconds all cores have spent busy since boot (from /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_pipeline(dataset, cores, warmup, batches, batch_size):
    """Pairs per second out of `dataset` after `warmup` batches, and the cores
    this process and all other processes kept busy meanwhile."""
    import tensorflow as tf

    options = tf.data.Options()
    options.threading.private_threadpool_size = cores
    iterator = iter(dataset.with_options(options))
    for _ in range(warmup):
        next(iterator)
    start, busy, own = time.perf_counter(), machine_busy_seconds(), own_cpu_seconds()
    for _ in range(batches):
        next(iterator)
    seconds = time.perf_counter() - start
    own = own_cpu_seconds() - own
    others = machine_busy_seconds() - busy - own
    return batches * batch_size / seconds, own / seconds, max(others, 0) / seconds


def child(args):
    """One pinned measurement; prints its result as one JSON line."""
    configure(args.cores)
    from keras_loretrack.sequences.sources import load_sources
    from keras_loretrack.training.config import TrainingConfig
    from keras_loretrack.training.datasets import training_data

    if args.probe:
        from keras_loretrack.benchmarking.machine_speed import matmul_gflops

        print(json.dumps({"fp32_gflops": matmul_gflops(args.cores)}))
        return
    specs = source_specs(args.fixtures)
    sources, ratios = load_sources(specs)
    geometry = geometry_of(args.geometry)
    config = TrainingConfig(
        output=args.fixtures,
        data=tuple(specs),
        batch_size=args.batch_size,
        samples_per_epoch=args.batch_size * (args.warmup + args.batches),
        seed=0,
    )
    stages = time_stages(sources, geometry, args.stage_pairs)
    rate, own, others = time_pipeline(
        training_data(sources, ratios, geometry, config),
        args.cores,
        args.warmup,
        args.batches,
        args.batch_size,
    )
    result = {
        "stages": stages,
        "pairs_per_s": rate,
        "own_cores": own,
        "other_cores": others,
        "workers": config.workers,
    }
    print(json.dumps(result))


def run_child(args, cores, **extra):
    cpus = ",".join(str(c) for c in range(cores))
    command = ["taskset", "-c", cpus, sys.executable, os.path.abspath(__file__)]
    command += ["--child", "--cores", str(cores), "--fixtures", args.fixtures]
    command += ["--batch-size", str(args.batch_size), "--batches", str(args.batches)]
    command += ["--warmup", str(args.warmup), "--stage-pairs", str(args.stage_pairs)]
    for key, value in extra.items():
        command += [f"--{key.replace('_', '-')}"] + ([] if value is True else [value])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(
            f"measurement {extra} on {cores} core(s) failed "
            f"(exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(args):
    runs = [(g, c) for g in ("res384", args.student) for c in (1, 2)]
    rounds = []
    for index in range(args.rounds):
        probe = run_child(args, 1, probe=True)["fp32_gflops"]
        order = runs if index % 2 == 0 else runs[::-1]
        results = {}
        for geometry, cores in order:
            results[(geometry, cores)] = run_child(args, cores, geometry=geometry)
            print(
                f"round {index + 1}: {geometry} {cores} core(s) "
                f"{results[(geometry, cores)]['pairs_per_s']:.1f} pairs/s"
            )
        rounds.append({"probe": probe, "results": results})
    return rounds


def to_markdown(args, rounds, summary):
    geometries = ("res384", args.student)
    command = (
        f"python benchmarks/data_throughput.py --fixtures {args.fixtures} "
        f"--student {args.student} --rounds {args.rounds} "
        f"--batch-size {args.batch_size} --batches {args.batches} "
        f"--warmup {args.warmup} --stage-pairs {args.stage_pairs}"
    )
    workers = rounds[0]["results"][("res384", 1)]["workers"]
    lines = [
        "# Training data pipeline throughput (720p fixtures, 1 and 2 CPU cores)",
        "",
        f"Command: `{command}`",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} "
        f"CPUs, OpenCV {cv2.__version__}. The stream is "
        "`training.datasets.training_data` as the recipes build it (LaSOT, "
        f"GOT-10k and COCO drawn 1:1:1, `--workers` {workers}, batch "
        f"{args.batch_size}); {args.batches} batches timed after {args.warmup} "
        "warm-up batches.",
        "Fixtures (procedural JPEGs, quality 90, in the page cache): "
        + ", ".join(
            f"{name} {count} frames, {mean_kb:.0f} KB each"
            for name, (count, _, mean_kb) in summary.items()
        )
        + f"; LaSOT and GOT-10k {SEQUENCE_SIZE[0]}x{SEQUENCE_SIZE[1]}, COCO "
        f"{COCO_SIZE[0]}x{COCO_SIZE[1]}.",
        "Cores: each figure comes from its own process started under "
        "`taskset -c 0` (1 core) or `taskset -c 0,1` (2 cores), with "
        "`tf.config.threading.set_intra_op_parallelism_threads(n)`, "
        "`set_inter_op_parallelism_threads(n)` and tf.data "
        "`options.threading.private_threadpool_size = n`. The probe is TensorFlow's "
        "float32 matmul rate on one pinned core at the start of each round.",
        "",
        "| round | probe GFLOP/s | crops (search/template) | pairs/s 1 core | "
        "pairs/s 2 cores | 2-core/1-core | pairs/s per core (2 cores) | "
        "cores busy, own / others (1 core) | (2 cores) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for index, round_ in enumerate(rounds):
        for geometry in geometries:
            single = round_["results"][(geometry, 1)]
            double = round_["results"][(geometry, 2)]
            one, two = single["pairs_per_s"], double["pairs_per_s"]
            sizes = geometry_of(geometry)
            lines.append(
                f"| {index + 1} | {round_['probe']:.1f} | {geometry} "
                f"({sizes.search_size}/{sizes.template_size}) | {one:.1f} | "
                f"{two:.1f} | {two / one:.2f}x | {two / 2:.1f} | "
                f"{single['own_cores']:.2f} / {single['other_cores']:.2f} | "
                f"{double['own_cores']:.2f} / {double['other_cores']:.2f} |"
            )
    ratios = {
        geometry: float(
            np.median(
                [
                    r["results"][(geometry, 2)]["pairs_per_s"]
                    / r["results"][(geometry, 1)]["pairs_per_s"]
                    for r in rounds
                ]
            )
        )
        for geometry in geometries
    }
    lines += [
        "",
        "Median 2-core/1-core ratio over the rounds: "
        + ", ".join(f"{g} {ratio:.2f}x" for g, ratio in ratios.items())
        + ". The last two columns are the cores this process kept busy during the "
        "timed batches and those all other processes of the machine kept busy "
        "meanwhile (from /proc/stat): the machine is shared, and whatever else "
        "runs takes its share from the 2-core process, which needs both cores.",
        "",
        "Per-pair cost of each stage, one pair at a time in the 1-core process "
        "(median ms over the rounds' medians; each row includes the ones above):",
        "",
        "| crops | decode | decode+crop | decode+crop+augment | "
        "decode share | crop share | augment share |",
        "|---|---|---|---|---|---|---|",
    ]
    stage_names = ("decode", "decode+crop", "decode+crop+augment")
    dominant = {}
    for geometry in geometries:
        ms = [
            1e3
            * float(
                np.median([r["results"][(geometry, 1)]["stages"][s] for r in rounds])
            )
            for s in stage_names
        ]
        shares = (ms[0], ms[1] - ms[0], ms[2] - ms[1])
        lines.append(
            f"| {geometry} | {ms[0]:.1f} | {ms[1]:.1f} | {ms[2]:.1f} | "
            + " | ".join(f"{100 * s / ms[2]:.0f} %" for s in shares)
            + " |"
        )
        dominant[geometry] = ("decode", "crop", "augment")[int(np.argmax(shares))]
    lines += [
        "",
        "Dominant stage: "
        + ", ".join(f"{g} {stage}" for g, stage in dominant.items())
        + ". Decode is reading and `cv2.imdecode` of the frames (two for a video "
        "pair, one for a COCO image); "
        "crop is the jitter, the two `sample_target` crops and resizes and the "
        "normalisation; augment adds the joint flip and grayscale of the full "
        "frames and the brightness of the crops. The stream runs the per-sample "
        "work through `tf.numpy_function`, whose OpenCV and NumPy calls release the "
        "GIL, and builds OpenCV single-threaded (`cv2.setNumThreads(1)`): the map "
        "already prepares `--workers` samples at once, and OpenCV's own pool on "
        "top of it oversubscribed the two cores.",
    ]
    per_core = float(
        np.median([r["results"][("res384", 2)]["pairs_per_s"] / 2 for r in rounds])
    )
    lines += [
        "",
        "## Cores per accelerator for a res384 teacher (batch 128, 4 accelerators)",
        "",
        f"Measured: {per_core:.1f} pairs/s per core at res384 crops (median over "
        "rounds of the 2-core rate / 2). The consumption rates below are "
        "assumptions, not measurements:",
        "",
        "| assumed consumption | pairs/s per accelerator | steps/s (batch 128) | "
        "cores per accelerator |",
        "|---|---|---|---|",
    ]
    for name, rate in CONSUMPTION:
        lines.append(
            f"| {name} | {rate:.0f} | {4 * rate / 128:.2f} | "
            f"{rate / per_core:.1f} (so {int(np.ceil(rate / per_core))}) |"
        )
    lines += [
        "",
        "OSTrack's authors report ~29 h for 18·10⁶ pairs (300 epochs × 60k) "
        "of OSTrack-384 without candidate elimination on 4 A100s, from an HDD "
        "(botaoye/OSTrack issue #2): 18e6 / (29 × 3600 s) / 4 ≈ 43 pairs/s per "
        "accelerator, a floor since their loader was disk-bound. The upper row "
        "assumes the step is compute-bound: res384's 65.3 GMACs forward "
        "(benchmarks/results/model_latency.md) × 3 for forward + backward = 392 "
        "GFLOP per pair, on an A100 (312 TFLOP/s bf16) at 35 % utilisation. "
        "Add a core per accelerator for the training loop itself, and the "
        "page-cache or SSD bandwidth (two ~200 KB JPEGs per pair) on top.",
    ]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", required=True, help="fixture folder (reused)")
    parser.add_argument("--student", default="res256", help="student preset's crops")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--stage-pairs", type=int, default=40)
    parser.add_argument("--sequences", type=int, default=4, help="per video tree")
    parser.add_argument("--frames", type=int, default=60, help="per sequence")
    parser.add_argument("--coco-images", type=int, default=60)
    parser.add_argument("--output", default="benchmarks/results/data_throughput.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cores", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--geometry", default="res384", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.fixtures = os.path.abspath(args.fixtures)
    if args.child:
        child(args)
        return
    build_fixtures(args.fixtures, args.sequences, args.frames, args.coco_images)
    rounds = measure(args)
    text = "\n".join(to_markdown(args, rounds, fixture_summary(args.fixtures)))
    print(text)
    write_text(args.output, text + "\n")


if __name__ == "__main__":
    main()
