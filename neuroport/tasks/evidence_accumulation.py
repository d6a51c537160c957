"""Evidence accumulation (Bellec et al. 2020, Fig. 3; NEST's evidence-accumulation e-prop example).

Input: 4 groups of ``n_in / 4`` neurons — left cues, right cues, recall cue, background noise.  A sequence is
``n_cues`` cue periods of ``gap_ms + cue_ms`` each (``cue_ms`` of ``cue_rate_hz`` spikes in the left or right
group, followed by the gap, or preceded by it with ``gap_before_cue``), a delay of ``delay_ms``, and a recall
window of ``recall_ms`` in which the recall group fires.  The background group fires at ``background_rate_hz``
throughout.  Each sequence draws a bias p from ``side_probabilities``; every cue is left with probability p.
Target: the side with more cues (class 0 left, 1 right), scored in the recall window (cross-entropy).

With ``gap_before_cue: true``, ``side_probabilities: [0.3, 0.7]``, ``background_rate_hz: 10`` and the defaults
otherwise this is the generator of Bellec et al.'s TensorFlow tutorial (``generate_click_task_data`` in
``e_prop_tutorials_Figure3_and_S7/tools.py`` of github.com/IGITUGraz/eligibility_propagation, called by
``tutorial_evidence_accumulation_with_alif.py`` there with p_group 0.3, t_cue 100, t_interval 150, f0 40 Hz,
recall 150, sequence 7 · 150 + 1200 = 2250 ms) and of NEST's
``pynest/examples/eprop_plasticity/eprop_supervised_classification_evidence-accumulation_bsshslm_2020.py``
(github.com/nest/nest-simulator): cue k occupies [50 + 150 k, 150 + 150 k) ms, the last cue ends at 1050 ms, then
1050 ms of background only come before the 150 ms recall cue; the background group fires at f0 / 4 throughout;
each sequence's left-cue probability is 0.3 or 0.7; the label is the majority side.  Their readout convention is
this task's: cross-entropy at every step of the last 150 ms, decision = argmax of the readout averaged over them.
"""

from __future__ import annotations

import numpy as np

from neuroport.tasks import Batch
from neuroport.tasks.params import MAX_COUNT, Param, duration, rate, refuse
from neuroport.tasks.poisson import poisson_spikes, steps


class EvidenceAccumulation:
    loss = "cross_entropy"
    PARAMS = {
        "n_cues": Param("int", low=1, high=MAX_COUNT), "cue_ms": duration(), "gap_ms": duration(positive=False),
        "delay_ms": duration(positive=False), "recall_ms": duration(), "cue_rate_hz": rate(),
        "background_rate_hz": rate(), "side_probabilities": Param("numbers", low=0.0, high=1.0, why="a probability"),
        "gap_before_cue": Param("bool"),
    }

    @staticmethod
    def size_problem(p: dict, n_in: int, n_out: int) -> tuple[str, str] | None:
        if n_in % 4 or n_out != 2:
            return ("input.size" if n_in % 4 else "readout.size",
                    f"evidence accumulation needs n_in divisible by 4 and 2 readouts, got n_in={n_in}, n_out={n_out}")
        if p["n_cues"] % 2 == 0:
            return "task.params.n_cues", f"n_cues must be odd so that one side always wins, got {p['n_cues']}"
        return None

    @staticmethod
    def sequence_steps(p: dict, dt_ms: float) -> int:
        """n_cues · (cue + gap) + delay + recall, each rounded to steps."""
        return p["n_cues"] * (steps(p["cue_ms"], dt_ms) + steps(p["gap_ms"], dt_ms)) + steps(p["delay_ms"], dt_ms) \
            + steps(p["recall_ms"], dt_ms)

    def __init__(
        self, *, n_in: int, n_out: int, dt_ms: float, n_cues: int = 7, cue_ms: float = 100.0, gap_ms: float = 50.0,
        delay_ms: float = 1050.0, recall_ms: float = 150.0, cue_rate_hz: float = 40.0,
        background_rate_hz: float = 10.0, side_probabilities: tuple[float, ...] = (0.12, 0.88),
        gap_before_cue: bool = False,
    ) -> None:
        refuse(self.size_problem({"n_cues": n_cues}, n_in, n_out))
        self.n_in, self.n_out, self.dt_ms = n_in, n_out, dt_ms
        self.n_cues, self.cue_rate_hz, self.background_rate_hz = n_cues, cue_rate_hz, background_rate_hz
        self.side_probabilities = tuple(side_probabilities)
        self.cue_steps, self.gap_steps = steps(cue_ms, dt_ms), steps(gap_ms, dt_ms)
        self.delay_steps, self.recall_steps = steps(delay_ms, dt_ms), steps(recall_ms, dt_ms)
        self.n_steps = n_cues * (self.cue_steps + self.gap_steps) + self.delay_steps + self.recall_steps
        self.cue_offset = self.gap_steps if gap_before_cue else 0  # steps from a period's start to its cue

    def batch(self, rng: np.random.Generator, batch_size: int) -> Batch:
        group = self.n_in // 4
        rates = np.zeros((batch_size, self.n_steps, self.n_in))
        rates[:, :, 3 * group:] = self.background_rate_hz
        p_left = rng.choice(self.side_probabilities, size=batch_size)
        left = rng.random((batch_size, self.n_cues)) < p_left[:, None]
        period = self.cue_steps + self.gap_steps
        for c in range(self.n_cues):
            t0 = c * period + self.cue_offset
            for side, chosen in ((0, left[:, c]), (1, ~left[:, c])):
                rates[chosen, t0:t0 + self.cue_steps, side * group:(side + 1) * group] = self.cue_rate_hz
        rates[:, -self.recall_steps:, 2 * group:3 * group] = self.cue_rate_hz
        labels = (left.sum(axis=1) < self.n_cues / 2).astype(np.int64)  # 1 = right won
        targets = np.zeros((batch_size, self.n_steps, 2))
        targets[np.arange(batch_size), :, labels] = 1.0
        mask = np.zeros((batch_size, self.n_steps), dtype=bool)
        mask[:, -self.recall_steps:] = True
        return Batch(inputs=poisson_spikes(rng, rates, self.dt_ms), targets=targets, loss_mask=mask, labels=labels)
