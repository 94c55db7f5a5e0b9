"""Moving patches: a star-shaped soft mask (`Shape`) and its box per frame.

Each mask is analytic, so the box of its 0.5 contour, the ground truth, is
known in closed form.
"""

import dataclasses
import functools
import math

import numpy as np

_NUM_HARMONICS = 4


@dataclasses.dataclass(frozen=True)
class Shape:
    """A star-shaped soft mask: superellipse norm `rho_p <= r(theta)`."""

    power: float
    amplitudes: tuple
    phases: tuple

    def radius(self, u, v):
        """r(theta) of the direction (u, v), scaled to max 1."""
        return self._raw_radius(u, v) / self.max_radius

    def _raw_radius(self, u, v):
        """1 + sum_k a_k cos(k theta + phi_k), k = 2, 3, ..., theta = atan2(v, u).

        Uses powers of the unit complex number e^(i theta) instead of angles.
        """
        z = np.asarray(u) + 1j * np.asarray(v)
        magnitude = np.abs(z)
        z = np.where(magnitude > 0, z / np.where(magnitude > 0, magnitude, 1.0), 1.0)
        r = np.ones(z.shape)
        z_power = z
        for amplitude, phase in zip(self.amplitudes, self.phases):
            z_power = z_power * z
            r += amplitude * (z_power * complex(math.cos(phase), math.sin(phase))).real
        return r

    @functools.cached_property
    def max_radius(self):
        theta = np.linspace(0.0, 2.0 * np.pi, 8192, endpoint=False)
        return float(self._raw_radius(np.cos(theta), np.sin(theta)).max())

    def norm(self, u, v):
        p = self.power
        return (np.abs(u) ** p + np.abs(v) ** p) ** (1.0 / p)

    def signed_margin(self, u, v):
        """r(theta) - rho_p: positive inside, zero on the 0.5 contour."""
        return self.radius(u, v) - self.norm(u, v)

    @functools.cached_property
    def bounds(self):
        """Tight box of the contour in shape coordinates: (umin, umax, vmin, vmax)."""
        theta = np.linspace(0.0, 2.0 * np.pi, 8192, endpoint=False)
        c, s = np.cos(theta), np.sin(theta)
        scale = self.radius(c, s) / self.norm(c, s)
        u, v = c * scale, s * scale
        return float(u.min()), float(u.max()), float(v.min()), float(v.max())


def random_shape(rng, irregularity, power_range):
    """A random `Shape` whose radius dents by at most `irregularity`."""
    k = np.arange(2, 2 + _NUM_HARMONICS)
    # sum of amplitudes <= irregularity < 1 keeps r(theta) > 0 (star-shaped).
    amplitudes = irregularity * rng.uniform(0.0, 1.0, _NUM_HARMONICS) / k
    amplitudes /= (1.0 / k).sum()
    phases = rng.uniform(0.0, 2.0 * np.pi, _NUM_HARMONICS)
    power = float(rng.uniform(*power_range))
    return Shape(power, tuple(amplitudes.tolist()), tuple(phases.tolist()))


@dataclasses.dataclass(frozen=True, eq=False)
class Sprite:
    """One moving patch: texture source, mask shape and per-frame box."""

    texture: str
    region: tuple  # (x0, y0, x1, y1) in the source image, fractions
    flip: bool
    tint: tuple
    shape: Shape
    centers: np.ndarray = dataclasses.field(repr=False)  # (N, 2) box centre
    sizes: np.ndarray = dataclasses.field(repr=False)  # (N, 2) box w, h

    def ellipse(self, index):
        """Shape frame at a frame: centre (ex, ey) and half axes (ax, ay)."""
        umin, umax, vmin, vmax = self.shape.bounds
        w, h = self.sizes[index].T
        ax, ay = w / (umax - umin), h / (vmax - vmin)
        cx, cy = self.centers[index].T
        return cx - ax * (umin + umax) / 2.0, cy - ay * (vmin + vmax) / 2.0, ax, ay

    def boxes(self):
        """Ground-truth boxes x, y, w, h (N, 4)."""
        return np.concatenate([self.centers - self.sizes / 2.0, self.sizes], axis=1)

    def outer_boxes(self, index):
        """Boxes x, y, w, h around the shape frame (|u|, |v| <= 1 holds the shape)."""
        ex, ey, ax, ay = self.ellipse(index)
        return np.stack([ex - ax, ey - ay, 2.0 * ax, 2.0 * ay], axis=-1)

    def inside(self, x, y, index):
        """Whether points (frame coordinates) lie inside the 0.5 contour.

        `index` may be an array of frames (M,) with points shaped (M, P).
        """
        ex, ey, ax, ay = (np.asarray(a)[..., None] for a in self.ellipse(index))
        return self.shape.signed_margin((x - ex) / ax, (y - ey) / ay) >= 0.0
