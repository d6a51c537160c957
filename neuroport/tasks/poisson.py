"""Poisson spike helpers shared by the task generators."""

from __future__ import annotations

import numpy as np

SILENT_STEPS = 2  # see poisson_spikes


def poisson_spikes(rng: np.random.Generator, rate_hz: np.ndarray, dt_ms: float) -> np.ndarray:
    """Bernoulli approximation of a Poisson process: spike with probability rate · dt per step (uint8).

    ``rate_hz`` has time on axis −2.  The first ``SILENT_STEPS`` steps of every sequence stay silent, so that
    every engine — numpy, NEST, the emulator — computes the same thing: NEST's e-prop synapses drop spikes that
    arrive in the first step of an update interval (its examples remove them), and a spike in the second step
    makes NEST's lazy synapse update compute the previous interval's gradient before the learning signal of
    that interval's last step has arrived (measured: tests/nest/test_eprop_vs_nest.py).
    """
    p = np.clip(np.asarray(rate_hz, dtype=np.float64) * dt_ms * 1e-3, 0.0, 1.0)
    spikes = (rng.random(p.shape) < p).astype(np.uint8)
    spikes[..., :SILENT_STEPS, :] = 0
    return spikes


def steps(duration_ms: float, dt_ms: float) -> int:
    """Number of steps of a duration, rounded to the nearest step (at least 1)."""
    return max(1, int(round(duration_ms / dt_ms)))
