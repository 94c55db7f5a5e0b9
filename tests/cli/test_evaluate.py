"""End to end on the real sequences: runner + analysis, and `loretrack eval/analyze`."""

import json
import os
import sys

import numpy as np
import pytest

from keras_loretrack.cli.main import main
from keras_loretrack.evaluation import (
    analysis,
    get_dataset,
    read_result,
    run_evaluation,
)
from tests.presets import TINY_TEST


class NoisyOracle:
    """Ground truth plus seeded noise, with every 10th frame lost (box far off)."""

    def __init__(self, ground_truths):
        self.ground_truths = {tuple(gt[0]): gt for gt in ground_truths}

    def initialize(self, frame, box):
        self.truth = self.ground_truths[tuple(box)]
        self.index = 0
        self.rng = np.random.default_rng(0)

    def track(self, frame):
        self.index += 1
        box = self.truth[self.index] + self.rng.normal(0, 1.5, 4)
        if self.index % 10 == 0:
            box[:2] = box[:2] + 3 * box[2:] + 25
        box[2:] = np.maximum(box[2:], 1)
        return {"box": box, "score": 0.5}


def test_real_sequences_end_to_end(sequences_dir, tmp_path):
    dataset = get_dataset("folder", sequences_dir)
    assert {"Crossing", "bag", "wakeboard7"} <= set(dataset.sequence_names)
    dataset = dataset.select(["Crossing", "bag", "wakeboard7"])
    truths = [s.ground_truth for s in dataset]
    summary = run_evaluation(
        lambda: NoisyOracle(truths), dataset, tmp_path, "oracle", "folder"
    )
    assert summary["frames"] == 120 + 196 + 67
    for sequence in dataset:
        result = read_result(tmp_path / "oracle" / "folder", sequence.name)
        assert result["boxes"].shape == (len(sequence), 4)
        assert result["times"].shape == result["scores"].shape == (len(sequence),)
    report = analysis.compute_report(tmp_path, "folder", dataset)
    scores = report["trackers"]["oracle"]
    # About 1 frame in 10 is lost, the others are within a few pixels.
    assert 80 < scores["precision"] <= 91
    assert 60 < scores["auc"] < 91 and scores["op50"] > 80
    paths = analysis.write_report(report, tmp_path / "_analysis_folder")
    assert all(os.path.getsize(p) > 1000 for p in paths["plots"])


def test_cli_eval_then_analyze_with_a_tiny_preset(sequences_dir, tmp_path, capsys):
    common = ["--dataset", "folder", "--root", str(sequences_dir)]
    common += ["--sequences", "Crossing", "--max-frames", "5"]
    results = tmp_path / "results"
    argv = ["eval", "--preset", TINY_TEST, "--no-weights", "--results", str(results)]
    assert main(argv + common + ["--no-progress"]) == 0
    assert "tracked 1 sequences (5 frames" in capsys.readouterr().out
    directory = results / "tiny_test" / "folder"
    result = read_result(directory, "Crossing")
    assert result["boxes"].shape == (5, 4) and np.isfinite(result["boxes"]).all()
    np.testing.assert_array_equal(result["boxes"][0], [205, 151, 17, 50])
    assert np.isfinite(result["scores"][1:]).all()

    assert main(argv + common) == 0  # resumes: nothing left to track
    assert "tracked 0 sequences (0 frames), skipped 1" in capsys.readouterr().out

    output = tmp_path / "report"
    analyze = ["analyze", "--results", str(results), "--output", str(output)]
    assert main(analyze + common) == 0
    printed = capsys.readouterr().out
    assert "| tiny_test" in printed and "SUC (AUC)" in printed
    with open(output / "report.json") as f:
        report = json.load(f)
    assert report["sequences"] == ["Crossing"]
    scores = report["trackers"]["tiny_test"]
    assert 0 <= scores["auc"] <= 100 and scores["fps"] > 0
    assert sorted(os.listdir(output)) == [
        "normalized_precision.png",
        "precision.png",
        "report.json",
        "success.png",
        "table.md",
    ]


def test_analyze_without_matplotlib_prints_the_table(
    sequences_dir, tmp_path, capsys, monkeypatch
):
    common = ["--dataset", "folder", "--root", str(sequences_dir)]
    common += ["--sequences", "Crossing", "--max-frames", "3"]
    results = tmp_path / "results"
    argv = ["eval", "--preset", TINY_TEST, "--no-weights", "--results", str(results)]
    assert main(argv + common + ["--no-progress"]) == 0
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    output = tmp_path / "report"
    analyze = ["analyze", "--results", str(results), "--output", str(output)]
    status = main(analyze + common)
    captured = capsys.readouterr()
    assert status == 0
    assert "| tiny_test" in captured.out
    assert captured.err.startswith("loretrack analyze: no plots: Plotting needs")
    assert 'pip install "keras-loretrack[plots]"' in captured.err
    assert sorted(os.listdir(output)) == ["report.json", "table.md"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--shard", "2/2"], "0 <= i < n"),
        (["--sequences", "Nope"], "Unknown sequences"),
        (["--max-frames", "0"], "--max-frames must be >= 1"),
    ],
)
def test_cli_eval_usage_errors(sequences_dir, tmp_path, capsys, extra, message):
    argv = ["eval", "--preset", TINY_TEST, "--dataset", "folder"]
    argv += ["--root", str(sequences_dir), "--results", str(tmp_path)]
    assert main(argv + extra) == 2
    assert message in capsys.readouterr().err


def test_cli_analyze_without_results(sequences_dir, tmp_path, capsys):
    argv = ["analyze", "--results", str(tmp_path), "--dataset", "folder"]
    assert main(argv + ["--root", str(sequences_dir)]) == 1
    assert "No tracker results for dataset 'folder'" in capsys.readouterr().err
