"""Benchmark analysis: score tables, JSON reports and success / precision plots.

Reads the result files that `run_evaluation` wrote for one or several trackers
on a dataset, scores them with `keras_loretrack.evaluation.metrics` (SUC/AUC,
P, P_norm, OP50, OP75; AO, SR0.5, SR0.75 on GOT-10k) and reports them side by
side.

Example:
```python
dataset = get_dataset("otb", "/data/OTB100")
report = compute_report("results", dataset.result_name, dataset)
print(format_table(report))
write_report(report, "results/_analysis_otb")
```
"""

import json
import os

import numpy as np

from keras_loretrack.atomic_files import atomic_output, write_text
from keras_loretrack.evaluation import metrics
from keras_loretrack.evaluation.results import (
    has_result,
    layout_for,
    read_result,
    tracker_dir,
)
from keras_loretrack.optional import require

SCORE_COLUMNS = (
    ("auc", "SUC (AUC)"),
    ("precision", "P"),
    ("normalized_precision", "P_norm"),
    ("op50", "OP50"),
    ("op75", "OP75"),
)
GOT10K_COLUMNS = (("ao", "AO"), ("sr50", "SR0.5"), ("sr75", "SR0.75"))


def find_trackers(results_dir, dataset_name):
    """Trackers with a `<results>/<tracker>/<dataset>` folder (sorted).

    Folders whose name starts with "_" or "." (e.g. analysis outputs) are not
    trackers.
    """
    results_dir = os.fspath(results_dir)
    if not os.path.isdir(results_dir):
        raise FileNotFoundError(f"Results folder not found: {results_dir}")
    return sorted(
        name
        for name in os.listdir(results_dir)
        if not name.startswith(("_", "."))
        and os.path.isdir(os.path.join(results_dir, name, dataset_name))
    )


def _check_ground_truth(sequence, directory):
    if len(sequence.ground_truth) != len(sequence):
        raise ValueError(
            f"Sequence {sequence.name!r} of {sequence.dataset!r} has ground truth "
            f"for {len(sequence.ground_truth)} of its {len(sequence)} frames (a "
            "test split whose annotations are withheld): submit the results in "
            f"{directory} to the benchmark's evaluation server instead"
        )


def _scores(curves):
    summary = metrics.summarize(curves)
    summary.pop("curves")
    return summary


def _evaluate_tracker(directory, layout, sequences, rules, got10k):
    curves, per_sequence, got10k_ious = [], {}, []
    frames, seconds = 0, 0.0
    for sequence in sequences:
        result = read_result(directory, sequence.name, layout)
        name = f"{directory}: {sequence.name}"
        errors = metrics.sequence_errors(
            result["boxes"], sequence.ground_truth, sequence.visible, rules, name
        )
        sequence_curves = metrics.sequence_curves(errors)
        curves.append(sequence_curves)
        per_sequence[sequence.name] = _scores([sequence_curves])
        if got10k:
            ious = metrics.got10k_frame_ious(
                result["boxes"],
                sequence.ground_truth,
                sequence.attributes.get("cover"),
                sequence.attributes.get("resolution"),
                name,
            )
            got10k_ious.append(ious)
            per_sequence[sequence.name].update(metrics.got10k_summary([ious]))
        if result["times"] is not None and len(result["times"]) > 1:
            frames += len(result["times"]) - 1
            seconds += float(np.sum(result["times"][1:]))
    summary = metrics.summarize(curves)
    report = {key: summary[key] for key, _ in SCORE_COLUMNS}
    if got10k:
        report.update(metrics.got10k_summary(got10k_ious))
    report["fps"] = frames / seconds if seconds > 0 else None
    report["curves"] = {k: v.tolist() for k, v in summary["curves"].items()}
    report["sequences"] = per_sequence
    return report


def compute_report(
    results_dir,
    dataset_name,
    sequences,
    trackers=None,
    rules=None,
    allow_missing=False,
    layout=None,
):
    """Scores one or several trackers on a dataset.

    Args:
        results_dir: str. Results root (`<results>/<tracker>/<dataset>/`).
        dataset_name: str. The dataset folder name (`Dataset.result_name`).
        sequences: iterable of `Sequence` with full ground truth.
        trackers: list of str or None (every tracker found).
        rules: `metrics.MetricRules` or None (the pytracking / OSTrack rules).
        allow_missing: bool. Score on the sequences every tracker has instead
            of failing when results are missing.
        layout: str or None. "pytracking" or "got10k" (None: by dataset
            name). The GOT-10k layout adds AO, SR0.5 and SR0.75.

    Returns:
        dict, JSON-ready: "dataset", "sequences", "rules", "thresholds" and
        "trackers": name -> scores (percent), "fps", mean "curves" and
        per-sequence scores.
    """
    rules = rules or metrics.MetricRules()
    trackers = list(trackers) if trackers else find_trackers(results_dir, dataset_name)
    if not trackers:
        raise FileNotFoundError(
            f"No tracker results for dataset {dataset_name!r} in {results_dir} "
            f"(expected <results>/<tracker>/{dataset_name}/)"
        )
    layout = layout or layout_for(dataset_name)
    directories = {t: tracker_dir(results_dir, t, dataset_name) for t in trackers}
    sequences = list(sequences)
    if not sequences:
        raise ValueError(f"No sequences to score for dataset {dataset_name!r}")
    for sequence in sequences:
        _check_ground_truth(sequence, directories[trackers[0]])
    missing = {
        t: [s.name for s in sequences if not has_result(d, s.name, layout)]
        for t, d in directories.items()
    }
    if any(missing.values()):
        if not allow_missing:
            detail = "; ".join(
                f"{t}: {len(m)} missing, e.g. {m[:3]}" for t, m in missing.items() if m
            )
            raise FileNotFoundError(
                f"Results missing for {len(sequences)} {dataset_name!r} sequences "
                f"({detail}); run the evaluation to completion or allow missing "
                "sequences"
            )
        absent = set().union(*missing.values())
        sequences = [s for s in sequences if s.name not in absent]
        if not sequences:
            raise FileNotFoundError(
                f"No {dataset_name!r} sequence has results for every tracker"
            )
    got10k = layout == "got10k"
    return {
        "dataset": dataset_name,
        "sequences": [s.name for s in sequences],
        "rules": {
            "validity": rules.validity,
            "invalid_normalized_hit": rules.invalid_normalized_hit,
            "invalid_center_hit": rules.invalid_center_hit,
        },
        "thresholds": {
            "success": metrics.SUCCESS_THRESHOLDS.tolist(),
            "precision": metrics.PRECISION_THRESHOLDS.tolist(),
            "normalized_precision": metrics.NORMALIZED_PRECISION_THRESHOLDS.tolist(),
        },
        "trackers": {
            t: _evaluate_tracker(directories[t], layout, sequences, rules, got10k)
            for t in trackers
        },
    }


def _columns(report):
    columns = list(SCORE_COLUMNS)
    if any("ao" in r for r in report["trackers"].values()):
        columns += list(GOT10K_COLUMNS)
    return columns


def format_table(report):
    """The report's scores as a Markdown table, one row per tracker."""
    columns = _columns(report)
    header = ["Tracker"] + [label for _, label in columns] + ["FPS"]
    rows = []
    for name, scores in report["trackers"].items():
        fps = "-" if scores.get("fps") is None else f"{scores['fps']:.1f}"
        rows.append([name] + [f"{scores[key]:.2f}" for key, _ in columns] + [fps])
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    title = f"{report['dataset']}: {len(report['sequences'])} sequences"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([title, "", line(header), rule] + [line(r) for r in rows])


def write_json(path, report):
    """Writes the report as JSON, atomically."""
    path = os.fspath(path)
    write_text(path, json.dumps(report, indent=2, allow_nan=False) + "\n")
    return path


_PLOTS = (
    # file stem, curve, score key, x label, x limits
    ("success", "success", "auc", "Overlap threshold", (0.0, 1.0)),
    ("precision", "precision", "precision", "Location error threshold [px]", (0, 50)),
    (
        "normalized_precision",
        "normalized_precision",
        "normalized_precision",
        "Normalized location error threshold",
        (0.0, 0.5),
    ),
)


def plot_curves(report, output_dir):
    """Success, precision and normalised precision plots (PNG), trackers side by side.

    Returns:
        list of the written PNG paths.
    """
    FigureCanvasAgg = require(
        "matplotlib.backends.backend_agg", "plots", "Plotting"
    ).FigureCanvasAgg
    Figure = require("matplotlib.figure", "plots", "Plotting").Figure

    os.makedirs(output_dir, exist_ok=True)
    paths = []
    for stem, curve, score, xlabel, xlim in _PLOTS:
        figure = Figure(figsize=(6.4, 4.8), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        thresholds = report["thresholds"][curve]
        ranked = sorted(
            report["trackers"].items(), key=lambda item: item[1][score], reverse=True
        )
        for name, scores in ranked:
            axes.plot(
                thresholds,
                scores["curves"][curve],
                linewidth=2,
                label=f"{name} [{scores[score]:.1f}]",
            )
        axes.set(
            xlabel=xlabel,
            ylabel="Success rate" if curve == "success" else "Precision",
            xlim=xlim,
            ylim=(0.0, 1.0),
            title=f"{stem.replace('_', ' ').capitalize()} plot: {report['dataset']}",
        )
        axes.grid(True, linestyle=":")
        axes.legend(loc="lower left" if curve == "success" else "lower right")
        path = os.path.join(output_dir, f"{stem}.png")
        with atomic_output(path) as tmp:
            figure.savefig(tmp, format="png")
        paths.append(path)
    return paths


def write_report(report, output_dir, plots=True):
    """Writes `report.json`, `table.md` and (optionally) the plots.

    Returns:
        dict of the written paths: "json", "table", "plots".
    """
    output_dir = os.fspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    table_path = os.path.join(output_dir, "table.md")
    write_text(table_path, format_table(report) + "\n")
    return {
        "json": write_json(os.path.join(output_dir, "report.json"), report),
        "table": table_path,
        "plots": plot_curves(report, output_dir) if plots else [],
    }
