"""
Title: LoReTrack in miniature: teacher, plain student, distilled student
Author: keras_loretrack
Description: The paper's main comparison on procedural videos, on 2 CPU cores.

LoReTrack's claim (DESIGN §6) is that a low-resolution student trained with
QKV-KD and Disc-KD from a frozen high-resolution twin tracks better than the same
student trained on the tracking losses alone. This recipe checks that claim in
miniature, end to end on a CPU:

1. one fixed set of training pairs is cropped once from procedural videos at the
   teacher's resolution (`mini_teacher`, search 128 / template 64) and shared by
   every run, so all students see identical content;
2. the teacher trains on them with the tracking losses;
3. the plain student (`mini_student`, 64 / 32, same architecture) trains on the
   same crops resized bilinearly to its size, exactly as the distiller resizes
   them;
4. the distilled student (QKV-KD + Disc-KD, the paper's weights) and the two
   ablations (each term alone) train from the frozen teacher on the same data;
5. every model runs one-pass evaluation on held-out procedural test videos
   (`split="test"`) and on the real sequences of `--sequences`, and the table is
   written to `benchmarks/results/miniature_replication.md`.

Students run with several seeds (initialisation and batch order) and the table
shows mean ± std. Nothing is tuned on the test set. The shipped `mini_student`
starts from the distilled seed with the best validation IoU (procedural
`split="val"`) and distils `ship_steps` more steps from the same teacher; the
teacher ships as trained. An untrained student is evaluated too, as the chance
level.

Differences from the paper, forced by the budget: no MAE start (no pretrained
weights here), so the backbone trains at the head's learning rate; about a
thousand steps instead of 300 epochs; a clip norm of 1.0 (0.1 suits fine-tuning
from MAE, not training from scratch). The score head starts at the focal-loss
prior (score 0.01, `CenterHead`), without which the first few hundred steps go
to lowering a 0.5 score on every background cell.

Full run (61 minutes measured on 2 quiet CPU cores), shipping the weights:

    python recipes/miniature_replication.py --budget full --ship

Smoke run (seconds):

    python recipes/miniature_replication.py --budget small --output /tmp/mini

Every step writes its result atomically and is skipped when it exists, so
rerunning the command after a kill continues where it stopped.
"""

"""
## Setup
"""

import os  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from keras_loretrack import LoReTrack  # noqa: E402
from keras_loretrack.atomic_files import (  # noqa: E402
    atomic_output,
    write_json,
    write_text,
)
from keras_loretrack.data.crops import IMAGENET_MEAN as MEAN  # noqa: E402
from keras_loretrack.data.crops import IMAGENET_STD as STD  # noqa: E402
from keras_loretrack.data.pipeline import (  # noqa: E402
    make_training_dataset,
    make_validation_dataset,
)
from keras_loretrack.data.procedural import make_sequence  # noqa: E402
from keras_loretrack.evaluation.datasets import get_dataset, limit_frames  # noqa: E402
from keras_loretrack.evaluation.metrics import (  # noqa: E402
    sequence_curves,
    sequence_errors,
    summarize,
)
from keras_loretrack.evaluation.runner import track_sequence  # noqa: E402
from keras_loretrack.models.cost import count_macs  # noqa: E402
from keras_loretrack.models.loretrack_distiller import LoReTrackDistiller  # noqa: E402
from keras_loretrack.models.preset_io import PACKAGED_PRESETS_DIR  # noqa: E402
from keras_loretrack.training.optimizers import build_optimizer  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED_RANGE_TEST = 200_000_000

"""
## Budgets

`full` fits in about an hour of 2 CPU cores; `small` checks the plumbing in
seconds. `steps` are optimizer steps, split into `epochs` (validation and the
loss curves are per epoch).
"""

BUDGETS = {
    "full": {
        "train_pairs": 5120,
        "val_pairs": 256,
        "train_videos": 160,
        "val_videos": 16,
        "batch_size": 16,
        "teacher_steps": 1200,
        "student_steps": 600,
        "epochs": 5,
        "seeds": 3,
        "ablation_seeds": 1,
        "ship_steps": 1200,
        "test_videos": 12,
        "test_frames": 100,
        "real_frames": None,
    },
    "small": {
        "train_pairs": 32,
        "val_pairs": 16,
        "train_videos": 4,
        "val_videos": 2,
        "batch_size": 8,
        "teacher_steps": 2,
        "student_steps": 2,
        "epochs": 1,
        "seeds": 1,
        "ablation_seeds": 1,
        "ship_steps": 2,
        "test_videos": 1,
        "test_frames": 6,
        "real_frames": 6,
    },
}

# Student variants: distiller arguments (None: plain training, no teacher).
VARIANTS = {
    "plain": None,
    "distilled": {},
    "qkv_only": {"disc_weight": 0.0},
    "disc_only": {"qkv_blocks": ()},
}
VARIANT_LABELS = {
    "teacher": "teacher (mini_teacher, 128 px)",
    "plain": "plain student (64 px)",
    "distilled": "LoReTrack student: QKV-KD + Disc-KD (64 px)",
    "qkv_only": "ablation: QKV-KD only (64 px)",
    "disc_only": "ablation: Disc-KD only (64 px)",
    "shipped": "shipped mini_student: best distilled seed, distilled longer",
    "random": "untrained student (random weights, for scale)",
}


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(
        description="Miniature LoReTrack replication on procedural videos.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="full")
    parser.add_argument("--output", default=os.path.join(REPO, "runs", "miniature"))
    parser.add_argument(
        "--report",
        default=None,
        help="Markdown table (default benchmarks/results/miniature_replication.md "
        "for --budget full, <output>/miniature_replication.md otherwise)",
    )
    parser.add_argument("--teacher-preset", default="mini_teacher")
    parser.add_argument("--student-preset", default="mini_student")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument(
        "--sequences",
        default=os.environ.get(
            "LORETRACK_SEQUENCES",
            os.path.join(os.path.dirname(REPO), "shared", "data", "sequences"),
        ),
        help="folder of OTB-layout real sequences (skipped when absent)",
    )
    parser.add_argument(
        "--stages",
        default="data,teacher,students,finetune,evaluate,report",
        help="comma-separated subset of data,teacher,students,finetune,evaluate,report",
    )
    parser.add_argument(
        "--ship",
        action="store_true",
        help="copy the teacher and the chosen distilled student into "
        "keras_loretrack/presets/ (mini_teacher, mini_student)",
    )
    return parser.parse_args(argv)


"""
## Run records
"""


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


"""
## Data: one fixed set of pairs at the teacher's resolution

The standard pipeline (`make_training_dataset`: LoReTrack's sampler, jitter and
augmentation) crops epoch 0 of a stream once; the crops are stored as uint8 so
every run reads the same pairs from memory instead of rendering videos again.
"""


def to_uint8(normalized):
    return np.clip(np.rint((normalized * STD + MEAN) * 255.0), 0, 255).astype(np.uint8)


def build_pairs(path, dataset, count, desc):
    """Stores `count` pairs of `dataset` in `path` (.npz), atomically."""
    if os.path.isfile(path):
        return
    templates, searches, boxes = [], [], []
    with tqdm(total=count, desc=desc, unit="pair") as bar:
        for inputs, targets in dataset:
            templates.append(to_uint8(inputs["template"].numpy()))
            searches.append(to_uint8(inputs["search"].numpy()))
            boxes.append(targets["box"].numpy())
            bar.update(len(boxes[-1]))
    with atomic_output(path) as temporary:
        np.savez(
            temporary,
            template=np.concatenate(templates),
            search=np.concatenate(searches),
            box=np.concatenate(boxes),
        )


def prepare_data(budget, teacher, data_dir):
    os.makedirs(data_dir, exist_ok=True)
    from keras_loretrack.data.procedural import procedural_dataset

    crop = {
        "search_size": teacher.search_size,
        "template_size": teacher.template_size,
        "search_factor": teacher.search_factor,
        "template_factor": teacher.template_factor,
        "batch_size": 16 if budget["train_pairs"] >= 16 else budget["train_pairs"],
        "num_parallel_calls": 2,
    }
    build_pairs(
        os.path.join(data_dir, "train.npz"),
        make_training_dataset(
            [procedural_dataset(budget["train_videos"], split="train")],
            samples_per_epoch=budget["train_pairs"],
            num_epochs=1,
            seed=0,
            **crop,
        ),
        budget["train_pairs"],
        "train pairs",
    )
    build_pairs(
        os.path.join(data_dir, "val.npz"),
        make_validation_dataset(
            [procedural_dataset(budget["val_videos"], split="val")],
            num_samples=budget["val_pairs"],
            seed=1,
            **crop,
        ),
        budget["val_pairs"],
        "val pairs",
    )


def load_pairs(path):
    with np.load(path) as data:
        return {k: data[k] for k in ("template", "search", "box")}


def pair_dataset(pairs, batch_size, template_size, search_size, seed=None):
    """Batches of normalised crops resized to a model's size.

    The resize is the distiller's (`ops.image.resize`, bilinear, no antialias)
    applied to the normalised teacher crops, so plain and distilled students
    see the same pixels. `seed` None gives one ordered pass (validation), an
    int an endless shuffled stream.
    """
    import tensorflow as tf

    def prepare(template, search, box):
        template = normalize_tensor(template)
        search = normalize_tensor(search)
        if template.shape[1] != template_size:
            template = keras.ops.image.resize(
                template, (template_size, template_size), antialias=False
            )
        if search.shape[1] != search_size:
            search = keras.ops.image.resize(
                search, (search_size, search_size), antialias=False
            )
        return {"template": template, "search": search}, {"box": box}

    data = tf.data.Dataset.from_tensor_slices(
        (pairs["template"], pairs["search"], pairs["box"])
    )
    if seed is not None:
        data = data.shuffle(len(pairs["box"]), seed=seed).repeat()
    data = data.batch(batch_size, drop_remainder=seed is not None)
    return data.map(prepare).prefetch(2)


def normalize_tensor(images):
    import tensorflow as tf

    images = tf.cast(images, tf.float32) / 255.0
    return (images - MEAN) / STD


"""
## Training runs

A run folder holds `preset/` (the trained model) and `history.json` (per-epoch
training and validation metrics); `history.json` is written last, so a run
with it is finished and skipped.
"""


def make_optimizer(model, budget, learning_rate, steps):
    epochs = budget["epochs"]
    return build_optimizer(
        model.backbone.trainable_variables,
        learning_rate=learning_rate,
        epochs=epochs,
        steps_per_epoch=steps // epochs,
        backbone_multiplier=1.0,
        weight_decay=1e-4,
        global_clipnorm=1.0,
    )


def fit_run(model, trained, train, val, budget, steps, run_dir, label):
    """Fits `model` (a `LoReTrack` or distiller) and writes the run folder."""
    epochs = budget["epochs"]
    start = time.perf_counter()
    print(f"[{label}] {steps} steps of {budget['batch_size']}", flush=True)
    history = model.fit(
        train,
        epochs=epochs,
        steps_per_epoch=steps // epochs,
        validation_data=val,
        verbose=2,
    )
    seconds = time.perf_counter() - start
    trained.save_to_preset(os.path.join(run_dir, "preset"))
    write_json(
        os.path.join(run_dir, "history.json"),
        {
            "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
            "train_seconds": seconds,
            "steps": steps,
            "batch_size": budget["batch_size"],
        },
    )


def run_done(run_dir):
    return os.path.isfile(os.path.join(run_dir, "history.json"))


def train_teacher(args, budget, data, run_dir):
    if run_done(run_dir):
        return
    keras.utils.set_random_seed(0)
    model = LoReTrack.from_preset(args.teacher_preset, load_weights=False)
    size = (model.template_size, model.search_size)
    model.compile(
        optimizer=make_optimizer(
            model, budget, args.learning_rate, budget["teacher_steps"]
        )
    )
    fit_run(
        model,
        model,
        pair_dataset(data["train"], budget["batch_size"], *size, seed=0),
        pair_dataset(data["val"], budget["batch_size"], *size),
        budget,
        budget["teacher_steps"],
        run_dir,
        "teacher",
    )


def train_student(args, budget, data, variant, seed, teacher_dir, run_dir):
    if run_done(run_dir):
        return
    keras.utils.set_random_seed(seed)
    student = LoReTrack.from_preset(args.student_preset, load_weights=False)
    steps = budget["student_steps"]
    options = VARIANTS[variant]
    if options is None:
        model = student
        size = (student.template_size, student.search_size)
    else:
        teacher = LoReTrack.from_preset(teacher_dir)
        model = LoReTrackDistiller(student, teacher, **options)
        size = (teacher.template_size, teacher.search_size)
    model.compile(optimizer=make_optimizer(student, budget, args.learning_rate, steps))
    fit_run(
        model,
        student,
        pair_dataset(data["train"], budget["batch_size"], *size, seed=seed),
        pair_dataset(data["val"], budget["batch_size"], *size),
        budget,
        steps,
        run_dir,
        f"{variant} seed {seed}",
    )


def finetune_student(args, budget, data, start_dir, teacher_dir, run_dir):
    """Distils a trained student further from the same teacher (the shipped model).

    The shipped `mini_student` starts from the distilled seed with the best
    validation IoU and trains `ship_steps` more steps with the full LoReTrack
    loss (tracking + QKV-KD + Disc-KD) on the same pairs.
    """
    if run_done(run_dir):
        return
    keras.utils.set_random_seed(0)
    student = LoReTrack.from_preset(start_dir)
    teacher = LoReTrack.from_preset(teacher_dir)
    model = LoReTrackDistiller(student, teacher)
    size = (teacher.template_size, teacher.search_size)
    steps = budget["ship_steps"]
    model.compile(optimizer=make_optimizer(student, budget, args.learning_rate, steps))
    fit_run(
        model,
        student,
        pair_dataset(data["train"], budget["batch_size"], *size, seed=100),
        pair_dataset(data["val"], budget["batch_size"], *size),
        budget,
        steps,
        run_dir,
        "shipped student",
    )


def best_distilled(runs):
    """The distilled run with the best final validation IoU."""
    distilled = {n: h for n, (v, h) in runs.items() if v == "distilled"}
    if not distilled:
        raise ValueError("No finished distilled student run")
    return max(distilled, key=lambda n: distilled[n]["history"]["val_iou"][-1])


"""
## One-pass evaluation

Procedural test videos (seeds of `split="test"`, never used for any choice) are
rendered once into memory, so timing measures the tracker only; the real
sequences are read from disk. fps is frames over the tracker's own time on
the procedural set (frame decoding excluded).
"""


def test_sets(args, budget):
    procedural = [
        make_sequence(SEED_RANGE_TEST + i, num_frames=budget["test_frames"]).in_memory()
        for i in tqdm(range(budget["test_videos"]), desc="render test videos")
    ]
    sets = {"procedural": procedural}
    if os.path.isdir(args.sequences):
        real = get_dataset("folder", args.sequences)
        sets["real"] = [
            limit_frames(sequence, budget["real_frames"]).in_memory()
            for sequence in real
        ]
    else:
        print(f"No real sequences at {args.sequences}; skipping them")
    return sets


def evaluate_model(model, sequences):
    from keras_loretrack.tracking.tracker import Tracker

    tracker = Tracker.from_model(model)
    # One warm-up frame so graph building is not counted in the fps.
    tracker.initialize(sequences[0].frame(0), sequences[0].init_box)
    tracker.track(sequences[0].frame(1))
    curves, frames, seconds = [], 0, 0.0
    for sequence in sequences:
        result = track_sequence(tracker, sequence)
        errors = sequence_errors(
            result["boxes"], sequence.ground_truth, sequence.visible, name=sequence.name
        )
        curves.append(sequence_curves(errors))
        frames += len(result["times"]) - 1
        seconds += float(np.sum(result["times"][1:]))
    summary = {k: v for k, v in summarize(curves).items() if k != "curves"}
    summary["fps"] = frames / seconds if seconds > 0 else float("nan")
    summary["sequences"] = len(sequences)
    return summary


def evaluate_run(run_dir, sets):
    path = os.path.join(run_dir, "evaluation.json")
    if os.path.isfile(path):
        return read_json(path)
    model = LoReTrack.from_preset(os.path.join(run_dir, "preset"))
    result = {"macs": int(count_macs(model)), "params": int(model.count_params())}
    for name, sequences in sets.items():
        result[name] = evaluate_model(model, sequences)
    write_json(path, result)
    return result


"""
## Report
"""


def seed_spread(values):
    """Sample standard deviation over seeds; 0 for a single run."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def mean_std(values):
    values = np.asarray(values, np.float64)
    if np.isnan(values).all():
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"


def plot_curves(runs, path):
    """Validation focal loss and IoU per epoch, and the Disc-KD mask fraction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [
        ("val_focal", "val focal loss (tracking)"),
        ("val_iou", "val IoU"),
        ("mask_fraction", "Disc-KD mask fraction (train)"),
    ]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    colors = {
        "teacher": "k",
        "plain": "tab:blue",
        "distilled": "tab:red",
        "qkv_only": "tab:green",
        "disc_only": "tab:orange",
        "shipped": "tab:purple",
        "random": "tab:gray",
    }
    for (key, title), axis in zip(keys, axes):
        for name, (variant, history) in sorted(runs.items()):
            values = history["history"].get(key)
            if values:
                axis.plot(
                    range(1, len(values) + 1),
                    values,
                    color=colors[variant],
                    alpha=0.7,
                    marker="o",
                    label=name,
                )
        axis.set_title(title)
        axis.set_xlabel("epoch")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=90)
    plt.close(figure)


def write_report(args, budget, runs, evaluations, path, command):
    """The Markdown table (mean ± std over seeds) and the loss-curve figure."""
    by_variant = {}
    for name, evaluation in evaluations.items():
        by_variant.setdefault(runs[name][0], []).append((name, evaluation))
    sets = [
        s for s in ("procedural", "real") if any(s in e for e in evaluations.values())
    ]
    header = "| model | seeds | MACs (M) |"
    rule = "|---|---|---|"
    for name in sets:
        header += f" {name} SUC | {name} P | {name} P_norm |"
        rule += "---|---|---|"
    header += " val IoU (%) | fps | train s |"
    rule += "---|---|---|"
    lines = [header, rule]
    for variant in ("random", "teacher", *VARIANTS, "shipped"):
        rows = by_variant.get(variant)
        if not rows:
            continue
        evals = [e for _, e in rows]
        cells = [
            VARIANT_LABELS[variant],
            str(len(rows)),
            f"{evals[0]['macs'] / 1e6:.1f}",
        ]
        for name in sets:
            for key in ("auc", "precision", "normalized_precision"):
                cells.append(mean_std([e[name][key] for e in evals]))
        cells.append(
            mean_std([100 * runs[n][1]["history"]["val_iou"][-1] for n, _ in rows])
        )
        cells.append(f"{np.mean([e['procedural']['fps'] for e in evals]):.0f}")
        cells.append(f"{np.mean([runs[n][1]['train_seconds'] for n, _ in rows]):.0f}")
        lines.append("| " + " | ".join(cells) + " |")

    def suc(variant, set_name="procedural"):
        rows = by_variant.get(variant, [])
        return [e[set_name]["auc"] for _, e in rows if set_name in e]

    plain, distilled = suc("plain"), suc("distilled")
    verdict = "Not enough runs for a verdict."
    if plain and distilled:
        gap = np.mean(distilled) - np.mean(plain)
        spread = max(seed_spread(plain), seed_spread(distilled))
        chance = suc("random")
        if chance and max(np.mean(plain), np.mean(distilled)) - np.mean(chance) < 5:
            verdict = (
                f"Inconclusive: at this budget neither student tracks better than "
                f"random weights on the procedural test set (SUC {np.mean(plain):.1f} "
                f"plain, {np.mean(distilled):.1f} distilled, {np.mean(chance):.1f} "
                f"untrained; difference {gap:+.1f}, seed spread {spread:.1f}), so "
                "the test set cannot tell them apart."
            )
        elif gap > 2 * spread and gap > 0:
            verdict = (
                f"On the procedural test set the distilled student beats the plain "
                f"student by {gap:.1f} SUC points, more than twice the seed spread "
                f"({spread:.1f})."
            )
        elif gap > 0:
            verdict = (
                f"The distilled student is ahead of the plain student by {gap:.1f} "
                f"SUC points on the procedural test set, within the seed spread "
                f"({spread:.1f}): not a resolved difference at this budget."
            )
        else:
            verdict = (
                f"Distillation does NOT beat the plain student here: "
                f"{gap:+.1f} SUC points on the procedural test set (seed spread "
                f"{spread:.1f}). The linked curves show the losses and the "
                "Disc-KD mask fraction."
            )
    ablations = [
        (label, suc(variant))
        for label, variant in (
            ("QKV-KD only", "qkv_only"),
            ("Disc-KD only", "disc_only"),
        )
        if suc(variant)
    ]
    if plain and ablations:
        verdict += f" Ablations, procedural SUC (plain {np.mean(plain):.1f}): "
        verdict += "; ".join(
            f"{label} {np.mean(scores):.1f} "
            + (
                "(ahead by more than twice the plain seed spread)"
                if np.mean(scores) - np.mean(plain) > 2 * seed_spread(plain)
                else "(not resolved from the plain student)"
            )
            for label, scores in ablations
        )
        verdict += "."
    real = {v: suc(v, "real") for v in ("random", "teacher", "plain", "distilled")}
    if all(real.values()):
        real = {v: np.mean(scores) for v, scores in real.items()}
        verdict += (
            f" Real sequences, SUC: untrained {real['random']:.1f}, teacher "
            f"{real['teacher']:.1f}, plain {real['plain']:.1f}, distilled "
            f"{real['distilled']:.1f}."
        )
        if max(real["plain"], real["distilled"]) - real["random"] < 5:
            verdict += (
                " Students trained only on procedural videos do not transfer to "
                "real video at this scale, so the procedural test set is the one "
                "that measures the method here."
            )
    val_plain, val_distilled = (
        [100 * h["history"]["val_iou"][-1] for v, h in runs.values() if v == variant]
        for variant in ("plain", "distilled")
    )
    if val_plain and val_distilled:
        verdict += (
            f" On the validation crops (procedural val split) the decoded box's "
            f"IoU is {np.mean(val_distilled):.1f}% distilled vs "
            f"{np.mean(val_plain):.1f}% plain (mean over seeds)."
        )
    masks = [
        h["history"]["mask_fraction"][-1]
        for v, h in runs.values()
        if "mask_fraction" in h["history"] and v in ("distilled", "disc_only")
    ]
    if masks:
        verdict += (
            f" Disc-KD mask fraction (teacher tokens with mean squared final "
            f"feature >= 0.20), last epoch: {np.mean(masks):.3f} on average."
        )
        if np.mean(masks) > 0.95:
            verdict += (
                " After the final LayerNorm almost every token passes the "
                "threshold, so Disc-KD's masked term covers nearly all tokens."
            )
    figure = os.path.splitext(path)[0] + "_curves.png"
    plot_curves(runs, figure)
    test_set = (
        f"{budget['test_videos']} procedural test videos (split='test', seeds "
        f"{SEED_RANGE_TEST}..{SEED_RANGE_TEST + budget['test_videos'] - 1}, "
        f"{budget['test_frames']} frames)"
    )
    text = "\n".join(
        [
            "# Miniature LoReTrack replication (procedural videos, CPU)",
            "",
            "Produced by:",
            "",
            "```bash",
            command,
            "```",
            "",
            f"Budget `{args.budget}`: {budget['train_pairs']} training pairs "
            f"(teacher-resolution crops, shared by every run), batch "
            f"{budget['batch_size']}, teacher {budget['teacher_steps']} steps, "
            f"students {budget['student_steps']} steps, AdamW lr "
            f"{args.learning_rate} with ×0.1 at 80%, no pretraining. Evaluation: "
            f"one-pass on {test_set} and on the real OTB-layout sequences of "
            f"`{args.sequences}` (Crossing, bag, wakeboard7). SUC, P, P_norm in "
            "percent, mean ± std over student seeds; MACs per frame (linear and "
            "conv layers); fps = tracker frames per second on the procedural set "
            "on this machine (2 shared CPU cores, Keras, batch 1).",
            "",
            *lines,
            "",
            f"**Verdict.** {verdict}",
            "",
            f"Training curves: `{os.path.basename(figure)}`.",
            "",
        ]
    )
    write_text(path, text)
    print(text)


"""
## Shipping the presets

The teacher and the distilled student with the best validation IoU (never the
test set) are copied into the package, where `from_preset("mini_teacher")` and
`from_preset("mini_student")` find them.
"""


def ship(runs, output):
    if "teacher" not in runs:
        raise ValueError("--ship needs the finished teacher run")
    best = "shipped" if "shipped" in runs else best_distilled(runs)
    os.makedirs(PACKAGED_PRESETS_DIR, exist_ok=True)
    for preset, run in (("mini_teacher", "teacher"), ("mini_student", best)):
        source = os.path.join(output, "runs", run, "preset")
        target = os.path.join(PACKAGED_PRESETS_DIR, preset)
        # Reloading drops the optimizer state a compiled model's weights carry.
        LoReTrack.from_preset(source).save_to_preset(target)
        print(f"shipped {run} as {preset} -> {target}")


"""
## Main
"""


def main(argv=None):
    args = parse_arguments(argv)
    budget = BUDGETS[args.budget]
    stages = set(args.stages.split(","))
    command = "python recipes/miniature_replication.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    data_dir = os.path.join(args.output, "data")
    run_root = os.path.join(args.output, "runs")
    teacher_dir = os.path.join(run_root, "teacher")

    if "data" in stages:
        teacher = LoReTrack.from_preset(args.teacher_preset, load_weights=False)
        prepare_data(budget, teacher, data_dir)
        del teacher
    data = None
    if stages & {"teacher", "students", "finetune"}:
        data = {
            name: load_pairs(os.path.join(data_dir, f"{name}.npz"))
            for name in ("train", "val")
        }
    if "teacher" in stages:
        train_teacher(args, budget, data, teacher_dir)
    # The main comparison first (seed by seed), then the ablations.
    plan = [("teacher", "teacher")]
    for pair, seeds in (
        (("plain", "distilled"), budget["seeds"]),
        (("qkv_only", "disc_only"), budget["ablation_seeds"]),
    ):
        for seed in range(seeds):
            plan.extend((f"{variant}-s{seed}", variant) for variant in pair)
    if "students" in stages:
        for name, variant in tqdm(plan[1:], desc="students"):
            seed = int(name.rsplit("-s", 1)[1])
            train_student(
                args,
                budget,
                data,
                variant,
                seed,
                os.path.join(teacher_dir, "preset"),
                os.path.join(run_root, name),
            )
    runs = {
        name: (variant, read_json(os.path.join(run_root, name, "history.json")))
        for name, variant in plan
        if run_done(os.path.join(run_root, name))
    }
    if "finetune" in stages:
        start = os.path.join(run_root, best_distilled(runs), "preset")
        finetune_student(
            args,
            budget,
            data,
            start,
            os.path.join(teacher_dir, "preset"),
            os.path.join(run_root, "shipped"),
        )
    if run_done(os.path.join(run_root, "shipped")):
        runs["shipped"] = (
            "shipped",
            read_json(os.path.join(run_root, "shipped", "history.json")),
        )
    evaluations = {}
    if "evaluate" in stages:
        # The untrained student, for scale: what tracking by chance scores.
        random_dir = os.path.join(run_root, "random")
        if not run_done(random_dir):
            keras.utils.set_random_seed(0)
            untrained = LoReTrack.from_preset(args.student_preset, load_weights=False)
            untrained.save_to_preset(os.path.join(random_dir, "preset"))
            write_json(
                os.path.join(random_dir, "history.json"),
                {"history": {"val_iou": [float("nan")]}, "train_seconds": 0.0},
            )
        runs["random"] = ("random", read_json(os.path.join(random_dir, "history.json")))
        sets = test_sets(args, budget)
        for name in tqdm(runs, desc="evaluate"):
            evaluations[name] = evaluate_run(os.path.join(run_root, name), sets)
    if "report" in stages and evaluations:
        report = args.report or (
            os.path.join(REPO, "benchmarks", "results", "miniature_replication.md")
            if args.budget == "full"
            else os.path.join(args.output, "miniature_replication.md")
        )
        write_report(args, budget, runs, evaluations, report, command)
    if args.ship:
        ship(runs, args.output)


if __name__ == "__main__":
    main()
