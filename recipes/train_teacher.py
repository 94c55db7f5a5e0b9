"""
Title: Train the LoReTrack teacher
Author: keras_loretrack
Description: Train the frozen 384 px teacher of LoReTrack with OSTrack's recipe.

The teacher is a plain one-stream ViT tracker (no candidate elimination) at the
highest resolution, trained like OSTrack (Ye et al. 2022): focal + 2·GIoU +
5·L1, AdamW 4e-4 (× batch / 128) with the backbone at a tenth of it, weight
decay 1e-4, global-norm clip 0.1, lr ×0.1 at 80% of the epochs, drop-path 0.1,
the backbone started from MAE ViT-B. `distill_student.py` then distils it into
a low-resolution student.

Baseline to beat: the paper's teacher reaches 71.0 SUC on LaSOT (OSTrack-384
with candidate elimination: 71.1).

Paper setting (4 GPUs; the MAE checkpoint is read without PyTorch):

    python recipes/train_teacher.py --preset res384 \
        --mae mae_pretrain_vit_base.pth --strategy mirrored \
        --data lasot=/data/lasot --data got10k:train=/data/got10k \
        --data coco=/data/coco --data trackingnet:TRAIN_0=/data/trackingnet \
        --val-data got10k:val=/data/got10k --output runs/teacher384

CPU miniature (a small ViT, about an hour on 2 CPU cores; every step draws
fresh pairs from 1000 procedural videos; SUC 47.2 on 12 procedural test
videos), then a fine-tune that mixes in static-image pairs cut from still
photographs (20 minutes; SUC 52.4 on the same videos):

    python recipes/train_teacher.py --preset mini_teacher \
        --data procedural=1000 --val-data procedural:val=40 --epochs 22 \
        --batch-size 16 --samples-per-epoch 4096 --learning-rate 1e-3 \
        --backbone-multiplier 1.0 --clipnorm 1.0 \
        --eval-sequences procedural:test=12 --output runs/mini_teacher
    python recipes/train_teacher.py --preset runs/mini_teacher/preset \
        --weights --data procedural=1000 --data photos=2000 --ratios 1 1 \
        --val-data procedural:val=40 --val-data photos:val=100 --epochs 8 \
        --batch-size 16 --samples-per-epoch 4096 --learning-rate 5e-4 \
        --backbone-multiplier 1.0 --clipnorm 1.0 \
        --eval-sequences procedural:test=12 --output runs/mini_teacher_photos

The shipped `mini_teacher` is the previous shipped teacher (the miniature
replication's first budget) fine-tuned for 14 epochs (28 minutes) on procedural
videos with tall, wide and small targets (w/h from 1/3 to 3, sizes from 4% of
the frame) mixed 2:1 with photo pairs; it reaches SUC 31.0 on three real
sequences (OTB Crossing, VOT bag, UAV123 wakeboard7) against 24.1 before, and
50.6 against 46.1 on 40 procedural test videos:

    python recipes/train_teacher.py --preset mini_teacher --weights \
        --data procedural=1000,aspect_range=1.1,object_size=0.04:0.25 \
        --data photos=2000 --ratios 2 1 \
        --val-data procedural:val=40,aspect_range=1.1,object_size=0.04:0.25 \
        --val-data photos:val=100 --epochs 14 --batch-size 16 \
        --samples-per-epoch 4096 --learning-rate 5e-4 --backbone-multiplier 1.0 \
        --clipnorm 1.0 --eval-sequences procedural:test=12 --output runs/mini_wide

Without MAE weights the backbone trains at the head's learning rate, with a
clip norm of 1.0 (0.1 suits fine-tuning from MAE, not training from scratch).

Kill it at any time and run the same command with `--resume`: it continues
from the last finished epoch with nothing lost. TensorBoard logs are in
`<output>/logs`, the trained preset in `<output>/preset`.
"""

"""
## Setup

The flags become a frozen `TrainingConfig` (the paper's defaults); everything
below reads that. The run folder refuses to be overwritten unless `--resume`.
"""

import os  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from keras_loretrack import LoReTrack  # noqa: E402
from keras_loretrack.data.crops import CropGeometry  # noqa: E402
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

parser = make_parser("Train the LoReTrack teacher (a plain tracker at 384 px).")
parser.add_argument("--preset", default="res384", help="preset name or folder")
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

Template/search pairs are drawn from the `--data` sources (by `--ratios`) and
cropped at the model's own resolution when the fit starts; each sample is a
pure function of (seed, epoch, index), so a resumed run sees the same stream.
"""

sources, ratios = load_sources(config.data, config.ratios)

"""
## Model

The preset's architecture, from MAE ViT weights with `--mae` (or from the
preset's own weights with `--weights`).
"""

with strategy.scope():
    model = LoReTrack.from_preset(
        args.preset, load_weights=config.weights, **config.model_overrides()
    )
    if config.mae:
        print(start_from_mae(model, config.mae).summary())

"""
## Compile

The model owns OSTrack's loss (no `loss=`); the optimiser is OSTrack's AdamW
with the backbone at a tenth of the head's learning rate and step decay.
"""

with strategy.scope():
    model.compile(
        optimizer=build_optimizer(
            model.backbone.trainable_variables,
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

Each epoch ends with an atomic checkpoint and TensorBoard scalars; `--resume`
restores the last checkpoint and the data stream continues from that epoch.
"""

initial_epoch = resume(model, paths, config.resume)
geometry = CropGeometry.of(model)
model.fit(
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

The trained model is saved as a preset and tracks the evaluation sequences
(`--eval-sequences`, default 8 procedural test videos); SUC (`auc`),
precision and normalised precision go to `<output>/evaluation.json`.
"""

summary = save_and_evaluate(model, config, paths, strategy, {"preset": args.preset})
print({k: round(v, 2) if isinstance(v, float) else v for k, v in summary.items()})
