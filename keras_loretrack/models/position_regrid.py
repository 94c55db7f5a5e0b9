"""Re-gridding position tables with PyTorch-compatible bicubic interpolation.

PyTorch's `interpolate(mode="bicubic", align_corners=False)` uses the cubic
convolution kernel with A = -0.75, clamps indices at the edges and samples at
half-pixel centres. TensorFlow's bicubic uses A = -0.5, so the official tables
cannot be reproduced with it; this module does it in NumPy.
"""

import numpy as np

CUBIC_A = -0.75


def _cubic_kernel(t):
    t = np.abs(t)
    near = ((CUBIC_A + 2) * t - (CUBIC_A + 3)) * t * t + 1
    far = ((CUBIC_A * t - 5 * CUBIC_A) * t + 8 * CUBIC_A) * t - 4 * CUBIC_A
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def bicubic_matrix(source_size, target_size):
    """The (target, source) matrix of 1-D PyTorch bicubic resampling."""
    scale = source_size / target_size
    centres = (np.arange(target_size) + 0.5) * scale - 0.5
    base = np.floor(centres).astype(np.int64)
    matrix = np.zeros((target_size, source_size), dtype=np.float64)
    for tap in range(-1, 3):
        index = base + tap
        weight = _cubic_kernel(centres - index)
        np.add.at(
            matrix, (np.arange(target_size), np.clip(index, 0, source_size - 1)), weight
        )
    return matrix


def regrid_position_table(table, source_grid, target_grid):
    """Resizes a row-major (source_grid², C) table to (target_grid², C).

    Args:
        table: array (N, C) or (1, N, C). Row-major over a square grid.
        source_grid: int. Side of the table's grid.
        target_grid: int. Side of the wanted grid.

    Returns:
        float32 array (target_grid², C) (leading 1 kept if given).
    """
    table = np.asarray(table)
    squeeze = table.ndim == 3
    flat = table[0] if squeeze else table
    if flat.ndim != 2 or flat.shape[0] != source_grid * source_grid:
        raise ValueError(
            f"Position table of shape {table.shape} is not a {source_grid}x"
            f"{source_grid} grid"
        )
    grid = flat.reshape(source_grid, source_grid, -1).astype(np.float64)
    if source_grid != target_grid:
        resample = bicubic_matrix(source_grid, target_grid)
        grid = np.einsum("yi,xj,ijc->yxc", resample, resample, grid)
    out = grid.reshape(target_grid * target_grid, -1).astype(np.float32)
    return out[None] if squeeze else out
