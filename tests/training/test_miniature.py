"""Parts of the miniature replication: Disc-KD mask energies, run claiming, plan."""

import json
import os

import numpy as np
import pytest

from keras_loretrack import LoReTrack
from keras_loretrack.data.crops import CropGeometry, normalize
from keras_loretrack.losses.paper_defaults import DISC_THRESHOLD
from keras_loretrack.models.loretrack_distiller import LoReTrackDistiller
from keras_loretrack.training.miniature.budgets import BUDGETS, student_plan
from keras_loretrack.training.miniature.disc_mask import (
    describe_mask,
    final_norm_scale,
    target_tokens,
    teacher_energy,
    threshold_for_share,
)
from keras_loretrack.training.miniature.report import record_command, table, verdict
from keras_loretrack.training.miniature.runs import (
    adopt_teacher,
    claimed,
    teacher_targets,
)


@pytest.fixture(scope="module")
def tiny():
    return LoReTrack.from_preset("mini_student", load_weights=False)


@pytest.fixture(scope="module")
def crops(tiny):
    rng = np.random.default_rng(0)
    return {
        "template": rng.integers(
            0, 256, (6, tiny.template_size, tiny.template_size, 3), np.uint8
        ),
        "search": rng.integers(
            0, 256, (6, tiny.search_size, tiny.search_size, 3), np.uint8
        ),
    }


def test_untrained_final_norm_puts_every_token_at_energy_one(tiny, crops):
    # A LayerNorm with gamma 1 and beta 0 leaves each token with zero mean and
    # unit variance over channels: energy 1 (less epsilon) everywhere.
    energy = teacher_energy(tiny, crops, batch_size=4)
    assert energy.shape == (6, (tiny.search_size // tiny.backbone.patch_size) ** 2)
    np.testing.assert_allclose(energy, 1.0, atol=1e-3)
    assert final_norm_scale(tiny) == pytest.approx(1.0)
    boxes = np.tile([[0.0, 0.0, 1.0, 1.0]], (len(crops["search"]), 1))
    assert describe_mask(tiny, {**crops, "box": boxes})["paper_share"] == 1.0


def test_energy_follows_the_final_norm_scale(crops):
    model = LoReTrack.from_preset("mini_student", load_weights=False)
    gamma, beta = model.backbone.final_norm.get_weights()
    model.backbone.final_norm.set_weights([np.full_like(gamma, 0.3), beta])
    energy = teacher_energy(model, crops)
    np.testing.assert_allclose(energy, 0.09, rtol=1e-2)
    assert final_norm_scale(model) == pytest.approx(0.09)
    boxes = np.tile([[0.0, 0.0, 1.0, 1.0]], (len(crops["search"]), 1))
    assert describe_mask(model, {**crops, "box": boxes})["paper_share"] == 0.0


def test_threshold_for_share_passes_that_share():
    energy = np.random.default_rng(1).gamma(2.0, size=(50, 64))
    for share in (0.2, 0.5, 1.0):
        threshold = threshold_for_share(energy, share)
        assert np.mean(energy >= threshold) == pytest.approx(share, abs=0.01)
    with pytest.raises(ValueError, match="mask share must be in"):
        threshold_for_share(energy, 0.0)


def test_a_run_is_claimed_by_one_holder_until_finished(tmp_path):
    run_dir = str(tmp_path / "run")
    with claimed(run_dir) as first:
        with claimed(run_dir) as second:
            assert first and not second
    with open(os.path.join(run_dir, "history.json"), "w") as f:
        json.dump({}, f)
    with claimed(run_dir) as again:
        assert not again


def test_plan_pairs_every_seed_and_adds_the_threshold_run():
    plan = student_plan(BUDGETS["full"])
    names = [name for name, _, _ in plan]
    assert len(names) == len(set(names))
    for seed in range(BUDGETS["full"].seeds):
        assert {f"plain-s{seed}", f"distilled-s{seed}"} <= set(names)
    assert {
        "qkv_only-s0",
        "disc_only-s0",
        "disc_only_half-s0",
        "disc_only_fifth-s0",
    } <= set(names)


def test_target_tokens_are_those_centred_in_the_box():
    left_half = np.array([[0.0, 0.0, 0.5, 1.0]])
    inside = target_tokens(left_half, 4).reshape(4, 4)
    assert inside[:, :2].all() and not inside[:, 2:].any()
    corner = target_tokens(np.array([[0.7, 0.7, 1.0, 1.0]]), 4).reshape(4, 4)
    assert corner.sum() == 1 and corner[3, 3]


def test_describe_mask_reports_target_overlap(crops):
    model = LoReTrack.from_preset("mini_student", load_weights=False)
    boxes = np.tile([[0.25, 0.25, 0.75, 0.75]], (len(crops["search"]), 1))
    described = describe_mask(model, {**crops, "box": boxes}, shares=(0.5,))
    assert described["target_base"] == pytest.approx(0.25)
    # Every token passes the paper's threshold: the mask is on target at the
    # base rate.
    assert described["on_target"][DISC_THRESHOLD] == pytest.approx(0.25)
    assert len(described["on_target"]) == 2


def test_record_command_keeps_each_command_once_in_order(tmp_path):
    output = str(tmp_path / "replication")
    assert record_command(output, "python r.py --stages data") == [
        "python r.py --stages data"
    ]
    record_command(output, "python r.py --stages students")
    commands = record_command(output, "python r.py --stages data")
    assert commands == ["python r.py --stages data", "python r.py --stages students"]
    with open(os.path.join(output, "commands.txt"), encoding="utf-8") as f:
        assert f.read().splitlines() == commands


def small_distiller(**options):
    teacher = LoReTrack.from_preset("mini_student", load_weights=False)
    student = LoReTrack.from_preset(
        "mini_student", load_weights=False, search_size=32, template_size=16
    )
    return LoReTrackDistiller(student, teacher, **options)


def test_teacher_targets_are_computed_once_per_pair(tmp_path, crops):
    pairs = {**crops, "box": np.tile([[0.2, 0.2, 0.6, 0.6]], (6, 1))}
    distiller = small_distiller()
    path = str(tmp_path / "teacher_targets.npz")
    stored = teacher_targets(distiller, pairs, path, batch_size=4)
    want = distiller.teacher_targets(
        {k: normalize(crops[k].astype("float32")) for k in ("template", "search")}
    )
    assert sorted(stored) == sorted(want)
    for name, value in want.items():
        assert stored[name].dtype == np.float16 and len(stored[name]) == 6
        np.testing.assert_allclose(
            stored[name], np.asarray(value), rtol=2e-3, atol=2e-3, err_msg=name
        )
    # Read back from the file (no teacher pass), only what a variant reads.
    disc_only = small_distiller(qkv_blocks=())
    disc_only.teacher_features = None
    again = teacher_targets(disc_only, pairs, path)
    assert list(again) == ["search_features"]
    np.testing.assert_array_equal(again["search_features"], stored["search_features"])


def test_an_adopted_teacher_is_a_finished_run_without_training(tmp_path, crops):
    pairs = {**crops, "box": np.tile([[0.2, 0.2, 0.6, 0.6]], (6, 1))}
    run_dir = str(tmp_path / "teacher")
    budget = BUDGETS["small"]
    preset = tmp_path / "trained"
    LoReTrack.from_preset("mini_student", load_weights=False).save_to_preset(preset)
    adopt_teacher(str(preset), budget=budget, pairs={"val": pairs}, run_dir=run_dir)
    with open(os.path.join(run_dir, "history.json"), encoding="utf-8") as f:
        history = json.load(f)
    assert history["adopted"] == str(preset)
    assert 0.0 <= history["history"]["val_iou"][0] <= 1.0
    geometry = CropGeometry.of(LoReTrack.from_preset(os.path.join(run_dir, "preset")))
    assert geometry.search_size == 64
    scores = {"auc": 10.0, "precision": 5.0, "normalized_precision": 4.0, "fps": 100.0}
    evaluation = {"macs": 1e6, "procedural": scores}
    rows = table(
        {"teacher": ("teacher", history)},
        {"teacher": evaluation},
        ["procedural"],
    )
    assert rows[-1].endswith("| – (adopted) |")


def test_verdict_states_how_far_the_plain_student_learned():
    def run(variant, auc):
        history = {"history": {"val_iou": [0.2]}, "train_seconds": 1.0}
        return (variant, history), {"procedural": {"auc": auc}}

    named = {
        "random": run("random", 8.0),
        "teacher": run("teacher", 50.0),
        "plain-s0": run("plain", 16.0),
        "plain-s1": run("plain", 18.0),
        "distilled-s0": run("distilled", 40.0),
        "distilled-s1": run("distilled", 42.0),
    }
    text = verdict(
        {name: r for name, (r, _) in named.items()},
        {name: e for name, (_, e) in named.items()},
    )
    assert "beats the plain student by 24.0 SUC points" in text
    assert "closes 73% of the plain-to-teacher gap" in text
    assert "The plain student reaches 2.1x the untrained network's SUC (8.0)" in text
