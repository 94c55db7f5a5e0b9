"""Training losses: tracking (focal, GIoU, L1) and dual knowledge distillation."""

from keras_loretrack.losses.distillation import (
    channel_kl_divergence,
    discriminative_distillation_loss,
    merge_heads,
    qkv_distillation_loss,
    resize_to_grid,
)
from keras_loretrack.losses.replicas import scale_for_replicas
from keras_loretrack.losses.tracking import (
    box_cxcywh_to_xyxy,
    center_heatmap,
    focal_loss,
    gaussian_radius,
    generalized_iou,
    tracking_loss,
)
