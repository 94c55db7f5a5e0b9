"""The recipes end to end on tiny presets: teacher → student, killed and resumed."""

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from keras_loretrack import LoReTrack
from tests.presets import TINY_TEST

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY_RUN = [
    "--data",
    "procedural=2",
    "--batch-size",
    "2",
    "--samples-per-epoch",
    "4",
    "--workers",
    "1",
    "--verbose",
    "2",
]


def recipe(name, *arguments):
    return [sys.executable, str(REPO / "recipes" / name), *map(str, arguments)]


def environment():
    return dict(
        os.environ,
        PYTHONPATH=str(REPO),
        KERAS_BACKEND="tensorflow",
        TF_CPP_MIN_LOG_LEVEL="2",
    )


def run(command):
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=environment(),
        timeout=600,
        check=False,
    )
    return result


def finished_epochs(directory):
    state = directory / "checkpoints" / "checkpoint.json"
    try:
        return json.loads(state.read_text())["epoch"]
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def test_teacher_then_killed_and_resumed_distillation(tmp_path):
    teacher_run = tmp_path / "teacher"
    result = run(
        recipe(
            "train_teacher.py",
            "--preset",
            TINY_TEST,
            "--epochs",
            1,
            "--output",
            teacher_run,
            "--skip-eval",
            *TINY_RUN,
        )
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert finished_epochs(teacher_run) == 1
    teacher = LoReTrack.from_preset(teacher_run / "preset")
    assert teacher.search_size == 64

    student_preset = tmp_path / "student_init"
    LoReTrack.from_preset(
        TINY_TEST, load_weights=False, search_size=32, template_size=16
    ).save_to_preset(student_preset)
    output = tmp_path / "student"
    command = recipe(
        "distill_student.py",
        "--teacher",
        teacher_run / "preset",
        "--student",
        student_preset,
        "--epochs",
        3,
        "--output",
        output,
        "--eval-sequences",
        "procedural:test=1",
        *TINY_RUN,
    )
    # Kill the run (SIGKILL: no clean-up) once its first epoch is checkpointed.
    process = subprocess.Popen(
        command,
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 600
    while finished_epochs(output) < 1 and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
        time.sleep(0.1)
    process.kill()
    stderr = process.communicate()[1]
    killed_at = finished_epochs(output)
    assert 1 <= killed_at < 3, stderr[-3000:]

    refused = run(command)
    assert refused.returncode != 0
    assert "pass --resume to continue it" in refused.stderr

    resumed = run(command + ["--resume"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Epoch {killed_at + 1}/3" in resumed.stdout
    assert "Epoch 1/3" not in resumed.stdout
    assert finished_epochs(output) == 3
    for name in ("focal", "giou", "l1", "disc", "qkv", "mask_fraction"):
        assert f" {name}: " in resumed.stdout, name
    assert list((output / "logs").rglob("events.out.tfevents.*"))
    summary = json.loads((output / "evaluation.json").read_text())
    assert summary["sequences"] == 1 and 0.0 <= summary["auc"] <= 100.0
    student = LoReTrack.from_preset(output / "preset")
    assert student.search_size == 32


@pytest.mark.parametrize("name", ["train_baseline.py", "train_teacher.py"])
def test_plain_recipes_show_their_defaults(name):
    result = run(recipe(name, "--help"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--preset" in result.stdout and "--resume" in result.stdout
    assert "(default: 300)" in result.stdout
