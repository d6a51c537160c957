"""``neuroport train --on-chip``: e-prop inside the fixed-point emulator, as the chip learns
(:mod:`neuroport.emulator.onchip`).  The model is quantized for the hardware config, then ``chips`` independent
chips each stream one sequence per iteration and learn on-line, every step; the curve is the chips' mean.

The weight matrices are quantized in the learning synapses' mixed sign mode (even 8-bit mantissas, so that a
learned weight may change sign: :func:`neuroport.quantization.loihi.learning_synapses`).

On-line learning changes the weights during the very window that is scored, so the error of a sequence while it
is learned flatters the chip (``train_error``).  After every ``eval_every`` iterations each chip is therefore also scored with
learning off on a held-out batch (the same samples every time, drawn with their own seed): that is ``error``,
the mean over chips and samples.

A learning-rate ``schedule`` [(s_1, overrides_1), (s_2, overrides_2), ...] is the host rewriting the learning
rules between sequences: after s_k sequences per chip the rule becomes default_rule(rates ∪ overrides_1 ∪ … ∪
overrides_k) (later overrides win), e.g. ``[(2000, {"decimate": 6, "out_decimate": 5})]`` halves every learning rate
after 2000 sequences (η ∝ 2^−decimate).  Weights, tags, traces, the engines' clocks and random streams carry over
(:meth:`OnChipTrainer.set_rule`); no new per-step semantics — each stretch runs an ordinary OnChipRule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from neuroport.emulator.onchip import OnChipRule, OnChipSample, OnChipTrainer, default_rule
from neuroport.errors import UnsupportedError
from neuroport.hw import load_hw
from neuroport.ir.fixed_graph import FixedDense, FixedGraph
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.network import assemble
from neuroport.tasks import task_of
from neuroport.training.eprop import IterationStats, draw_batches, refuse_input_scaling, rule_of
from neuroport.training.parallel import Shards, shard_bounds, split_batch

HELD_OUT_SEED = 104729  # the held-out batch every iteration is scored on
DEFAULT_RATES = {"w_mantissa": 1, "w_exponent": -7, "out_mantissa": 1, "out_exponent": -7}

# learning.variant → why on-chip training refuses it (such models are trained in float and deployed for inference)
FLOAT_ONLY_VARIANTS = {
    "reward_based": "the on-chip e-prop engine learns from a supervised readout error and has no critic, action "
                    "sampling or TD error; train it with `neuroport train` (float reward-based e-prop) and deploy the "
                    "trained model for inference",
    "eprop_plus": "the on-chip e-prop engine runs bsshslm_2020's update-interval rule; e-prop+'s event-driven "
                  "per-synapse updates, eligibility filter κ, trace cutoff and online firing-rate regularization have no "
                  "on-chip counterpart; train it with `neuroport train` (float e-prop+, or --engine nest) and deploy "
                  "the trained model for inference (loihi-sim runs e-prop+ neurons)",
}


def refuse_float_only(graph: FloatGraph) -> None:
    """On-chip learning is supervised e-prop with the rule's own integer rates: a reward_based model is trained in
    float and deployed, and the float optimizer's learning-rate decay has no on-chip counterpart but ``--schedule``."""
    variant = graph.learning.variant if graph.learning is not None else None
    if variant in FLOAT_ONLY_VARIANTS:
        raise UnsupportedError(f"on-chip training does not support learning.variant '{variant}': "
                               f"{FLOAT_ONLY_VARIANTS[variant]}")
    if graph.learning is not None and graph.learning.optimizer.decays:
        raise UnsupportedError(
            "on-chip training does not read learning.optimizer.decay: the on-chip rule has its own integer learning "
            "rates (--rates); change them during training with --schedule, and remove the decay from the model")


def quantize_for_learning(graph: FloatGraph, hw_name: str, allow_lossy: bool = False) -> FixedGraph:
    """Quantize ``graph`` for ``hw_name`` (a Loihi-family config) with the learning synapses' sign mode; a lossy
    quantization is refused unless ``allow_lossy`` (:func:`neuroport.pipeline.quantize`)."""
    from neuroport.pipeline import quantize
    from neuroport.quantization.loihi import learning_synapses

    hw = load_hw(hw_name)
    if hw.family != "loihi":
        raise UnsupportedError(f"on-chip learning runs Loihi's learning engine; {hw.name} is a {hw.family} config")
    return learning_synapses(graph, quantize(graph, hw, allow_lossy=allow_lossy), hw)


@dataclass(frozen=True, eq=False)
class OnChipSetup:
    """A model quantized for on-chip e-prop: the FixedGraph, its rule, and the time constants (in steps) of the
    learning engines' presynaptic traces."""

    fixed: FixedGraph
    rule: OnChipRule
    tau_m_steps: float
    tau_out_steps: float

    def trainer(self, chips: int) -> OnChipTrainer:
        return OnChipTrainer(self.fixed, self.rule, chips, self.tau_m_steps, self.tau_out_steps)


def onchip_setup(graph: FloatGraph, hw_name: str = "loihi2", rates: dict | None = None,
                 allow_lossy: bool = False) -> OnChipSetup:
    """Quantize ``graph`` for ``hw_name`` and build its on-chip rule: :func:`default_rule` with ``DEFAULT_RATES``
    and then ``rates`` (an OnChipRule override; JSON lists become tuples); ``allow_lossy`` as in
    :func:`quantize_for_learning`."""
    refuse_float_only(graph)
    net = assemble(graph)
    refuse_input_scaling(net, "on-chip learning")
    fixed = quantize_for_learning(graph, hw_name, allow_lossy)
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in {**DEFAULT_RATES, **(rates or {})}.items()}
    rule = default_rule(fixed, rule_of(graph).feedback_weights, net.surrogate_beta, **overrides)
    return OnChipSetup(fixed, rule, float(np.mean(net.tau_m_ms) / net.dt_ms), float(np.mean(net.tau_out_ms) / net.dt_ms))


@dataclass
class OnChipResult:
    fixed: FixedGraph  # the quantized model with chip 0's learned weights
    history: list[IterationStats]


def sequence_stats(iteration: int, loss_kind: str, y: np.ndarray, batch, spikes: int, n_rec: int, dt_ms: float) -> IterationStats:
    """MSE of the readout against the targets over the loss window, and (classification) the misclassified
    fraction by the class with the largest summed readout — per chip, averaged."""
    mask = batch.loss_mask[..., None]
    mse = float(np.sum(((y - batch.targets) * mask) ** 2) / max(mask.sum() * y.shape[2], 1))
    error = float("nan")
    if loss_kind == "cross_entropy":
        error = float(np.mean(np.argmax((y * mask).sum(axis=1), axis=1) != batch.labels))
    rate = spikes / (batch.size * n_rec * batch.n_steps) * 1e3 / dt_ms
    return IterationStats(iteration, mse, error, rate)


def held_out_stats(trainer: OnChipTrainer, held_out, it: int, loss_kind: str, v_scale: float) -> IterationStats:
    """Every chip, learning off, on every held-out sample: mean MSE and misclassified fraction over chips."""
    readout = trainer.evaluate(held_out) / v_scale  # (chips, samples, T, n_out)
    per_chip = [sequence_stats(it, loss_kind, y, held_out, 0, 1, 1.0) for y in readout]
    return IterationStats(it, float(np.mean([s.loss for s in per_chip])), float(np.mean([s.error for s in per_chip])), 0.0)


def scheduled_rates(rates: dict, schedule: list[tuple[int, dict]] | None) -> dict[int, dict]:
    """{sequence: the rates from that sequence on} — each schedule entry's overrides on top of the ones before."""
    stages, current = {}, dict(rates)
    for start, overrides in sorted(schedule or [], key=lambda entry: entry[0]):
        if start < 0:
            raise ValueError(f"schedule entries start at a sequence ≥ 0, not {start}")
        current = {**current, **overrides}
        stages[int(start)] = dict(current)
    return stages


class ChipShard:
    """The chips of one shard learning on a worker (a Dask actor, or in process): an :class:`OnChipTrainer`."""

    def __init__(self, fixed: FixedGraph, rule: OnChipRule, chips: int, tau_m_steps: float, tau_out_steps: float) -> None:
        self.trainer = OnChipTrainer(fixed, rule, chips, tau_m_steps, tau_out_steps)

    def run(self, batch) -> OnChipSample:
        return self.trainer.run(batch)

    def evaluate(self, batch) -> np.ndarray:
        return self.trainer.evaluate(batch)

    def set_rule(self, rule: OnChipRule) -> None:
        self.trainer.set_rule(rule)

    def weights(self, name: str) -> np.ndarray:
        return self.trainer.weights(name)


class ShardedChips:
    """:class:`OnChipTrainer`'s run / evaluate / set_rule / weights for chips split across ``shards``: the chips
    learn independently (their engines' random streams are drawn per step, shared by every chip), so each shard
    holds its chips for the whole run and the results are concatenated in chip order — the same numbers as one
    trainer of all chips."""

    def __init__(self, shards: Shards, fixed: FixedGraph, rule: OnChipRule, chips: int, tau_m_steps: float,
                 tau_out_steps: float) -> None:
        self.shards, self.bounds = shards, shard_bounds(chips, shards.n_shards)
        self.handles = shards.actors(ChipShard, [(fixed, rule, b - a, tau_m_steps, tau_out_steps) for a, b in self.bounds])

    def _each(self, method: str, args: list[tuple]) -> list:
        return self.shards.call(self.handles, method, args)

    def run(self, batch) -> OnChipSample:
        parts = self._each("run", [(p,) for p in split_batch(batch, len(self.bounds))])
        return OnChipSample(readout=np.concatenate([p.readout for p in parts]), spikes=sum(p.spikes for p in parts))

    def evaluate(self, batch) -> np.ndarray:
        return np.concatenate(self._each("evaluate", [(batch,)] * len(self.handles)))

    def set_rule(self, rule: OnChipRule) -> None:
        self._each("set_rule", [(rule,)] * len(self.handles))

    def weights(self, name: str) -> np.ndarray:
        return np.concatenate(self._each("weights", [(name,)] * len(self.handles)))


def train_onchip(graph: FloatGraph, iterations: int, *, hw_name: str = "loihi2", chips: int = 16, seed: int | None = None,
                 rates: dict | None = None, held_out: int | None = None, eval_every: int = 1,
                 on_iteration: Callable[[IterationStats], None] | None = None,
                 schedule: list[tuple[int, dict]] | None = None, shards: Shards | None = None) -> OnChipResult:
    """Quantize ``graph`` and train it on-chip for ``iterations`` sequences per chip; every ``eval_every``
    sequences (and after the last) each chip is scored on the same ``held_out`` samples (default: ``chips``);
    ``schedule``: rule overrides from a given sequence on (module docstring); ``shards``: the chips split across
    workers (:class:`ShardedChips`)."""
    refuse_float_only(graph)
    if graph.learning is not None and graph.learning.rewiring is not None:
        raise UnsupportedError("on-chip training does not rewire (learning.rewiring): the on-chip e-prop engine keeps "
                               "its synapse structure fixed; train with `neuroport train` (float e-prop + DEEP R) and "
                               "deploy the trained sparse model")
    net, rule = assemble(graph), rule_of(graph)
    refuse_input_scaling(net, "on-chip learning")
    fixed = quantize_for_learning(graph, hw_name)
    make_rule = lambda extra: default_rule(fixed, rule.feedback_weights, net.surrogate_beta, **extra)  # noqa: E731
    stages = scheduled_rates({**DEFAULT_RATES, **(rates or {})}, schedule)
    onchip = make_rule(stages.pop(0, {**DEFAULT_RATES, **(rates or {})}))
    taus = float(np.mean(net.tau_m_ms) / net.dt_ms), float(np.mean(net.tau_out_ms) / net.dt_ms)
    trainer = OnChipTrainer(fixed, onchip, chips, *taus) if shards is None else ShardedChips(shards, fixed, onchip, chips, *taus)
    history = []
    test_batch = task_of(graph).batch(np.random.default_rng(HELD_OUT_SEED), held_out or chips)
    for it, batch in enumerate(draw_batches(graph, iterations, seed=seed, batch_size=chips)):
        if it in stages:
            trainer.set_rule(make_rule(stages[it]))
        sample = trainer.run(batch)
        if (it + 1) % eval_every and it + 1 < iterations:
            continue
        learning = sequence_stats(it, net.loss, sample.readout / fixed.v_scale, batch, sample.spikes, fixed.n_rec, net.dt_ms)
        test = held_out_stats(trainer, test_batch, it, net.loss, fixed.v_scale)
        stats = replace(test, rate_hz=learning.rate_hz, train_error=learning.error)
        history.append(stats)
        if on_iteration:
            on_iteration(stats)
    learned = {name: FixedDense(weights=trainer.weights(name)[0].copy(), mask=d.mask, weight_exp=d.weight_exp,
                                num_weight_bits=d.num_weight_bits) for name, d in fixed.dense().items()}
    return OnChipResult(fixed=replace(fixed, **learned), history=history)
