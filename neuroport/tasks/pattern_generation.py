"""Pattern generation (Bellec et al. 2020, Fig. 2; NEST's sine-wave e-prop example).

Target: a sum of sines of ``frequencies_hz`` (default 1, 2, 3, 5 Hz) with amplitudes and phases drawn once from
the task seed, over ``duration_ms``.  Input: a clock of ``n_in`` neurons in ``n_groups`` groups; group g fires
at ``rate_hz`` during the g-th of ``n_groups`` equal slices of the sequence.  Regression (MSE), every step.
The same target is used for every sequence (the network learns to generate one pattern); with ``frozen_input``
(default, as in Bellec et al. and NEST's example) the clock's spikes are drawn once too, so every sequence is the
same — the network learns a fixed input → pattern mapping.
"""

from __future__ import annotations

import numpy as np

from neuroport.tasks import Batch
from neuroport.tasks.params import MAX_COUNT, MAX_RATE_HZ, Param, duration, rate, refuse
from neuroport.tasks.poisson import poisson_spikes, steps

MAX_AMPLITUDE = 1e6  # the target is normalised to a peak of 1; amplitudes only weigh the sines against each other


class PatternGeneration:
    loss = "mse"
    PARAMS = {
        "duration_ms": duration(), "n_groups": Param("int", low=1, high=MAX_COUNT),
        "frequencies_hz": Param("numbers", low=0.0, high=MAX_RATE_HZ, why="a sine above 10 kHz aliases at any dt ≥ 0.05 ms"),
        "rate_hz": rate(), "pattern_seed": Param("int", low=0, high=2**63 - 2),
        "amplitude_range": Param("numbers", length=2, low=0.0, high=MAX_AMPLITUDE, why="relative amplitudes"),
        "frozen_input": Param("bool"),
    }

    @staticmethod
    def size_problem(p: dict, n_in: int, n_out: int) -> tuple[str, str] | None:
        low, high = p["amplitude_range"]
        if low > high:
            return "task.params.amplitude_range", f"expected [low, high] with low ≤ high, got [{low}, {high}]"
        if n_in % p["n_groups"]:
            return "task.params.n_groups", f"n_in ({n_in}) must be divisible by n_groups ({p['n_groups']})"
        return None

    @staticmethod
    def sequence_steps(p: dict, dt_ms: float) -> int:
        return steps(p["duration_ms"], dt_ms)

    def __init__(
        self, *, n_in: int, n_out: int, dt_ms: float, duration_ms: float = 1000.0,
        frequencies_hz: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0), n_groups: int = 5, rate_hz: float = 100.0,
        amplitude_range: tuple[float, float] = (0.5, 2.0), pattern_seed: int = 0, frozen_input: bool = True,
    ) -> None:
        refuse(self.size_problem({"amplitude_range": amplitude_range, "n_groups": n_groups}, n_in, n_out))
        self.n_in, self.n_out, self.dt_ms, self.rate_hz, self.n_groups = n_in, n_out, dt_ms, rate_hz, n_groups
        self.n_steps = steps(duration_ms, dt_ms)
        rng = np.random.default_rng(pattern_seed)
        t_s = np.arange(1, self.n_steps + 1) * dt_ms * 1e-3
        target = np.zeros((self.n_steps, n_out))
        for k in range(n_out):
            amp = rng.uniform(*amplitude_range, size=len(frequencies_hz))
            phase = rng.uniform(0, 2 * np.pi, size=len(frequencies_hz))
            target[:, k] = sum(a * np.sin(2 * np.pi * f * t_s + p) for a, f, p in zip(amp, frequencies_hz, phase, strict=True))
        self.target = target / np.abs(target).max() if np.abs(target).max() > 0 else target
        self.frozen = self._spikes(np.random.default_rng(pattern_seed + 1), 1)[0] if frozen_input else None

    def _spikes(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        rates = np.zeros((batch_size, self.n_steps, self.n_in))
        per_group, edges = self.n_in // self.n_groups, np.linspace(0, self.n_steps, self.n_groups + 1).astype(int)
        for g in range(self.n_groups):
            rates[:, edges[g]:edges[g + 1], g * per_group:(g + 1) * per_group] = self.rate_hz
        return poisson_spikes(rng, rates, self.dt_ms)

    def batch(self, rng: np.random.Generator, batch_size: int) -> Batch:
        if self.frozen is not None:
            inputs = np.broadcast_to(self.frozen, (batch_size, *self.frozen.shape)).copy()
        else:
            inputs = self._spikes(rng, batch_size)
        targets = np.broadcast_to(self.target, (batch_size, *self.target.shape)).copy()
        mask = np.ones((batch_size, self.n_steps), dtype=bool)
        return Batch(inputs=inputs, targets=targets, loss_mask=mask)
