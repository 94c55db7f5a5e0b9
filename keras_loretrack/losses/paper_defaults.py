"""The training numbers of LoReTrack (Dong et al. 2024) and OSTrack (Ye et al. 2022).

One home for the paper's defaults: the losses, `LoReTrackDistiller`, the
optimiser and the recipes' flags all read them from here. It sits beside the
losses, the lowest layer that needs them.
"""

# OSTrack's tracking loss: focal + 2·GIoU + 5·L1.
FOCAL_WEIGHT = 1.0
GIOU_WEIGHT = 2.0
L1_WEIGHT = 5.0

# LoReTrack's dual knowledge distillation: + 0.01·Disc-KD + 0.01·QKV-KD.
DISC_WEIGHT = 0.01
QKV_WEIGHT = 0.01
KD_TEMPERATURE = 4.0
QKV_BLOCKS = (-1,)  # the last block's queries, keys and values
DISC_THRESHOLD = 0.20  # teacher energy (mean squared final feature) of the mask
DISC_INSIDE_WEIGHT = 0.6  # 0.75 for GOT-10k-only training
DISC_OUTSIDE_WEIGHT = 0.4

# OSTrack's optimiser: AdamW 4e-4 per 128 samples, backbone at a tenth,
# lr ×0.1 at 80% of the epochs.
BASE_LEARNING_RATE = 4e-4
BASE_BATCH_SIZE = 128
BACKBONE_LR_MULTIPLIER = 0.1
WEIGHT_DECAY = 1e-4
GLOBAL_CLIPNORM = 0.1
DECAY_FRACTION = 0.8
DECAY_FACTOR = 0.1

# The schedule: 300 epochs of 60,000 template/search pairs, batch 128.
EPOCHS = 300
BATCH_SIZE = 128
SAMPLES_PER_EPOCH = 60_000
