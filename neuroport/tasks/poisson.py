"""Poisson spike helpers shared by the task generators."""

from __future__ import annotations

import numpy as np


def poisson_spikes(rng: np.random.Generator, rate_hz: np.ndarray, dt_ms: float) -> np.ndarray:
    """Bernoulli approximation of a Poisson process: spike with probability rate · dt per step (uint8)."""
    p = np.clip(np.asarray(rate_hz, dtype=np.float64) * dt_ms * 1e-3, 0.0, 1.0)
    return (rng.random(p.shape) < p).astype(np.uint8)


def steps(duration_ms: float, dt_ms: float) -> int:
    """Number of steps of a duration, rounded to the nearest step (at least 1)."""
    return max(1, int(round(duration_ms / dt_ms)))
