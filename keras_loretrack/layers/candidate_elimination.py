"""OSTrack's early candidate elimination with static shapes."""

import math

import keras
from keras import ops


def template_center_index(template_grid):
    """Flat index of the template token OSTrack ranks search tokens with.

    27 on an 8x8 template grid, 65 on 12x12, 24 on 7x7.
    """
    center = template_grid // 2 - 1 if template_grid % 2 == 0 else template_grid // 2
    return center * template_grid + center


@keras.saving.register_keras_serializable(package="keras_loretrack")
class CandidateElimination(keras.layers.Layer):
    """Keeps the `ceil(keep_ratio·L)` search tokens the template centre attends to.

    Search tokens are ranked by the head-averaged attention from the template
    centre token; the kept ones are reordered by that rank (TopK with a constant
    K, so shapes stay static and the graph exports). Template tokens are never
    dropped. `search_index` follows each kept token's position in the full
    search grid so the final features can be scattered back.

    Args:
        num_template_tokens: int. Template tokens leading the sequence.
        template_grid: int. Side of the template token grid.
        keep_ratio: float. Fraction of search tokens kept.
    """

    def __init__(self, num_template_tokens, template_grid, keep_ratio, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < keep_ratio <= 1.0:
            raise ValueError(f"keep_ratio must be in (0, 1], got {keep_ratio!r}")
        self.num_template_tokens = num_template_tokens
        self.template_grid = template_grid
        self.keep_ratio = keep_ratio

    def num_kept(self, num_search_tokens):
        return math.ceil(self.keep_ratio * num_search_tokens)

    def call(self, tokens, attention, search_index):
        nz = self.num_template_tokens
        center = template_center_index(self.template_grid)
        scores = ops.mean(attention[:, :, center, nz:], axis=1)
        keep = self.num_kept(tokens.shape[1] - nz)
        _, order = ops.top_k(scores, keep, sorted=True)
        kept = ops.take_along_axis(tokens[:, nz:], order[..., None], axis=1)
        return {
            "tokens": ops.concatenate([tokens[:, :nz], kept], axis=1),
            "search_index": ops.take_along_axis(search_index, order, axis=1),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_template_tokens": self.num_template_tokens,
                "template_grid": self.template_grid,
                "keep_ratio": self.keep_ratio,
            }
        )
        return config
