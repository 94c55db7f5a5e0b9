"""Analytic cost of a LoReTrack model: multiply-accumulates.

MACs count the linear and convolution layers only (attention matmuls, norms
and activations excluded), the convention of LoReTrack (Dong et al. 2024).
"""

from keras_loretrack.layers.center_head import BRANCH_OUTPUTS


def count_macs(model):
    """Multiply-accumulates of one forward pass of a `LoReTrack` (batch 1).

    With candidate elimination, the MLP of a CE block and every later block
    run on the kept search tokens only.
    """
    backbone = model.backbone
    hidden = backbone.hidden_dim
    num_template = backbone.template_grid**2
    num_search = backbone.feature_size**2
    macs = (num_template + num_search) * 3 * backbone.patch_size**2 * hidden
    for block in backbone.transformer_blocks:
        macs += (num_template + num_search) * 4 * hidden * hidden  # qkv + proj
        if block.candidate_elimination is not None:
            num_search = block.candidate_elimination.num_kept(num_search)
        macs += (num_template + num_search) * 2 * hidden * backbone.mlp_dim
    positions = backbone.feature_size**2
    widths = (hidden,) + tuple(model.head_channels)
    branch = sum(9 * c_in * c_out for c_in, c_out in zip(widths[:-1], widths[1:]))
    outputs = widths[-1] * sum(BRANCH_OUTPUTS.values())
    return macs + positions * (len(BRANCH_OUTPUTS) * branch + outputs)
