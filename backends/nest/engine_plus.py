"""``neuroport train --engine nest`` for ``variant: eprop_plus``: train with NEST 3.10's e-prop+ models.

Mapping (neuroport → NEST): LIF → ``eprop_iaf``, ALIF → ``eprop_iaf_adapt`` (adapt_beta = β, adapt_tau = τ_a),
lif_psc_delta → ``eprop_iaf_psc_delta``, alif_psc_delta → ``eprop_iaf_psc_delta_adapt`` (V_reset = v_reset),
readout → ``eprop_readout`` (mean-squared error, the only loss it has); surrogate height γ / v_th, width
v_th / β_surrogate; ``kappa``, ``kappa_reg``, ``eprop_isi_trace_cutoff`` from ``learning.eprop_plus``; c_reg and
f_target as given (NEST's units: f_target in Hz); random feedback B → ``eprop_learning_signal_connection``;
SGD → gradient_descent, Adam → adam, both with batch_size 1 and ``optimize_each_step`` from
``learning.eprop_plus`` (default False: one update per presynaptic spike).  The batches are run back to back as one
stream, the loss mask is the readouts' learning-window signal; with ``target_alignment: nest_example`` the targets
and mask of the next step, as NEST's example scripts deliver them.

What NEST's e-prop+ models cannot express is refused with the reason: everything
:func:`neuroport.training.eprop_plus.refusals` refuses, plus per-synapse plasticity flags (every NEST e-prop
synapse learns).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from neuroport.backends.nest.engine import NEST_OPTIMIZERS, run_nest

from neuroport.errors import NeuroportError
from neuroport.ir.learning_rule import EpropPlus, EpropRule
from neuroport.ir.network import Network
from neuroport.tasks import Batch
from neuroport.training.eprop import IterationStats, TrainedWeights
from neuroport.training.eprop_plus import (
    NO_CUTOFF,
    aligned_batches,
    nest_plus_loss,
    plus_settings,
    refusals,
    stream_start_error,
)

READOUT_OFFSET = 3  # the readout's NEST step for sequence step s is s + 3 (generator, input and output delays)


def plus_refusals(net: Network, rule: EpropRule) -> list[str]:
    """Why NEST's e-prop+ models cannot train this network and rule (empty: they can)."""
    reasons = [reason for _, reason in refusals(net, rule)]
    if not (np.array_equal(net.w_in_plastic, net.w_in_mask) and np.array_equal(net.w_rec_plastic, net.w_rec_mask)
            and np.array_equal(net.w_out_plastic, net.w_out_mask)):
        reasons.append("frozen projections: every NEST e-prop synapse learns")
    return reasons


def nest_plus_spec(net: Network, rule: EpropRule, batches: list[Batch], *, threads: int = 1) -> tuple[dict, dict]:
    """Plain arrays and settings for :mod:`.runner_plus`: the batches flattened into one stream."""
    reasons = plus_refusals(net, rule)
    if reasons:
        raise NeuroportError("NEST's e-prop+ models cannot train this model: " + "; ".join(reasons))
    kappa, kappa_reg, cutoff = plus_settings(net, rule)
    flat = lambda a: np.concatenate([x.reshape(-1, *x.shape[2:]) for x in a])  # noqa: E731
    spec = {
        "inputs": flat([b.inputs for b in batches]).astype(np.uint8), "targets": flat([b.targets for b in batches]),
        "loss_mask": flat([b.loss_mask for b in batches]), "w_in": net.w_in, "w_rec": net.w_rec, "w_out": net.w_out,
        "feedback": rule.feedback_weights, "w_in_mask": net.w_in_mask, "w_rec_mask": net.w_rec_mask,
        "w_out_mask": net.w_out_mask, "tau_m_ms": net.tau_m_ms, "v_th": net.v_th, "t_ref_ms": net.t_ref_ms,
        "surrogate_height": net.surrogate_gamma / net.v_th, "surrogate_width": net.v_th / net.surrogate_beta,
        "adaptive": net.beta != 0, "adapt_beta": net.beta, "adapt_tau_ms": net.tau_a_ms, "tau_out_ms": net.tau_out_ms,
        "v_reset": np.full(net.n_rec, np.nan) if net.v_reset is None else net.v_reset,
    }
    opt = rule.optimizer
    meta = {"dt_ms": net.dt_ms, "c_reg": rule.c_reg, "f_target_hz": rule.f_target_hz, "kappa": kappa,
            "kappa_reg": kappa_reg, "cutoff_ms": float("inf") if cutoff == NO_CUTOFF else cutoff * net.dt_ms,
            "surrogate_function": net.surrogate_function, "optimizer": NEST_OPTIMIZERS[opt.name],
            "learning_rate": opt.learning_rate, "beta1": opt.beta1, "beta2": opt.beta2, "epsilon": opt.epsilon,
            "weight_min": rule.weight_min, "weight_max": rule.weight_max, "threads": threads,
            "optimize_each_step": (rule.plus or EpropPlus()).optimize_each_step}
    return spec, meta


def stream_errors(out: dict[str, np.ndarray], n_steps: int, dt_ms: float) -> np.ndarray:
    """NEST's readout error signals (n_steps, n_out) of sequence steps 0 … n_steps − 1 (multimeter time t·dt holds
    the value of NEST step t − 1)."""
    steps = np.rint(out["nest_times"] / dt_ms).astype(int) - 1
    index = {step: row for row, step in enumerate(steps)}
    return out["nest_error_signal"][[index[s + READOUT_OFFSET] for s in range(n_steps)]]


def nest_plus_train_on_batches(net: Network, rule: EpropRule, batches: list[Batch], *, threads: int = 1,
                               on_iteration: Callable[[IterationStats], None] | None = None) -> TrainedWeights:
    """Train in NEST's e-prop+ on ``batches`` run back to back (the numbers
    :func:`~neuroport.training.eprop_plus.train_plus_on_batches` computes)."""
    spec, meta = nest_plus_spec(net, rule, aligned_batches(batches, rule), threads=threads)
    out = run_nest(spec, meta, runner="neuroport.backends.nest.runner_plus")
    n_steps = spec["inputs"].shape[0]
    err = stream_errors(out, n_steps, net.dt_ms)
    spike_steps = np.rint(out["spike_times"] / net.dt_ms).astype(int) - 1 - 2  # NEST step of sequence step s: s + 2
    history, start = [], 0
    for it, batch in enumerate(batches):
        stop = start + batch.size * batch.n_steps
        in_batch = (spike_steps >= start) & (spike_steps < stop)
        before = err[start - 1] if start else stream_start_error(batch)
        stats = IterationStats(it, 0.5 * float(np.sum(err[start:stop] ** 2)) / batch.size, float("nan"),
                               float(in_batch.sum() / ((stop - start) * net.n_rec) * 1e3 / net.dt_ms),
                               nest_loss=nest_plus_loss(err[start:stop], batch, rule, before))
        history.append(stats)
        if on_iteration:
            on_iteration(stats)
        start = stop
    return TrainedWeights({name: out[name] for name in ("w_in", "w_rec", "w_out")}, rule.feedback_weights, history)
