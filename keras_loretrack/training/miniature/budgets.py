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
        train_photos: int. Still photographs (`photo_dataset`, split
            `train`) static-image pairs come from.
        val_photos: int. Still photographs of the `val` split.
        photo_share: float. Share of training and validation pairs cut from
            still photographs (the rest from videos).
        batch_size: int. Batch of every run.
        teacher_steps: int. Optimizer steps of the teacher.
        student_steps: int. Optimizer steps of each student.
        epochs: int. Epochs the steps are split into (validation per epoch).
        seeds: int. Seeds of the plain and distilled students.
        ablation_seeds: int. Seeds of each ablation and of each Disc-KD
            threshold of the sensitivity runs.
        test_videos: int. Procedural `test` videos evaluated.
        test_frames: int. Frames per test video.
        real_frames: int or None. Frames kept per real sequence (None: all).
    """

    train_pairs: int
    val_pairs: int
    train_videos: int
    val_videos: int
    train_photos: int
    val_photos: int
    photo_share: float
    batch_size: int
    teacher_steps: int
    student_steps: int
    epochs: int
    seeds: int
    ablation_seeds: int
    test_videos: int
    test_frames: int
    real_frames: int | None


# `full` takes about 80 minutes of 2 CPU cores with an adopted teacher
# (`--trained-teacher`; 30 more to train one); `small` checks the plumbing in
# seconds.
BUDGETS = {
    "full": Budget(
        train_pairs=8192,
        val_pairs=512,
        train_videos=320,
        val_videos=32,
        train_photos=1024,
        val_photos=64,
        photo_share=0.5,
        batch_size=16,
        teacher_steps=2400,
        student_steps=6400,
        epochs=8,
        seeds=3,
        ablation_seeds=1,
        test_videos=12,
        test_frames=100,
        real_frames=None,
    ),
    "small": Budget(
        train_pairs=32,
        val_pairs=16,
        train_videos=4,
        val_videos=2,
        train_photos=4,
        val_photos=2,
        photo_share=0.5,
        batch_size=8,
        teacher_steps=2,
        student_steps=2,
        epochs=1,
        seeds=1,
        ablation_seeds=1,
        test_videos=1,
        test_frames=6,
        real_frames=6,
    ),
}

# Student variants: `LoReTrackDistiller` arguments (None: plain training).
# `mask_share` sets the Disc-KD threshold where that share of the teacher's
# search tokens passes it (`disc_mask.threshold_for_share`); the others keep
# the paper's 0.20.
VARIANTS = {
    "plain": None,
    "distilled": {},
    "qkv_only": {"disc_weight": 0.0},
    "disc_only": {"qkv_blocks": ()},
    "disc_only_half": {"qkv_blocks": (), "mask_share": 0.5},
    "disc_only_fifth": {"qkv_blocks": (), "mask_share": 0.2},
}
VARIANT_LABELS = {
    "teacher": "teacher (mini_teacher, 128 px)",
    "plain": "plain student (64 px)",
    "distilled": "LoReTrack student: QKV-KD + Disc-KD (64 px)",
    "qkv_only": "ablation: QKV-KD only (64 px)",
    "disc_only": "ablation: Disc-KD only (64 px)",
    "disc_only_half": "Disc-KD only, threshold at the teacher's median energy",
    "disc_only_fifth": "Disc-KD only, threshold passing 20% of teacher tokens",
    "random": "untrained student (random weights, for scale)",
}


def student_plan(budget):
    """The student runs in order, as `(name, variant, seed)`.

    The main comparison first (seed by seed), then the ablations and the
    Disc-KD threshold runs.
    """
    plan = []
    for pair, seeds in (
        (("plain", "distilled"), budget.seeds),
        (("qkv_only", "disc_only"), budget.ablation_seeds),
        (("disc_only_half", "disc_only_fifth"), budget.ablation_seeds),
    ):
        for seed in range(seeds):
            plan.extend((f"{variant}-s{seed}", variant, seed) for variant in pair)
    return plan
