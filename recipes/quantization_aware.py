"""
Title: Quantization-aware fine-tuning of a LoReTrack preset
Author: keras_loretrack
Description: Fine-tune a trained tracker with int8 fake quantisation in the
    graph, then export it to TFLite or ONNX with the ranges it learned.

Post-training int8 fixes each activation range from a few calibration crops
and rounds weights the network never saw rounded. Quantization-aware training
(Jacob et al., CVPR 2018) instead fine-tunes the network with the rounding in
its forward pass: the inputs and outputs of every fully-connected and
convolution layer pass through 8-bit fake quantisers whose ranges follow the
activations (moving min / max), the weights through symmetric per-channel ones,
and gradients pass straight through. What TensorFlow Model Optimization's
`quantize_model` gave Keras 2 models; here for Keras 3, in place, the weight
files unchanged (`keras_loretrack.quantization_aware`).

The goal is an int8 tracker that does what the float one does, so the float
model itself is the teacher: LoReTrack's dual distillation (Dong et al. 2024)
makes the quantised student match its final search features (Disc-KD) and
last-block queries, keys and values (QKV-KD), weight 1 each, without the
tracking loss on the ground truth, which would pull the network away from the
float model it should copy (`--tracking-weight 1` adds it back). Stochastic depth is
off unless `--drop-path` is given: the teacher runs without it. `--teacher`
names another teacher; `--no-distillation` trains on the tracking loss alone.

CPU miniature (100 steps on procedural training videos; the run behind
`benchmarks/results/quantization_aware.md`):

    python recipes/quantization_aware.py --preset mini_teacher \
        --data procedural=64 --epochs 1 --samples-per-epoch 1600 \
        --batch-size 16 --learning-rate 5e-5 --backbone-multiplier 1 \
        --skip-eval --export tflite:int8-mixed --export tflite:int8 \
        --output runs/mini_teacher_qat

For ONNX Runtime on x86 CPUs without VNNI, train 7-bit weights
(`--weight-bits 7 --export onnx:int8`): its int8 kernel sums pairs of
uint8 × int8 products in int16, which 8-bit weights overflow.

`--resume` continues a killed run from its last finished epoch; the
activation ranges are not in the checkpoints and start again from the next
batch.
"""

"""
## Setup

The shared flags become a frozen `TrainingConfig`; the quantization flags say
how to quantise and where to export. The preset's trained weights are always
loaded: quantization-aware training fine-tunes a trained model.
"""

import argparse  # noqa: E402
import os  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from keras_loretrack import LoReTrack  # noqa: E402
from keras_loretrack.data.crops import CropGeometry  # noqa: E402
from keras_loretrack.export import load_calibration  # noqa: E402
from keras_loretrack.losses import paper_defaults as paper  # noqa: E402
from keras_loretrack.models.loretrack_distiller import LoReTrackDistiller  # noqa: E402
from keras_loretrack.quantization_aware import (  # noqa: E402
    DEFAULT_RANGE_DECAY,
    export_quantization_aware,
    parse_export_target,
    quantization_aware,
    save_quantization_aware,
)
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
    training_callbacks,
    training_config,
    training_data,
    validation_data,
)


def export_target(spec):
    """`--export` values: `FORMAT:QUANTIZATION`, checked."""
    try:
        return parse_export_target(spec)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


parser = make_parser("Fine-tune a LoReTrack preset quantization-aware and export it.")
parser.add_argument("--preset", required=True, help="trained preset: name or folder")
group = parser.add_argument_group("quantization")
group.add_argument(
    "--weight-bits",
    type=int,
    choices=(7, 8),
    default=8,
    help="per-channel weight bits: 8 (TFLite), 7 (ONNX Runtime without VNNI)",
)
group.add_argument(
    "--range-decay",
    type=float,
    default=DEFAULT_RANGE_DECAY,
    help="share of an activation range each batch keeps",
)
group.add_argument(
    "--attention-probabilities",
    action="store_true",
    help="also round the softmax outputs to the k/256 grid full-integer TFLite "
    "computes them on (fine-tuning for tflite:int8)",
)
group.add_argument(
    "--export",
    type=export_target,
    action="append",
    default=None,
    help="FORMAT:QUANTIZATION to write into the run folder, repeatable "
    "(tflite:int8-mixed, tflite:int8, onnx:int8); default tflite:int8-mixed",
)
group.add_argument(
    "--calibration",
    default="procedural",
    help="crops for the tensors outside the quantised layers (tflite:int8 only): "
    "a folder of OTB-layout sequences or 'procedural'",
)
group = parser.add_argument_group("distillation")
group.add_argument(
    "--teacher", default=None, help="float teacher (default: the preset itself)"
)
group.add_argument("--no-distillation", action="store_true", help="tracking loss alone")
group.add_argument("--disc-weight", type=float, default=1.0, help="Disc-KD weight")
group.add_argument("--qkv-weight", type=float, default=1.0, help="QKV-KD weight")
group.add_argument(
    "--tracking-weight",
    type=float,
    default=0.0,
    help="factor of the tracking loss (focal + 2·GIoU + 5·L1) beside distillation",
)
add_training_arguments(parser, epochs=1, batch_size=16, samples_per_epoch=4800)
args = parser.parse_args()
config = training_config(args)
targets = args.export or [("tflite", "int8-mixed")]

strategy = make_strategy(config.strategy, config.tpu)
check_batch_size(config.batch_size, strategy)
set_precision(config.mixed_precision, strategy)
keras.utils.set_random_seed(config.seed)
paths = prepare_output(config.output, config.resume)

"""
## Model

The preset, made quantization-aware in place: the same object, the same
weights, its Dense and Conv2D layers now fake-quantising. Under distillation
it is the student of a frozen float teacher (by default a second, untouched
copy of the preset), which sees the same crops; the distiller takes the
quantization-aware model as it takes any `LoReTrack`.
"""

drop_path = 0.0 if config.drop_path is None else config.drop_path
with strategy.scope():
    model = LoReTrack.from_preset(args.preset, drop_path_rate=drop_path)
    quantization_aware(
        model,
        weight_bits=args.weight_bits,
        range_decay=args.range_decay,
        attention_probabilities=args.attention_probabilities,
    )
    trained, teacher = model, None
    if not args.no_distillation:
        teacher = LoReTrack.from_preset(args.teacher or args.preset)
        trained = LoReTrackDistiller(
            model,
            teacher,
            focal_weight=args.tracking_weight * paper.FOCAL_WEIGHT,
            giou_weight=args.tracking_weight * paper.GIOU_WEIGHT,
            l1_weight=args.tracking_weight * paper.L1_WEIGHT,
            disc_weight=args.disc_weight,
            qkv_weight=args.qkv_weight,
        )

"""
## Compile

OSTrack's optimiser (AdamW, backbone lr ×0.1, clipping, step decay) at a
fine-tuning learning rate (`--learning-rate`, e.g. 5e-5).
"""

with strategy.scope():
    trained.compile(
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

The ranges start at the first batch and move with every training step; the
loss terms are logged as in the other recipes.
"""

initial_epoch = resume(trained, paths, config.resume)
geometry = CropGeometry.of(teacher or model)  # a distiller takes the teacher's crops
sources, ratios = load_sources(config.data, config.ratios)
trained.fit(
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
## Save, evaluate, export

`<output>/preset` is a float preset any `LoReTrack.from_preset` loads, plus
`quantization_ranges.json` (`load_quantization_aware` restores both). The
one-pass scores are those of the fake-quantised Keras model; each export
target becomes `<output>/model_<quantization>.<format>`.
"""

summary = save_and_evaluate(model, config, paths, strategy, {"preset": args.preset})
save_quantization_aware(model, paths["preset"])
calibration = None
if ("tflite", "int8") in targets:
    calibration = load_calibration(args.calibration, model)
for fmt, quantization in targets:
    path = os.path.join(config.output, f"model_{quantization}.{fmt}")
    export_quantization_aware(
        model, path, fmt, quantization, calibration, preset=args.preset
    )
    print(f"wrote {path}")
print({k: round(v, 2) if isinstance(v, float) else v for k, v in summary.items()})
