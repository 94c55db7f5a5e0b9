"""Parts of the miniature replication: Disc-KD mask energies, run claiming, plan."""

import json
import os

import numpy as np
import pytest

from keras_loretrack import LoReTrack
from keras_loretrack.losses.paper_defaults import DISC_THRESHOLD
from keras_loretrack.training.miniature.budgets import BUDGETS, student_plan
from keras_loretrack.training.miniature.disc_mask import (
    describe_mask,
    final_norm_scale,
    target_tokens,
    teacher_energy,
    threshold_for_share,
)
from keras_loretrack.training.miniature.report import record_command
from keras_loretrack.training.miniature.runs import claimed


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
