"""Smooth random curves over a video: object paths, sizes, occluder crossings,
light changes and camera shake. Each takes the `numpy` Generator the script
draws from, so the order of calls fixes the video."""

import math

import numpy as np


def reflect(values, low, high):
    """Folds values into [low, high] by mirroring at the ends (a bounce)."""
    span = high - low
    if span <= 0:
        return np.full_like(values, low)
    folded = np.mod(values - low, 2.0 * span)
    return low + np.where(folded > span, 2.0 * span - folded, folded)


def smooth_wave(rng, num_frames, periods, num_terms=3):
    """A smooth random curve starting at 0 with max |value| <= 1.

    Returns the curve (N,) and the bound of its derivative per frame.
    """
    t = np.arange(num_frames, dtype=np.float64)
    omegas = 2.0 * np.pi / rng.uniform(periods[0], periods[1], num_terms)
    phases = rng.uniform(0.0, 2.0 * np.pi, num_terms)
    weights = rng.uniform(0.2, 1.0, num_terms)
    weights /= 2.0 * weights.sum()
    curve = (weights * (np.sin(t[:, None] * omegas + phases) - np.sin(phases))).sum(1)
    return curve, float((weights * omegas).sum())


def box_sizes(rng, video, size0, aspect0):
    """Per-frame box (w, h) (N, 2): slow scale and aspect-ratio waves."""
    n = video.num_frames
    log_scale = smooth_wave(rng, n, (0.3 * n + 20, 1.5 * n + 40))[0] * 2.0
    log_aspect = smooth_wave(rng, n, (0.3 * n + 20, 1.5 * n + 40))[0] * 2.0
    scale = size0 * np.exp(video.scale_change * log_scale)
    aspect = aspect0 * np.exp(video.aspect_change * log_aspect)
    return np.stack([scale * np.sqrt(aspect), scale / np.sqrt(aspect)], axis=1)


def trajectory(rng, video, size0, speed, out_bound):
    """Smooth centre path; it bounces at the frame (or beyond with out_bound)."""
    n = video.num_frames
    height, width = video.image_size
    centers = []
    for extent, axis in ((width, 0), (height, 1)):
        wave, slope = smooth_wave(rng, n, (30.0, 150.0))
        amplitude = speed * size0 / max(slope, 1e-9)
        start = rng.uniform(0.25, 0.75) * extent
        low, high = 0.0, float(extent)
        if out_bound is not None:
            low, high = -float(out_bound[axis]), extent + float(out_bound[axis])
        centers.append(reflect(start + amplitude * wave, low, high))
    return np.stack(centers, axis=1)


def crossing(rng, video, target, occluder_wh, size0):
    """Linear path through the target's position at a random time, clear at 0."""
    n = video.num_frames
    meet_index = int(rng.integers(max(1, n // 6), max(2, n)))
    meet_index = min(meet_index, n - 1)
    meet = target.centers[meet_index] + rng.uniform(-0.3, 0.3, 2) * size0
    direction = rng.uniform(0.0, 2.0 * np.pi)
    unit = np.array([math.cos(direction), math.sin(direction)])
    clearance = (
        0.5 * np.hypot(*occluder_wh)
        + 0.5 * np.hypot(*target.sizes[0])
        + np.hypot(*(meet - target.centers[0]))
        + 2.0
    )
    speed = max(
        video.speed * size0 * rng.uniform(0.5, 2.0), clearance / max(meet_index, 1)
    )
    t = np.arange(n, dtype=np.float64)[:, None]
    return meet + (t - meet_index) * speed * unit


def light_gain(rng, video):
    """Per-frame RGB gain (N, 3): a slow light wave, sometimes a sudden switch."""
    n = video.num_frames
    light = smooth_wave(rng, n, (0.5 * n + 20, 2.0 * n + 40))[0] * 2.0
    if rng.random() < 0.2:
        switch = rng.integers(1, max(n, 2))
        light = light + 0.5 * rng.choice([-1.0, 1.0]) * (np.arange(n) >= switch)
    channel_tilt = rng.uniform(-0.1, 0.1, 3)
    return np.exp(video.light_change * (light[:, None] * (1.0 + channel_tilt)))


def camera_shake(rng, video):
    """Per-frame camera-shake blur (length px, angle) (N, 2); length 0 for none."""
    n = video.num_frames
    height, width = video.image_size
    shake = np.zeros((n, 2))
    shaken = rng.random(n) < video.shake_probability
    lengths = rng.uniform(3.0, 3.0 + 0.03 * min(height, width), n)
    angles = rng.uniform(0.0, np.pi, n)
    shake[shaken] = np.stack([lengths, angles], axis=1)[shaken]
    shake[0] = 0.0
    return shake


def velocity(centers, index):
    """Centre velocity (px per frame) at frame `index`, by central difference."""
    previous = centers[max(index - 1, 0)]
    following = centers[min(index + 1, len(centers) - 1)]
    steps = min(index + 1, len(centers) - 1) - max(index - 1, 0)
    return (following - previous) / max(steps, 1)
