"""The miniature replication's budgets and the student variants it compares."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much data, training and evaluation one replication run spends.

    Args:
        train_pairs: int. Training pairs, cropped once and shared by every run.
        val_pairs: int. Validation pairs (procedural `val` split).
        train_videos: int. Procedural `train` videos the pairs come from.
        val_videos: int. Procedural `val` videos.
        batch_size: int. Batch of every run.
        teacher_steps: int. Optimizer steps of the teacher.
        student_steps: int. Optimizer steps of each student.
        epochs: int. Epochs the steps are split into (validation per epoch).
        seeds: int. Seeds of the plain and distilled students.
        ablation_seeds: int. Seeds of each ablation.
        ship_steps: int. Further distillation steps of the shipped student.
        test_videos: int. Procedural `test` videos evaluated.
        test_frames: int. Frames per test video.
        real_frames: int or None. Frames kept per real sequence (None: all).
    """

    train_pairs: int
    val_pairs: int
    train_videos: int
    val_videos: int
    batch_size: int
    teacher_steps: int
    student_steps: int
    epochs: int
    seeds: int
    ablation_seeds: int
    ship_steps: int
    test_videos: int
    test_frames: int
    real_frames: int | None


# `full` fits in about an hour of 2 CPU cores; `small` checks the plumbing in
# seconds.
BUDGETS = {
    "full": Budget(
        train_pairs=5120,
        val_pairs=256,
        train_videos=160,
        val_videos=16,
        batch_size=16,
        teacher_steps=1200,
        student_steps=600,
        epochs=5,
        seeds=3,
        ablation_seeds=1,
        ship_steps=1200,
        test_videos=12,
        test_frames=100,
        real_frames=None,
    ),
    "small": Budget(
        train_pairs=32,
        val_pairs=16,
        train_videos=4,
        val_videos=2,
        batch_size=8,
        teacher_steps=2,
        student_steps=2,
        epochs=1,
        seeds=1,
        ablation_seeds=1,
        ship_steps=2,
        test_videos=1,
        test_frames=6,
        real_frames=6,
    ),
}

# Student variants: `LoReTrackDistiller` arguments (None: plain training).
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


def student_plan(budget):
    """The student runs in order, as `(name, variant, seed)`.

    The main comparison first (seed by seed), then the ablations.
    """
    plan = []
    for pair, seeds in (
        (("plain", "distilled"), budget.seeds),
        (("qkv_only", "disc_only"), budget.ablation_seeds),
    ):
        for seed in range(seeds):
            plan.extend((f"{variant}-s{seed}", variant, seed) for variant in pair)
    return plan
