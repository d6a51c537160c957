"""Store-recall (Bellec et al. 2020, Supplementary): remember a bit from a "store" cue until a "recall" cue.

Input: 4 groups of ``n_in / 4`` neurons — store cue, recall cue, value 0, value 1 — plus nothing else.  During
the store window (``cue_ms``) the store group and the group of the bit's value fire at ``rate_hz``; after
``delay_ms`` the recall group fires for ``cue_ms``.  Target: the stored bit, scored in the recall window
(cross-entropy over 2 readouts).  Background at ``background_rate_hz`` on every channel.
"""

from __future__ import annotations

import numpy as np

from neuroport.tasks import Batch
from neuroport.tasks.params import duration, rate, refuse
from neuroport.tasks.poisson import poisson_spikes, steps


class StoreRecall:
    loss = "cross_entropy"
    PARAMS = {"cue_ms": duration(), "delay_ms": duration(positive=False), "rate_hz": rate(), "background_rate_hz": rate()}

    @staticmethod
    def size_problem(p: dict, n_in: int, n_out: int) -> tuple[str, str] | None:
        if n_in % 4 or n_out != 2:
            return "input.size" if n_in % 4 else "readout.size", f"store-recall needs n_in divisible by 4 and 2 readouts, got n_in={n_in}, n_out={n_out}"
        return None

    @staticmethod
    def sequence_steps(p: dict, dt_ms: float) -> int:
        return 2 * steps(p["cue_ms"], dt_ms) + steps(p["delay_ms"], dt_ms)

    def __init__(
        self, *, n_in: int, n_out: int, dt_ms: float, cue_ms: float = 100.0, delay_ms: float = 400.0,
        rate_hz: float = 50.0, background_rate_hz: float = 2.0,
    ) -> None:
        refuse(self.size_problem({}, n_in, n_out))
        self.n_in, self.n_out, self.dt_ms = n_in, n_out, dt_ms
        self.rate_hz, self.background_rate_hz = rate_hz, background_rate_hz
        self.cue_steps, self.delay_steps = steps(cue_ms, dt_ms), steps(delay_ms, dt_ms)
        self.n_steps = 2 * self.cue_steps + self.delay_steps

    def batch(self, rng: np.random.Generator, batch_size: int) -> Batch:
        group, c = self.n_in // 4, self.cue_steps
        rates = np.full((batch_size, self.n_steps, self.n_in), self.background_rate_hz)
        bits = rng.integers(0, 2, batch_size)
        rates[:, :c, :group] = self.rate_hz
        for b, bit in enumerate(bits):
            rates[b, :c, (2 + bit) * group:(3 + bit) * group] = self.rate_hz
        rates[:, -c:, group:2 * group] = self.rate_hz
        targets = np.zeros((batch_size, self.n_steps, 2))
        targets[np.arange(batch_size), :, bits] = 1.0
        mask = np.zeros((batch_size, self.n_steps), dtype=bool)
        mask[:, -c:] = True
        return Batch(inputs=poisson_spikes(rng, rates, self.dt_ms), targets=targets, loss_mask=mask, labels=bits.astype(np.int64))
