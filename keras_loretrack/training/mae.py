"""Starting a tracker's backbone from MAE ViT weights, as OSTrack and LoReTrack do."""


def start_from_mae(model, checkpoint_path):
    """Loads MAE ViT weights into `model`'s backbone.

    Args:
        model: `LoReTrack`. Its head keeps its initialisation.
        checkpoint_path: str. `mae_pretrain_vit_base.pth` (read without torch).

    Returns:
        `keras_loretrack.checkpoints.LoadReport`.
    """
    from keras_loretrack.checkpoints import (
        load_official_weights,
        load_torch_checkpoint,
    )

    return load_official_weights(
        model, load_torch_checkpoint(checkpoint_path), strict=True
    )
