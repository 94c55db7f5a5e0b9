"""
Title: Distil a low-resolution LoReTrack student
Author: keras_loretrack
Description: Dual knowledge distillation (QKV-KD, Disc-KD) from a frozen
    high-resolution teacher.

LoReTrack (Dong et al. 2024) trains a low-resolution tracker with the tracking
losses plus two distillation terms from a frozen twin at high resolution:
QKV-KD matches the channel distributions of the last block's queries, keys and
values on the search tokens, and Disc-KD matches the final search features
inside and outside the teacher's discriminative region. Both models see the
same content: the batch holds the teacher's crops and the student gets them
resized to its size. Only the student learns; the loss is
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

The shared flags become a frozen `TrainingConfig`; the distillation flags
default to the paper's numbers (`keras_loretrack.losses.paper_defaults`).
"""

import os  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from keras_loretrack import LoReTrack  # noqa: E402
from keras_loretrack.data.crops import CropGeometry  # noqa: E402
from keras_loretrack.losses import paper_defaults as paper  # noqa: E402
from keras_loretrack.models.loretrack_distiller import LoReTrackDistiller  # noqa: E402
from keras_loretrack.sequences import load_sources  # noqa: E402
from keras_loretrack.training import (  # noqa: E402
    add_training_arguments,
    build_optimizer,
    check_batch_size,
    make_parser,
    make_strategy,
    prepare_output,
    resume,
    save_and_evaluate,
    set_precision,
    start_from_mae,
    training_callbacks,
    training_config,
    training_data,
    validation_data,
)

parser = make_parser("Distil a low-resolution LoReTrack student.")
parser.add_argument(
    "--teacher", required=True, help="trained teacher: preset folder or name"
)
parser.add_argument("--student", default="res128", help="student preset")
group = parser.add_argument_group("distillation")
group.add_argument("--qkv-blocks", type=int, nargs="*", default=list(paper.QKV_BLOCKS))
group.add_argument(
    "--qkv-weight",
    type=float,
    default=paper.QKV_WEIGHT,
    help="weight of QKV-KD, the last block's query/key/value imitation",
)
group.add_argument(
    "--disc-weight",
    type=float,
    default=paper.DISC_WEIGHT,
    help="weight of Disc-KD, the final search features' imitation",
)
group.add_argument(
    "--temperature",
    type=float,
    default=paper.KD_TEMPERATURE,
    help="softmax temperature T of QKV-KD",
)
group.add_argument(
    "--disc-threshold",
    type=float,
    default=paper.DISC_THRESHOLD,
    help="Disc-KD mask threshold on the teacher's normalised feature activation",
)
group.add_argument(
    "--disc-inside-weight",
    type=float,
    default=paper.DISC_INSIDE_WEIGHT,
    help="weight of the discriminative (inside-mask) Disc-KD term; the background "
    "term gets 1 minus this (the paper uses 0.75 for GOT-10k)",
)
add_training_arguments(parser)
args = parser.parse_args()
config = training_config(args)

strategy = make_strategy(config.strategy, config.tpu)
check_batch_size(config.batch_size, strategy)
set_precision(config.mixed_precision, strategy)
keras.utils.set_random_seed(config.seed)
paths = prepare_output(config.output, config.resume)

"""
## Data

Pairs are cropped at the teacher's resolution and crop factors; the
distiller resizes them for the student inside each step.
"""

sources, ratios = load_sources(config.data, config.ratios)

"""
## Model

The teacher is frozen by the distiller; the student starts from MAE ViT
weights (`--mae`), not from the teacher.
"""

with strategy.scope():
    teacher = LoReTrack.from_preset(args.teacher)
    student = LoReTrack.from_preset(
        args.student, load_weights=config.weights, **config.model_overrides()
    )
    if config.mae:
        print(start_from_mae(student, config.mae).summary())
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
        optimizer=build_optimizer(
            student.backbone.trainable_variables,
            learning_rate=config.head_learning_rate,
            epochs=config.epochs,
            steps_per_epoch=config.steps_per_epoch,
            backbone_multiplier=config.backbone_multiplier,
            weight_decay=config.weight_decay,
            global_clipnorm=config.clipnorm,
            decay_epoch=config.decay_epoch,
        ),
        jit_compile=config.jit_compile,
    )

"""
## Fit

Every loss term is logged (TensorBoard in `<output>/logs`); each epoch ends
with an atomic checkpoint, and `--resume` restores the last one, the data
stream included.
"""

initial_epoch = resume(distiller, paths, config.resume)
geometry = CropGeometry.of(teacher)
distiller.fit(
    training_data(sources, ratios, geometry, config, initial_epoch),
    epochs=config.epochs,
    steps_per_epoch=config.steps_per_epoch,
    initial_epoch=initial_epoch,
    validation_data=validation_data(geometry, config),
    callbacks=training_callbacks(paths, strategy, config.keep_checkpoints),
    shuffle=False,  # the pipeline's order is fixed by its seed
    verbose=config.verbose,
)

"""
## Evaluation

The student alone is saved as a preset (`<output>/preset`, loadable with
`LoReTrack.from_preset`) and tracks the evaluation sequences.
"""

summary = save_and_evaluate(
    distiller.student,
    config,
    paths,
    strategy,
    {"student": args.student, "teacher": args.teacher},
)
print({k: round(v, 2) if isinstance(v, float) else v for k, v in summary.items()})
