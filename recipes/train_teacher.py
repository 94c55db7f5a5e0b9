"""
Title: Train the LoReTrack teacher
Author: keras_loretrack
Description: Train the frozen 384 px teacher of LoReTrack with OSTrack's recipe.

The teacher is a plain one-stream ViT tracker (no candidate elimination) at the
highest resolution, trained like OSTrack (DESIGN §5): focal + 2·GIoU + 5·L1,
AdamW 4e-4 (× batch / 128) with the backbone at a tenth of it, weight decay
1e-4, global-norm clip 0.1, lr ×0.1 at 80% of the epochs, drop-path 0.1, the
backbone started from MAE ViT-B. `distill_student.py` then distils it into a
low-resolution student.

Baseline to beat: the paper's teacher reaches 71.0 SUC on LaSOT (OSTrack-384
with candidate elimination: 71.1).

Paper setting (4 GPUs; the MAE checkpoint is read without PyTorch):

    python recipes/train_teacher.py --preset res384 \
        --mae mae_pretrain_vit_base.pth --strategy mirrored \
        --data lasot=/data/lasot --data got10k:train=/data/got10k \
        --data coco=/data/coco --data trackingnet:TRAIN_0=/data/trackingnet \
        --val-data got10k:val=/data/got10k --output runs/teacher384

CPU miniature (procedural videos, small ViT):

    python recipes/train_teacher.py --preset mini_teacher --data procedural=64 \
        --epochs 20 --batch-size 16 --samples-per-epoch 1024 \
        --output runs/mini_teacher

Kill it at any time and run the same command with `--resume`: it continues
from the last finished epoch with nothing lost. TensorBoard logs are in
`<output>/logs`, the trained preset in `<output>/preset`.
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
    parser = make_parser("Train the LoReTrack teacher (a plain tracker at 384 px).")
    parser.add_argument("--preset", default="res384", help="preset name or folder")
    add_training_arguments(
        parser, epochs=300, batch_size=128, samples_per_epoch=60_000, data=DEFAULT_DATA
    )
    return parser.parse_args()


"""
## Data, model, compile and fit

`train_tracker` crops template/search pairs at the preset's resolution, builds
the model (from MAE with `--mae`), compiles it with OSTrack's optimiser and fits
it with per-epoch checkpoints; see `keras_loretrack/training/tracker_training.py`.

## Evaluation

The trained model is saved as a preset and tracks the evaluation sequences
(`--eval-sequences`, default 8 procedural test videos); AUC, precision and
normalised precision go to `<output>/evaluation.json`.
"""

if __name__ == "__main__":
    summary = train_tracker(parse_arguments(), DEFAULT_DATA)
    print({k: round(v, 2) if isinstance(v, float) else v for k, v in summary.items()})
