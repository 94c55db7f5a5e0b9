"""
Title: Distil a low-resolution LoReTrack student
Author: keras_loretrack
Description: Dual knowledge distillation (QKV-KD, Disc-KD) from a frozen
    high-resolution teacher.

LoReTrack trains a low-resolution tracker with the tracking losses plus two
distillation terms from a frozen twin at high resolution (DESIGN §6): QKV-KD
matches the channel distributions of the last block's queries, keys and values
on the search tokens, and Disc-KD matches the final search features inside and
outside the teacher's discriminative region. Both models see the same content:
the batch holds the teacher's crops and the student gets them resized to its
size. Only the student learns; the loss is
focal + 2·GIoU + 5·L1 + 0.01·Disc + 0.01·QKV.

Baseline to beat: `train_baseline.py` at the same preset (LaSOT SUC 68.7 / 62.2
/ 59.0 at 256 / 128 / 96 px); LoReTrack reaches 70.3 / 64.9 / 61.0.

Paper setting (teacher from `train_teacher.py`, 4 GPUs):

    python recipes/distill_student.py --teacher runs/teacher384/preset \
        --student res128 --mae mae_pretrain_vit_base.pth --strategy mirrored \
        --data lasot=/data/lasot --data got10k:train=/data/got10k \
        --data coco=/data/coco --data trackingnet:TRAIN_0=/data/trackingnet \
        --val-data got10k:val=/data/got10k --output runs/loretrack128

CPU miniature (after the miniature `train_teacher.py` run):

    python recipes/distill_student.py --teacher runs/mini_teacher/preset \
        --student mini_student --data procedural=64 --epochs 20 \
        --batch-size 16 --samples-per-epoch 1024 --output runs/mini_student

`--resume` continues a killed run from its last finished epoch.
"""

"""
## Setup
"""

import os  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from keras_loretrack import LoReTrack  # noqa: E402
from keras_loretrack.data.pipeline import steps_per_epoch  # noqa: E402
from keras_loretrack.models.loretrack_distiller import LoReTrackDistiller  # noqa: E402
from keras_loretrack.training import (  # noqa: E402
    add_training_arguments,
    load_sources,
    make_strategy,
    prepare_output,
    resume,
    set_precision,
    start_from_mae,
)
from keras_loretrack.training.run import (  # noqa: E402
    fit_from_sources,
    make_parser,
    optimizer_from_arguments,
)
from keras_loretrack.training.tracker_training import (  # noqa: E402
    check_batch_size,
    evaluate_and_save,
    model_overrides,
)

DEFAULT_DATA = ["procedural=200"]


def parse_arguments():
    parser = make_parser("Distil a low-resolution LoReTrack student.")
    parser.add_argument(
        "--teacher", required=True, help="trained teacher: preset folder or name"
    )
    parser.add_argument("--student", default="res128", help="student preset")
    group = parser.add_argument_group("distillation")
    group.add_argument("--qkv-blocks", type=int, nargs="*", default=[-1])
    group.add_argument("--qkv-weight", type=float, default=0.01)
    group.add_argument("--disc-weight", type=float, default=0.01)
    group.add_argument("--temperature", type=float, default=4.0)
    group.add_argument("--disc-threshold", type=float, default=0.20)
    group.add_argument(
        "--disc-inside-weight",
        type=float,
        default=0.6,
        help="Disc-KD split; the outside term gets 1 minus this (0.75 for GOT-10k)",
    )
    add_training_arguments(
        parser, epochs=300, batch_size=128, samples_per_epoch=60_000, data=DEFAULT_DATA
    )
    return parser.parse_args()


args = parse_arguments()
strategy = make_strategy(args.strategy, args.tpu)
check_batch_size(args.batch_size, strategy)
set_precision(args.mixed_precision, strategy)
keras.utils.set_random_seed(args.seed)
paths = prepare_output(args.output, args.resume)

"""
## Data

Pairs are cropped at the teacher's resolution and crop factors; the
distiller resizes them for the student inside each step.
"""
sources, ratios = load_sources(args.data or DEFAULT_DATA, args.ratios)
steps = steps_per_epoch(args.samples_per_epoch, args.batch_size)

"""
## Model

The teacher is frozen by the distiller; the student starts from MAE ViT
weights (`--mae`), not from the teacher.
"""
with strategy.scope():
    teacher = LoReTrack.from_preset(args.teacher)
    student = LoReTrack.from_preset(
        args.student, load_weights=args.weights, **model_overrides(args)
    )
    if args.mae:
        print(start_from_mae(student, args.mae).summary())
    distiller = LoReTrackDistiller(
        student,
        teacher,
        qkv_blocks=tuple(args.qkv_blocks),
        disc_weight=args.disc_weight,
        qkv_weight=args.qkv_weight,
        temperature=args.temperature,
        disc_threshold=args.disc_threshold,
        disc_inside_weight=args.disc_inside_weight,
        disc_outside_weight=1.0 - args.disc_inside_weight,
    )


"""
## Compile

OSTrack's optimiser on the student alone: AdamW, backbone lr ×0.1, weight
decay, global-norm clipping, step decay at 80% of the epochs.
"""
with strategy.scope():
    distiller.compile(
        optimizer=optimizer_from_arguments(
            student.backbone.trainable_variables, args, steps
        ),
        jit_compile=args.jit_compile,
    )

"""
## Fit

Every loss term is logged (TensorBoard in `<output>/logs`); each epoch ends
with an atomic checkpoint, and `--resume` restores the last one, the data
stream included.
"""
initial_epoch = resume(distiller, paths, args.resume)
fit_from_sources(
    distiller, teacher, sources, ratios, args, paths, strategy, steps, initial_epoch
)

"""
## Evaluation

The student alone is saved as a preset (`<output>/preset`, loadable with
`LoReTrack.from_preset`) and tracks the evaluation sequences.
"""
summary = evaluate_and_save(
    distiller.student,
    args,
    paths,
    strategy,
    {"student": args.student, "teacher": args.teacher},
)


print({k: round(v, 2) if isinstance(v, float) else v for k, v in summary.items()})
