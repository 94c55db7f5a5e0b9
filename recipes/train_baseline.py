"""
Title: Train a plain low-resolution baseline
Author: keras_loretrack
Description: Train a student-sized tracker without distillation, the baseline
    LoReTrack must beat.

The baseline is the same one-stream ViT tracker as the student, trained directly
at its low resolution with OSTrack's recipe (DESIGN §5) and no teacher. The gap
between it and `distill_student.py` at the same preset is what distillation
buys; `benchmarks/distillation_throughput.py` measures what it costs.

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
"""

import os  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_loretrack.training import add_training_arguments  # noqa: E402
from keras_loretrack.training.run import make_parser  # noqa: E402
from keras_loretrack.training.tracker_training import train_tracker  # noqa: E402

DEFAULT_DATA = ["procedural=200"]


def parse_arguments():
    parser = make_parser("Train a plain low-resolution tracker (no distillation).")
    parser.add_argument("--preset", default="res128", help="preset name or folder")
    add_training_arguments(
        parser, epochs=300, batch_size=128, samples_per_epoch=60_000, data=DEFAULT_DATA
    )
    return parser.parse_args()


"""
## Data, model, compile and fit

Exactly the teacher's recipe at the student's resolution: `train_tracker` crops
pairs at the preset's size, compiles OSTrack's optimiser and fits with
per-epoch checkpoints.

## Evaluation

The preset is saved to `<output>/preset` and evaluated by one-pass tracking of
`--eval-sequences`; compare `<output>/evaluation.json` with the distilled
student's.
"""

if __name__ == "__main__":
    summary = train_tracker(parse_arguments(), DEFAULT_DATA)
    print({k: round(v, 2) if isinstance(v, float) else v for k, v in summary.items()})
