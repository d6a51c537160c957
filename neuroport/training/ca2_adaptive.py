"""E-prop for networks of sPyNNaker's ``IF_curr_delta_ca2_adaptive`` neuron (Bellec et al. 2020, Methods, "e-prop
for general neuron models"); the forward is :mod:`neuroport.emulator.ca2_adaptive`.

Hidden state of neuron j: h[t] = (v'[t], c[t]) (pre-reset voltage, calcium current), so that z[t] = H(v'[t] − v_th)
is a function of h[t].  The refractory flag q[t] and the spike in the reset v = (1 − z) v' are held constant
(stop gradient, as e-prop's LIF leaves out the reset); the spike in the calcium influx keeps its pseudo-derivative
ψ, as ALIF's adaptation does.  The Jacobian D[t] = ∂h[t]/∂h[t−1] is then

    D_cv = ρ i_alpha ψ[t−1],   D_cc = ρ
    D_vv = (1 − q[t]) (α (1 − z[t−1]) + D_cv) + q[t] (1 − z[t−1]),   D_vc = (1 − q[t]) ρ

and, per synapse (pre i: x_i[t], or z_i[t−1] for recurrent synapses), the eligibility vector ε = (ε^v, ε^c):

    ε^c[t] = D_cv ε^v[t−1] + D_cc ε^c[t−1],   ε^v[t] = D_vv ε^v[t−1] + D_vc ε^c[t−1] + (1 − q[t]) pre_i[t]
    e_ji[t] = ψ_j[t] ε^v_ji[t],   ē = κ ē + (1 − κ) e,   g_ji = Σ_t L_j[t] ē_ji[t] + R_j Σ_t e_ji[t]

with L = B err and R the rate regularizer of :mod:`neuroport.training.gradients`; g^out_kj = Σ_t err_k[t] z̄^κ_j[t].
:func:`online_gradients` streams these traces (memory ∝ synapses).  :func:`ca2_gradients` computes the same
numbers without per-synapse traces: with w[t] = (L̃[t] + R) ψ[t], L̃[t] = B Σ_{t'≥t} (1 − κ) κ^{t'−t} err[t'], the
adjoint λ[s] = D[s+1]ᵀ λ[s+1] + (w[s], 0) runs backward once per sample and

    g^in_ji = Σ_s F_j[s] x_i[s],   g^rec_ji = Σ_s F_j[s] z_i[s−1],   F[s] = (1 − q[s]) λ^v[s].

Without recurrent weights this is the exact gradient of (1 − κ) · loss + the regularizer under the stated stop
gradients (tests/test_ca2_adaptive.py checks it against torch autograd); with them, e-prop's approximation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from neuroport.emulator.ca2_adaptive import Ca2Network, Ca2Run, assemble_ca2, simulate_ca2
from neuroport.emulator.ca2_kernels import ca2_adjoint
from neuroport.errors import UnsupportedError
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.learning_rule import EpropRule
from neuroport.ir.network import with_weights
from neuroport.tasks import Batch
from neuroport.training.eprop import IterationStats, TrainResult, draw_batches, rule_of, train_on_batches
from neuroport.training.gradients import Gradients, backward_filter, feedback_matrix, output_error, rate_signal

SUPPORTED_VARIANTS = ("bsshslm_2020",)


def jacobian(net: Ca2Network, run: Ca2Run, t: int) -> tuple[np.ndarray, ...]:
    """(D_vv, D_vc, D_cv, D_cc) of step t ≥ 1, each (batch, n) (module docstring)."""
    q, z_prev, psi_prev = run.q[:, t], run.z[:, t - 1], run.psi[:, t - 1]
    d_cv = net.rho * net.i_alpha * psi_prev
    d_vv = (1.0 - q) * (net.alpha * (1.0 - z_prev) + d_cv) + q * (1.0 - z_prev)
    return d_vv, (1.0 - q) * net.rho, d_cv, np.broadcast_to(net.rho, q.shape)


def _signals(net: Ca2Network, run: Ca2Run, batch: Batch, b_mat: np.ndarray, c_reg: float,
             f_target_hz: float) -> tuple[np.ndarray, np.ndarray, float, int]:
    """(err, w = (L̃ + R) ψ, loss, errors); L̃ filters each readout's error with its own κ."""
    err, loss, n_errors = output_error(net, run, batch)
    kappa = net.kappa
    filtered = backward_filter(err, kappa) * (1.0 - kappa)
    weight = (filtered @ b_mat.T + rate_signal(net, run, c_reg, f_target_hz)[:, None, :]) * run.psi
    return err, weight, loss, n_errors


def _readout_gradient(net: Ca2Network, run: Ca2Run, err: np.ndarray) -> np.ndarray:
    """g^out_kj = Σ_s z_j[s] Σ_{t≥s} κ_k^{t−s} err_k[t] (exact)."""
    return _contract(backward_filter(err, net.kappa), run.z)


def _contract(post: np.ndarray, pre: np.ndarray) -> np.ndarray:
    """Σ_b Σ_s post[b, s, j] pre[b, s, i] as one matrix product (BLAS), (n_post, n_pre)."""
    return post.reshape(-1, post.shape[2]).T @ pre.reshape(-1, pre.shape[2])


def ca2_gradients(net: Ca2Network, x: np.ndarray, run: Ca2Run, batch: Batch, *, feedback: str,
                  b_random: np.ndarray | None, c_reg: float = 0.0, f_target_hz: float = 10.0) -> Gradients:
    """Summed e-prop gradients of a batch by the backward adjoint (module docstring)."""
    err, weight, loss, n_errors = _signals(net, run, batch, feedback_matrix(net, feedback, b_random), c_reg, f_target_hz)
    post = ca2_adjoint(weight, run.q, run.z, run.psi, net.alpha, net.rho, net.i_alpha)
    g_in = _contract(post, x)
    g_rec = _contract(post[:, 1:], run.z[:, :-1])
    return Gradients(w_in=g_in * net.w_in_plastic, w_rec=g_rec * net.w_rec_plastic,
                     w_out=_readout_gradient(net, run, err) * net.w_out_plastic, loss=loss, n_errors=n_errors,
                     rate_hz=float(run.z.mean() * 1e3 / net.dt_ms))


def online_gradients(net: Ca2Network, x: np.ndarray, run: Ca2Run, batch: Batch, *, feedback: str,
                     b_random: np.ndarray | None, c_reg: float = 0.0, f_target_hz: float = 10.0) -> Gradients:
    """The same gradients streamed forward with per-synapse eligibility traces (memory batch × synapses; one κ)."""
    if np.unique(net.kappa).size != 1:
        raise UnsupportedError("online ca2 e-prop needs one readout time constant", path="readout.tau_out_ms")
    b_mat, kappa = feedback_matrix(net, feedback, b_random), float(net.kappa[0])
    err, _, loss, n_errors = _signals(net, run, batch, b_mat, c_reg, f_target_hz)
    reg = rate_signal(net, run, c_reg, f_target_hz)[:, :, None]
    grads = {}
    for name, pre in (("w_in", x), ("w_rec", np.concatenate([np.zeros_like(run.z[:, :1]), run.z[:, :-1]], axis=1))):
        shape = (x.shape[0], net.n_rec, pre.shape[2])
        eps_v, eps_c, e_bar, e_sum, grad = (np.zeros(shape) for _ in range(5))
        for t in range(x.shape[1]):
            if t:
                d_vv, d_vc, d_cv, d_cc = (d[:, :, None] for d in jacobian(net, run, t))
                eps_v, eps_c = d_vv * eps_v + d_vc * eps_c, d_cv * eps_v + d_cc * eps_c
            eps_v = eps_v + (1.0 - run.q[:, t])[:, :, None] * pre[:, t][:, None, :]
            e = run.psi[:, t][:, :, None] * eps_v
            e_bar = kappa * e_bar + (1.0 - kappa) * e
            e_sum += e
            grad = grad + np.einsum("bj,bji->bji", err[:, t] @ b_mat.T, e_bar)
        grads[name] = grad.sum(axis=0) + np.sum(reg * e_sum, axis=0)
    return Gradients(w_in=grads["w_in"] * net.w_in_plastic, w_rec=grads["w_rec"] * net.w_rec_plastic,
                     w_out=_readout_gradient(net, run, err) * net.w_out_plastic, loss=loss, n_errors=n_errors,
                     rate_hz=float(run.z.mean() * 1e3 / net.dt_ms))


def eprop_step_gradients(net: Ca2Network, rule: EpropRule, b_matrix: np.ndarray | None, batch: Batch) -> Gradients:
    """Simulate one batch and return its summed e-prop gradients (train_on_batches' ``gradients`` hook)."""
    run = simulate_ca2(net, batch.inputs)
    return ca2_gradients(net, batch.inputs.astype(np.float64), run, batch, feedback=rule.feedback, b_random=b_matrix,
                         c_reg=rule.c_reg, f_target_hz=rule.f_target_hz)


def train_ca2_adaptive(graph: FloatGraph, iterations: int, *, seed: int | None = None, mode: str = "sequence",
                       batch_size: int | None = None,
                       on_iteration: Callable[[IterationStats], None] | None = None) -> TrainResult:
    """Train an all-``lif_ca2_adaptive`` graph with e-prop (``mode`` is accepted for the CLI: both modes give the
    same numbers, computed here by the adjoint); Adam/SGD, feedback and clipping as for LIF."""
    rule = rule_of(graph)
    if rule.variant not in SUPPORTED_VARIANTS:
        raise UnsupportedError(f"e-prop variant '{rule.variant}' is not available for lif_ca2_adaptive neurons; "
                               f"supported: {', '.join(SUPPORTED_VARIANTS)}", path="learning.variant")
    if rule.rewiring is not None:
        raise UnsupportedError("rewiring (DEEP R) is not available for lif_ca2_adaptive networks; remove `rewiring`",
                               path="learning.rewiring")
    net = assemble_ca2(graph)
    batches = draw_batches(graph, iterations, seed=seed, batch_size=batch_size)
    result = train_on_batches(net, rule, batches, on_iteration=on_iteration, gradients=eprop_step_gradients)
    trained = with_weights(graph, result.weights["w_in"], result.weights["w_rec"], result.weights["w_out"])
    if rule.feedback == "adaptive":
        trained = replace(trained, learning=replace(rule, feedback_weights=result.feedback))
    return TrainResult(trained, result.history)
