"""The replication's Markdown table, its verdict and the loss-curve figure."""

import os

import numpy as np

from keras_loretrack.atomic_files import atomic_output, write_text
from keras_loretrack.losses.paper_defaults import DISC_THRESHOLD
from keras_loretrack.optional import require
from keras_loretrack.sequences.procedural import SPLIT_SEED_RANGES
from keras_loretrack.training.miniature.budgets import VARIANT_LABELS, VARIANTS

SCORES = ("auc", "precision", "normalized_precision")
COLORS = {
    "teacher": "k",
    "plain": "tab:blue",
    "distilled": "tab:red",
    "qkv_only": "tab:green",
    "disc_only": "tab:orange",
    "disc_only_half": "tab:brown",
    "disc_only_fifth": "tab:pink",
    "random": "tab:gray",
}


def seed_spread(values):
    """Sample standard deviation over seeds; 0 for a single run."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def mean_std(values):
    """`mean ± std` over seeds with one decimal (`–` when all are NaN)."""
    values = np.asarray(values, np.float64)
    if np.isnan(values).all():
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"


def plot_curves(runs, path):
    """Validation focal loss and IoU per epoch, and the Disc-KD mask fraction."""
    matplotlib = require("matplotlib", "plots", "The replication's curves")
    matplotlib.use("Agg")
    plt = require("matplotlib.pyplot", "plots", "The replication's curves")

    keys = [
        ("val_focal", "val focal loss (tracking)"),
        ("val_iou", "val IoU"),
        ("mask_fraction", "Disc-KD mask fraction (train)"),
    ]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    for (key, title), axis in zip(keys, axes):
        for name, (variant, history) in sorted(runs.items()):
            values = history["history"].get(key)
            if values and "adopted" in history:
                axis.axhline(
                    values[-1],
                    color=COLORS[variant],
                    linestyle="--",
                    label=f"{name} ({history['adopted']}, adopted)",
                )
            elif values:
                axis.plot(
                    range(1, len(values) + 1),
                    values,
                    color=COLORS[variant],
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


def table(runs, evaluations, sets):
    """The Markdown table rows: one per variant, mean ± std over its seeds."""
    by_variant = {}
    for name, evaluation in evaluations.items():
        by_variant.setdefault(runs[name][0], []).append((name, evaluation))
    header = "| model | seeds | MACs (M) |"
    rule = "|---|---|---|"
    for name in sets:
        header += f" {name} SUC | {name} P | {name} P_norm |"
        rule += "---|---|---|"
    header += " val IoU (%) | fps | train s |"
    rule += "---|---|---|"
    lines = [header, rule]
    for variant in ("random", "teacher", *VARIANTS):
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
            cells.extend(mean_std([e[name][key] for e in evals]) for key in SCORES)
        cells.append(
            mean_std([100 * runs[n][1]["history"]["val_iou"][-1] for n, _ in rows])
        )
        cells.append(f"{np.mean([e['procedural']['fps'] for e in evals]):.0f}")
        adopted = any("adopted" in runs[n][1] for n, _ in rows)
        seconds = np.mean([runs[n][1]["train_seconds"] for n, _ in rows])
        cells.append("– (adopted)" if adopted else f"{seconds:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def verdict(runs, evaluations):
    """What the table says about distillation, in sentences."""

    def suc(variant, set_name="procedural"):
        return [
            e[set_name]["auc"]
            for name, e in evaluations.items()
            if runs[name][0] == variant and set_name in e
        ]

    plain, distilled = suc("plain"), suc("distilled")
    text = "Not enough runs for a verdict."
    if plain and distilled:
        gap = np.mean(distilled) - np.mean(plain)
        spread = max(seed_spread(plain), seed_spread(distilled))
        chance = suc("random")
        teacher = suc("teacher")
        closed = ""
        if teacher and np.mean(teacher) > np.mean(plain):
            share = gap / (np.mean(teacher) - np.mean(plain))
            closed = (
                f" It closes {100 * share:.0f}% of the plain-to-teacher gap "
                f"(teacher {np.mean(teacher):.1f})."
            )
        learned = ""
        if chance and np.mean(chance) > 0:
            learned = (
                f" The plain student reaches {np.mean(plain) / np.mean(chance):.1f}x "
                f"the untrained network's SUC ({np.mean(chance):.1f})."
            )
        if chance and max(np.mean(plain), np.mean(distilled)) - np.mean(chance) < 5:
            text = (
                f"Inconclusive: at this budget neither student tracks better than "
                f"random weights on the procedural test set (SUC {np.mean(plain):.1f} "
                f"plain, {np.mean(distilled):.1f} distilled, {np.mean(chance):.1f} "
                f"untrained; difference {gap:+.1f}, seed spread {spread:.1f}), so "
                "the test set cannot tell them apart."
            )
        elif gap > 2 * spread and gap > 0:
            text = (
                f"On the procedural test set the distilled student beats the plain "
                f"student by {gap:.1f} SUC points, more than twice the seed spread "
                f"({spread:.1f})." + closed + learned
            )
        elif gap > 0:
            text = (
                f"The distilled student is ahead of the plain student by {gap:.1f} "
                f"SUC points on the procedural test set, within the seed spread "
                f"({spread:.1f}): not a resolved difference at this budget."
                + closed
                + learned
            )
        else:
            text = (
                f"Distillation does NOT beat the plain student here: "
                f"{gap:+.1f} SUC points on the procedural test set (seed spread "
                f"{spread:.1f}). The linked curves show the losses and the "
                "Disc-KD mask fraction." + learned
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
        text += f" Ablations, procedural SUC (plain {np.mean(plain):.1f}): "
        text += "; ".join(
            f"{label} {np.mean(scores):.1f} "
            + (
                "(ahead by more than twice the plain seed spread)"
                if np.mean(scores) - np.mean(plain) > 2 * seed_spread(plain)
                else "(not resolved from the plain student)"
            )
            for label, scores in ablations
        )
        text += "."
    real = {v: suc(v, "real") for v in ("random", "teacher", "plain", "distilled")}
    if all(real.values()):
        real = {v: np.mean(scores) for v, scores in real.items()}
        text += (
            f" Real sequences, SUC: untrained {real['random']:.1f}, teacher "
            f"{real['teacher']:.1f}, plain {real['plain']:.1f}, distilled "
            f"{real['distilled']:.1f}."
        )
        if max(real["plain"], real["distilled"]) - real["random"] < 5:
            text += (
                " The 64 px students do not transfer to these real sequences at "
                "this scale, so the procedural test set is the one that measures "
                "the method here."
            )
    val_plain, val_distilled = (
        [100 * h["history"]["val_iou"][-1] for v, h in runs.values() if v == variant]
        for variant in ("plain", "distilled")
    )
    if val_plain and val_distilled:
        text += (
            f" On the validation crops (val split) the decoded box's "
            f"IoU is {np.mean(val_distilled):.1f}% distilled vs "
            f"{np.mean(val_plain):.1f}% plain (mean over seeds)."
        )
    return text


def mask_section(runs, evaluations, mask):
    """Disc-KD's mask: the teacher's energies and the threshold runs, as text."""
    quantiles = ", ".join(f"{q}%: {v:.2f}" for q, v in mask["quantiles"].items())
    lines = [
        "## Disc-KD's mask",
        "",
        f"The paper's rule marks a teacher search token discriminative when the "
        f"mean over channels of its squared final-norm feature reaches "
        f"{DISC_THRESHOLD:.2f}. On the first 512 training crops the trained "
        f"teacher's token energies are ({quantiles}), so "
        f"{100 * mask['paper_share']:.1f}% of tokens reach {DISC_THRESHOLD:.2f}. "
        "A LayerNorm standardises every token before its scale and shift, which "
        "puts the average energy near mean(gamma^2) + mean(beta^2) = "
        f"{mask['final_norm_scale']:.2f} for this teacher: the fixed threshold "
        "splits tokens only where the trained scale sits near it. Whether a "
        "threshold separates the target: of the tokens it passes, the share "
        "whose centre lies in the target box ("
        + ", ".join(
            f"threshold {t:.3f}: {100 * v:.1f}%" for t, v in mask["on_target"].items()
        )
        + f"; {100 * mask['target_base']:.1f}% of all tokens lie in the box). "
        "The runs "
        "below keep Disc-KD alone and set the threshold where a chosen share "
        "of the teacher's tokens passes it (`disc_threshold` of "
        "`LoReTrackDistiller`; the default stays the paper's).",
        "",
        "| Disc-KD only | threshold | mask fraction, first → last epoch | "
        "procedural SUC | val IoU (%) |",
        "|---|---|---|---|---|",
    ]
    for name, (variant, history) in sorted(runs.items()):
        if not variant.startswith("disc_only") or name not in evaluations:
            continue
        fractions = history["history"]["mask_fraction"]
        lines.append(
            f"| {name} | {history.get('disc_threshold', DISC_THRESHOLD):.3f} | "
            f"{fractions[0]:.3f} → {fractions[-1]:.3f} | "
            f"{evaluations[name]['procedural']['auc']:.1f} | "
            f"{100 * history['history']['val_iou'][-1]:.1f} |"
        )
    return lines


def record_command(output_dir, command):
    """Adds `command` to `<output_dir>/commands.txt` once; returns every command.

    The report lists them: a replication is often built by several
    invocations (stages, parallel student processes).
    """
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, "commands.txt")
    commands = []
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            commands = [line.rstrip("\n") for line in f if line.strip()]
    if command not in commands:
        commands.append(command)
        write_text(path, "\n".join(commands) + "\n")
    return commands


def write_report(
    path,
    *,
    commands,
    budget_name,
    budget,
    learning_rate,
    runs,
    evaluations,
    sets,
    mask,
):
    """Writes the Markdown report and, beside it, the loss-curve figure.

    Args:
        path: str. The Markdown file.
        commands: list of str. The commands that produced it, in order.
        budget_name: str. `full` or `small`.
        budget: `Budget`.
        learning_rate: float. The runs' learning rate.
        runs: dict `name -> (variant, history)`.
        evaluations: dict `name -> evaluate_run result`.
        sets: dict `name -> sequences` evaluated in this invocation (their
            names describe the real set).
        mask: `disc_mask.describe_mask` of the teacher.
    """
    scored = [
        s for s in ("procedural", "real") if all(s in e for e in evaluations.values())
    ]
    first_test = SPLIT_SEED_RANGES["test"].start
    described = (
        f"{budget.test_videos} procedural test videos (split='test', seeds "
        f"{first_test}..{first_test + budget.test_videos - 1}, "
        f"{budget.test_frames} frames)"
    )
    if "real" in sets:
        names = ", ".join(sorted(s.name for s in sets["real"]))
        described += f" and on the real OTB-layout sequences {names}"
    adopted = runs.get("teacher", (None, {}))[1].get("adopted")
    teacher = (
        f"teacher: the trained `{adopted}` preset, taken as it is"
        if adopted
        else f"teacher {budget.teacher_steps} steps"
    )
    figure = os.path.splitext(path)[0] + "_curves.png"
    plot_curves(runs, figure)
    text = "\n".join(
        [
            "# Miniature LoReTrack replication (procedural videos and photos, CPU)",
            "",
            "Produced by (in this order; a `--stages students` command may run "
            "in several processes at once):",
            "",
            "```bash",
            *commands,
            "```",
            "",
            f"Budget `{budget_name}`: {budget.train_pairs} training pairs "
            f"(teacher-resolution crops, shared by every run; "
            f"{100 * budget.photo_share:.0f}% static-image pairs from "
            f"{budget.train_photos} still photographs, the rest from "
            f"{budget.train_videos} procedural videos), batch "
            f"{budget.batch_size}, {teacher}, students "
            f"{budget.student_steps} steps, AdamW lr {learning_rate} with ×0.1 "
            "at 80%, no pretraining. Evaluation: "
            f"one-pass on {described}. SUC, P, P_norm in "
            "percent, mean ± std over student seeds; MACs per frame (linear and "
            "conv layers); fps = tracker frames per second on the procedural set "
            "on this machine (2 shared CPU cores, Keras, batch 1).",
            "",
            *table(runs, evaluations, scored),
            "",
            f"**Verdict.** {verdict(runs, evaluations)}",
            "",
            *mask_section(runs, evaluations, mask),
            "",
            f"Training curves: `{os.path.basename(figure)}`.",
            "",
        ]
    )
    write_text(path, text)
    return text
