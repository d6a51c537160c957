"""``neuroport train --on-chip``: e-prop inside the fixed-point emulator, as the chip learns
(:mod:`neuroport.emulator.onchip`).  The model is quantized for the hardware config, then ``chips`` independent
chips each stream one sequence per iteration and learn on-line, every step; the curve is the chips' mean.

On-line learning changes the weights during the very window that is scored, so the error of a sequence while it
is learned flatters the chip (``train_error``).  After every iteration each chip is therefore also scored with
learning off on a held-out batch (the same batch every time, drawn with its own seed): that is ``error``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from neuroport.emulator.onchip import OnChipTrainer, default_rule
from neuroport.hw import load_hw
from neuroport.ir.fixed_graph import FixedDense, FixedGraph
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.network import assemble
from neuroport.training.eprop import IterationStats, draw_batches, rule_of, task_of

HELD_OUT_SEED = 104729  # the held-out batch every iteration is scored on
DEFAULT_RATES = {"w_mantissa": 1, "w_exponent": -7, "out_mantissa": 1, "out_exponent": -7}


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


def train_onchip(graph: FloatGraph, iterations: int, *, hw_name: str = "loihi2", chips: int = 16, seed: int | None = None,
                 rates: dict | None = None, on_iteration: Callable[[IterationStats], None] | None = None) -> OnChipResult:
    """Quantize ``graph`` and train it on-chip for ``iterations`` sequences per chip."""
    from neuroport.pipeline import quantize

    net, rule = assemble(graph), rule_of(graph)
    fixed = quantize(graph, load_hw(hw_name))
    onchip = default_rule(fixed, rule.feedback_weights, net.surrogate_beta, **{**DEFAULT_RATES, **(rates or {})})
    trainer = OnChipTrainer(fixed, onchip, chips, float(np.mean(net.tau_m_ms) / net.dt_ms),
                            float(np.mean(net.tau_out_ms) / net.dt_ms))
    history = []
    held_out = task_of(graph).batch(np.random.default_rng(HELD_OUT_SEED), chips)
    for it, batch in enumerate(draw_batches(graph, iterations, seed=seed, batch_size=chips)):
        sample = trainer.run(batch)
        learning = sequence_stats(it, net.loss, sample.readout / fixed.v_scale, batch, sample.spikes, fixed.n_rec, net.dt_ms)
        frozen = trainer.run(held_out, learn=False)
        test = sequence_stats(it, net.loss, frozen.readout / fixed.v_scale, held_out, frozen.spikes, fixed.n_rec, net.dt_ms)
        stats = replace(test, train_error=learning.error)
        history.append(stats)
        if on_iteration:
            on_iteration(stats)
    learned = {name: FixedDense(weights=trainer.weights(name)[0].copy(), mask=d.mask, weight_exp=d.weight_exp,
                                num_weight_bits=d.num_weight_bits) for name, d in fixed.dense().items()}
    return OnChipResult(fixed=replace(fixed, **learned), history=history)
