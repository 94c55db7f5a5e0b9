"""
Title: Train a plain low-resolution baseline
Author: keras_loretrack
Description: Train a student-sized tracker without distillation, the baseline
    LoReTrack must beat.

The baseline is the same one-stream ViT tracker as the student, trained directly
at its low resolution with OSTrack's recipe (Ye et al. 2022) and no teacher.
The gap between it and `distill_student.py` at the same preset is what
distillation buys; `benchmarks/distillation_throughput.py` measures what it
costs.

Baseline numbers (LaSOT SUC): 68.7 / 62.2 / 59.0 at 256 / 128 / 96 px; LoReTrack
reaches 70.3 / 64.9 / 61.0.

Paper setting at 128 px (4 GPUs):

    python recipes/train_baseline.py --preset res128 \
        --mae mae_pretrain_vit_base.pth --strategy mirrored \
        --data lasot=/data/lasot --data got10k:train=/data/got10k \
        --data coco=/data/coco --data trackingnet:TRAIN_0=/data/trackingnet \
        --val-data got10k:val=/data/got10k --output runs/baseline128

CPU miniature (the student of the miniature replication, without teacher):

    python recipes/train_baseline.py --preset mini_student --data procedural=64 \
        --epochs 20 --batch-size 16 --samples-per-epoch 1024 \
        --output runs/mini_baseline

`--resume` continues a killed run from its last finished epoch.
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

parser = make_parser("Train a plain low-resolution tracker (no distillation).")
parser.add_argument("--preset", default="res128", help="preset name or folder")
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

Exactly the teacher's data at the student's resolution: pairs from the
`--data` sources, cropped at the model's own size when the fit starts.
"""

sources, ratios = load_sources(config.data, config.ratios)

"""
## Model

The student's architecture, from MAE ViT weights with `--mae` like the
distilled student, so that only the teacher differs between the two.
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

The preset is saved to `<output>/preset` and evaluated by one-pass tracking of
`--eval-sequences`; compare `<output>/evaluation.json` with the distilled
student's.
"""

summary = save_and_evaluate(model, config, paths, strategy, {"preset": args.preset})
print({k: round(v, 2) if isinstance(v, float) else v for k, v in summary.items()})
