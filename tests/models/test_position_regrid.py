import numpy as np
import pytest

from keras_loretrack.models.position_regrid import bicubic_matrix, regrid_position_table


def smooth_table(grid, channels=6):
    y, x = np.meshgrid(np.linspace(0, 1, grid), np.linspace(0, 1, grid), indexing="ij")
    table = np.stack(
        [np.sin(3 * x + c) * np.cos(2 * y - c) for c in range(channels)], -1
    )
    return table.reshape(grid * grid, channels).astype("float32")


def test_same_size_is_identity():
    table = np.random.default_rng(0).normal(size=(64, 5)).astype("float32")
    np.testing.assert_array_equal(regrid_position_table(table, 8, 8), table)


def test_round_trip_256_to_128_to_256_is_close():
    table = smooth_table(16)
    back = regrid_position_table(regrid_position_table(table, 16, 8), 8, 16)
    assert np.abs(back - table).max() < 0.05


def test_rows_of_the_matrix_sum_to_one():
    np.testing.assert_allclose(bicubic_matrix(14, 24).sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(bicubic_matrix(24, 8).sum(1), 1.0, atol=1e-12)


def test_keeps_a_leading_batch_axis():
    assert regrid_position_table(smooth_table(4)[None], 4, 6).shape == (1, 36, 6)


def test_rejects_a_table_that_is_not_the_grid():
    with pytest.raises(ValueError, match="is not a 8x8 grid"):
        regrid_position_table(np.zeros((63, 4)), 8, 4)


@pytest.mark.torch
@pytest.mark.parametrize(
    "source,target", [(14, 24), (14, 8), (24, 8), (8, 16), (14, 6)]
)
def test_matches_pytorch_bicubic(source, target):
    torch = pytest.importorskip("torch")
    table = np.random.default_rng(1).normal(size=(source * source, 7)).astype("float32")
    grid = torch.from_numpy(table).reshape(1, source, source, 7).permute(0, 3, 1, 2)
    expected = torch.nn.functional.interpolate(
        grid, size=(target, target), mode="bicubic", align_corners=False
    )
    expected = expected.permute(0, 2, 3, 1).reshape(target * target, 7).numpy()
    np.testing.assert_allclose(
        regrid_position_table(table, source, target), expected, atol=1e-5
    )
