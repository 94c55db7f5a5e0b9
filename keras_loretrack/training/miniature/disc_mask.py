"""Where Disc-KD's mask falls: the teacher's final-feature energy per token.

LoReTrack marks a search token discriminative when the mean over channels of
the teacher's squared final-norm feature reaches 0.20. After a LayerNorm a
token's features have zero mean and unit variance over channels before the
scale and shift, so the energy is about mean(gamma^2) + mean(beta^2) plus how
the token's features align with the large-gamma channels: the fixed 0.20 only
splits tokens where the trained scale sits near it. This module measures the
energy on training crops and the threshold that passes a given share of tokens.
"""

import numpy as np

from keras_loretrack.data.crops import normalize
from keras_loretrack.losses.paper_defaults import DISC_THRESHOLD


def teacher_energy(teacher, pairs, batch_size=32, limit=512):
    """Energy (mean squared final-norm feature) of each teacher search token.

    Args:
        teacher: `LoReTrack`. The frozen teacher.
        pairs: dict of uint8 crops at the teacher's size (`template`, `search`).
        batch_size: int. Pairs per forward pass.
        limit: int. Pairs used (the first ones).

    Returns:
        float array (pairs, tokens).
    """
    features = teacher.distillation_model(())
    energies = []
    for start in range(0, min(limit, len(pairs["search"])), batch_size):
        stop = min(start + batch_size, limit)
        batch = {
            key: normalize(pairs[key][start:stop].astype(np.float32))
            for key in ("template", "search")
        }
        search = np.asarray(features(batch, training=False)["search_features"])
        energies.append(np.square(search).mean(-1).reshape(len(search), -1))
    return np.concatenate(energies)


def threshold_for_share(energy, share):
    """The energy threshold that `share` of the tokens reach (0 < share <= 1)."""
    if not 0 < share <= 1:
        raise ValueError(f"mask share must be in (0, 1], got {share}")
    return float(np.quantile(energy, 1.0 - share))


def final_norm_scale(teacher):
    """mean(gamma^2) + mean(beta^2) of the teacher's final LayerNorm.

    The energy a token with standardised features would have on average.
    """
    gamma, beta = (np.asarray(w) for w in teacher.backbone.final_norm.get_weights())
    return float(np.mean(np.square(gamma)) + np.mean(np.square(beta)))


def target_tokens(boxes, grid):
    """Whether each token's centre lies in the pair's target box.

    Args:
        boxes: float array (pairs, 4). (x1, y1, x2, y2) in [0, 1] of the crop.
        grid: int. Tokens per side.

    Returns:
        bool array (pairs, grid * grid), row-major like the token sequence.
    """
    centres = (np.arange(grid) + 0.5) / grid
    x = centres[None, None, :]
    y = centres[None, :, None]
    b = np.asarray(boxes, np.float64)[:, :, None, None]
    inside = (x >= b[:, 0]) & (x <= b[:, 2]) & (y >= b[:, 1]) & (y <= b[:, 3])
    return inside.reshape(len(boxes), -1)


def describe_mask(teacher, pairs, shares=(0.5, 0.2), limit=512):
    """What the report says about the mask: energies, shares, target overlap.

    Returns:
        dict: `quantiles` (energy at 5, 25, 50, 75, 95 %), `paper_share`
        (share of tokens reaching the paper's 0.20), `final_norm_scale`,
        `target_base` (share of tokens inside the target box) and `on_target`
        (threshold -> share of the masked tokens inside the target box, for
        the paper's threshold and the thresholds passing `shares`).
    """
    energy = teacher_energy(teacher, pairs, limit=limit)
    grid = int(round(np.sqrt(energy.shape[1])))
    target = target_tokens(pairs["box"][: len(energy)], grid)
    thresholds = [DISC_THRESHOLD] + [threshold_for_share(energy, s) for s in shares]
    on_target = {}
    for threshold in thresholds:
        mask = energy >= threshold
        on_target[threshold] = float(target[mask].mean()) if mask.any() else 0.0
    return {
        "quantiles": {
            q: float(np.quantile(energy, q / 100)) for q in (5, 25, 50, 75, 95)
        },
        "paper_share": float(np.mean(energy >= DISC_THRESHOLD)),
        "final_norm_scale": final_norm_scale(teacher),
        "target_base": float(target.mean()),
        "on_target": on_target,
    }
