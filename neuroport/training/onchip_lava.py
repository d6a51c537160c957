"""``neuroport train --on-chip --target loihi-sim``: on-chip e-prop streamed through Lava's learning processes
(LearningDense / LearningSparse with neuroport's learning neuron and error readout,
:mod:`neuroport.backends.loihi.onchip`), one chip, one sequence after another, checked against the emulator.

The ``total`` training sequences are drawn one at a time (batch 1) from ``default_rng(seed)``, as
:func:`~neuroport.training.eprop.draw_batches` draws them.  They are streamed in stretches; a stretch ends at every
multiple of ``checkpoint_every`` and of ``check_every``, at every schedule stage's first sequence and at the end.
Each stretch is one Lava runtime built from the chip state the previous one left
(:class:`~neuroport.backends.loihi.chip_state.ResumableOnChipNetwork`: weights, engine clocks and random streams;
neurons, readout, traces and tags are zeroed between sequences anyway), so a stretch boundary changes nothing: the
weights after n sequences are the same however the run was cut, checkpointed, interrupted or resumed.  A schedule
stage (``--schedule``, :func:`~neuroport.training.onchip.scheduled_rates`) is applied by building its stretch with
the stage's rule — the host rewriting the learning rule between phases — the state carried over as it is.

The emulator's :class:`~neuroport.emulator.onchip.OnChipTrainer` streams the same sequences in one piece
(switching rules with ``set_rule``); at every multiple of ``check_every`` (and at the end) the chip's weights
are compared with its weights, every value, as are both chips' engine clocks and random streams and the readouts of
the sequences since the last check.
At every multiple of ``checkpoint_every`` (and at the end) the chip state is written
(:mod:`neuroport.training.onchip_checkpoint`); ``resume`` starts both chips from the newest checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuroport.emulator.engine_state import emulator_state, restore_emulator
from neuroport.emulator.onchip import OnChipTrainer, default_rule
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.network import assemble
from neuroport.tasks import Batch, task_of
from neuroport.training.eprop import rule_of, within_learning_window
from neuroport.training.onchip import DEFAULT_RATES, onchip_setup, scheduled_rates, sequence_stats
from neuroport.training.onchip_checkpoint import ChipState, fingerprint, load_checkpoint, save_checkpoint, with_weights


@dataclass
class Check:
    """Lava's chip against the emulator's after ``sequence`` sequences."""

    sequence: int
    weights_equal: bool
    readout_equal: bool  # every readout value of the sequences since the previous check
    differing: list[str]  # matrices whose weights differ
    moved: int  # weights that differ from the model's initial ones
    train_mse: float  # readout MSE of the stretch's sequences while they were learned
    lava_s: float

    @property
    def equal(self) -> bool:
        return self.weights_equal and self.readout_equal


@dataclass
class LavaTraining:
    fixed: object  # the quantized model with the chip's learned weights
    checks: list[Check]
    checkpoints: list[int]
    resumed_from: int | None
    timings: dict = field(default_factory=dict)


def _rates(rates: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in rates.items()}


class _Run:
    """The fixed parts of one training run: the quantized model, its rules per schedule stage, the fingerprint."""

    def __init__(self, graph: FloatGraph, hw_name: str, seed: int | None, rates: dict | None, schedule: list | None):
        self.graph, self.net = graph, assemble(graph)
        setup = onchip_setup(graph, hw_name, rates)
        self.fixed, self.taus = setup.fixed, (setup.tau_m_steps, setup.tau_out_steps)
        self.base = {**DEFAULT_RATES, **(rates or {})}
        self.stages = scheduled_rates(self.base, [tuple(e) for e in schedule or []])
        self.feedback = rule_of(graph).feedback_weights
        self.seed = graph.seed if seed is None else seed
        rule = self.rule(0)
        self.learning = [n for n, d in self.fixed.dense().items() if d.mask.any()]
        task = {"task": None if graph.task is None else [graph.task.name, graph.task.params],
                "window": rule_of(graph).learning_window_steps}
        run = {"hw": hw_name, "rates": self.base, "schedule": sorted(self.stages.items()), "seed": self.seed}
        self.prints = fingerprint(self.fixed, task, rule.feedback, run)

    def phase(self, sequence: int) -> int:
        """The first sequence of the stage in effect at ``sequence`` (−1: the base rates)."""
        return max((s for s in self.stages if s <= sequence), default=-1)

    def rule(self, sequence: int):
        phase = self.phase(sequence)
        rates = self.base if phase < 0 else self.stages[phase]
        return default_rule(self.fixed, self.feedback, self.net.surrogate_beta, **_rates(rates))

    def draw(self, rng: np.random.Generator, count: int) -> list[Batch]:
        task, window = task_of(self.graph), rule_of(self.graph).learning_window_steps
        return [within_learning_window(task.batch(rng, 1), window) for _ in range(count)]

    def emulator(self, state: ChipState) -> OnChipTrainer:
        """The emulator's chip in ``state``."""
        trainer = OnChipTrainer(with_weights(self.fixed, state.weights), self.rule(state.sequence), 1, *self.taus)
        for name, engine in state.engines.items():
            trainer.engines[name].state.w[0] = state.weights[name]
            restore_emulator(trainer.engines[name], engine)
        return trainer


def _stop(start: int, total: int, every: tuple[int, ...], stages) -> int:
    """Where the stretch from ``start`` ends: the next multiple of an ``every``, stage start, or ``total``."""
    ends = [total, *(s for s in stages if s > start), *((start // k + 1) * k for k in every)]
    return min(ends)


def _concat(batches: list[Batch]) -> Batch:
    return Batch(*(np.concatenate([getattr(b, f) for b in batches]) for f in ("inputs", "targets", "loss_mask")))


def _lava_stretch(run: _Run, state: ChipState, sequences: list[Batch], on_sequence, timings: dict) -> tuple[ChipState, np.ndarray]:
    """Stream ``sequences`` through a Lava runtime built from ``state``; the state after them and the readouts."""
    from neuroport.backends.loihi.chip_state import ResumableOnChipNetwork

    start = state.sequence
    net = ResumableOnChipNetwork(with_weights(run.fixed, state.weights), run.rule(start), _concat(sequences), *run.taus,
                                 start=state.engines)
    end: dict = {}

    def after(k: int, chip) -> None:
        if k == len(sequences) - 1:
            end.update(chip.state())
        if on_sequence:
            on_sequence(start + k + 1)

    clock: dict = {}
    try:
        result = net.train(len(sequences), after, clock)
    finally:
        net.close()
    for key, value in clock.items():
        timings[key] = timings.get(key, 0.0) + value
    new = ChipState(sequence=start + len(sequences), weights={n: s.weights for n, s in end.items()},
                    traces={f"{n}.{t}": v for n, s in end.items() for t, v in s.traces.items()},
                    engines={n: s.engine for n, s in end.items()}, phase=run.phase(start))
    return new, result.readout


def train_loihi_sim(graph: FloatGraph, total: int, folder: Path, *, hw_name: str = "loihi2", seed: int | None = None,
                    rates: dict | None = None, schedule: list | None = None, checkpoint_every: int = 10,
                    check_every: int = 10, resume: bool = False, on_sequence: Callable[[int], None] | None = None,
                    on_check: Callable[[Check], None] | None = None) -> LavaTraining:
    """Stream ``total`` sequences through one loihi-sim learning chip (module docstring); checkpoints under
    ``folder / "checkpoints"``."""
    run = _Run(graph, hw_name, seed, rates, schedule)
    rng, root = np.random.default_rng(run.seed), folder / "checkpoints"
    state = ChipState(0, {n: run.fixed.dense()[n].weights for n in run.learning})
    resumed_from = None
    if resume:
        state = load_checkpoint(root, run.fixed, run.learning, run.prints, total)
        rng.bit_generator.state, resumed_from = state.data_rng, state.sequence
    emulator, initial = run.emulator(state), {n: run.fixed.dense()[n].weights for n in run.learning}
    checks, saved, timings, pending = [], [], {}, []
    t0 = time.perf_counter()
    while state.sequence < total:
        start = state.sequence
        stop = _stop(start, total, (checkpoint_every, check_every), run.stages)
        sequences = run.draw(rng, stop - start)
        state, readout = _lava_stretch(run, state, sequences, on_sequence, timings)
        state.data_rng = rng.bit_generator.state
        for k, batch in enumerate(sequences):
            if start + k in run.stages and start + k > 0:
                emulator.set_rule(run.rule(start + k))
            pending.append((batch, readout[k], emulator.run(batch).readout[0]))
        if stop % check_every == 0 or stop == total:
            checks.append(_check(run, state, emulator, pending, initial, time.perf_counter() - t0))
            pending = []
            if on_check:
                on_check(checks[-1])
        if stop % checkpoint_every == 0 or stop == total:
            save_checkpoint(root, run.fixed, state, run.prints)
            saved.append(stop)
    return LavaTraining(fixed=with_weights(run.fixed, state.weights), checks=checks, checkpoints=saved,
                        resumed_from=resumed_from, timings=timings)


def _check(run: _Run, state: ChipState, emulator: OnChipTrainer, pending: list, initial: dict, lava_s: float) -> Check:
    """Compare the chip with the emulator: every weight, and the readouts of ``pending`` (batch, Lava's, the
    emulator's)."""
    differing = [n for n in run.learning if not np.array_equal(state.weights[n], emulator.weights(n)[0])]
    differing += [f"{n} engine state" for n in run.learning if not np.array_equal(state.engines[n], emulator_state(emulator.engines[n]))]
    readout_equal = all(np.array_equal(lava, emu) for _, lava, emu in pending)
    moved = sum(int(np.count_nonzero(state.weights[n] != initial[n])) for n in run.learning)
    if pending:
        batch = _concat([b for b, _, _ in pending])
        y = np.stack([lava for _, lava, _ in pending]) / run.fixed.v_scale
        mse = sequence_stats(state.sequence, run.net.loss, y, batch, 0, 1, 1.0).loss
    else:
        mse = float("nan")
    return Check(sequence=state.sequence, weights_equal=not differing, readout_equal=readout_equal, differing=differing,
                 moved=moved, train_mse=mse, lava_s=lava_s)
