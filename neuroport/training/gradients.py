"""e-prop gradients (Bellec et al. 2020) for a batch of sequences, in two modes that compute the same numbers.

Notation (per sample; j post, i pre, k readout; traces use the post-synaptic α):

    x̄_i[t] = α x̄_i[t−1] + x_i[t]                (input trace; recurrent: z̄_i[t] = α z̄_i[t−1] + z_i[t−1])
    ε^a_ji[t] = ψ_j[t−1] x̄_i[t−1] + (ρ_j − β_j ψ_j[t−1]) ε^a_ji[t−1]              (ALIF adaptation eligibility)
    e_ji[t] = ψ_j[t] (x̄_i[t] − β_j ε^a_ji[t])                                   (LIF: β = 0)
    ē_ji[t] = κ ē_ji[t−1] + (1 − κ) e_ji[t]                                     (NEST's code keeps the (1 − κ))
    err_k[t] = (y_k[t] − y*_k[t]) (MSE) or (π_k[t] − π*_k[t]) (cross-entropy), 0 outside the loss mask
    L_j[t] = Σ_k B_jk err_k[t + d_kj − 1]                                      B = W_outᵀ, random or adaptive
    g_ji = Σ_t L_j[t] ē_ji[t] + c_reg (f̄_j − f_target) Σ_t e_ji[t]            (rate regularization, NEST's sign)
    g^out_kj = Σ_t err_k[t] z̄^κ_j[t],   z̄^κ_j[t] = κ z̄^κ_j[t−1] + z_j[t]        (exact readout gradient)

*Online* mode streams through time with per-synapse traces (memory independent of sequence length: the chip's
semantics).  *Sequence* mode moves every filter off the synapses: the κ filter onto the learning signal,
L̃[t] = Σ_{t'≥t} (1 − κ) κ^{t'−t} L[t'], the ALIF term onto a backward recursion G[s] = q[s+1] + (ρ − β ψ[s+1]) G[s+1]
with q = (L̃ + R) ψ (R_j: the constant regularization signal), and the presynaptic α filter onto the post factor,
F_j[s] = f_j[s] + α_j F_j[s+1] with f = q − β ψ G, so that

    g^in_ji = Σ_s F_j[s] x_i[s],   g^rec_ji = Σ_s F_j[s+1] z_i[s],   g^out_kj = Σ_s Σ_{t≥s} κ^{t−s} err_k[t] z_j[s]

are sums over the presynaptic spikes only: one compiled backward pass per sample
(:func:`neuroport.emulator.kernels.eprop_gradients`) computes F and adds a column of it per spike, so the cost is
steps × neurons + spikes × neurons, not steps × synapses.  Gradients are summed over a batch's samples.

Synaptic delays (:class:`~neuroport.ir.network.Network` ``delays``, semantics in :mod:`neuroport.emulator.reference`):
the presynaptic trace of a synapse of delay d filters the spike train as it arrives, so the eligibility trace is
aligned with the delay:

    x̄_ji[t] = α x̄_ji[t−1] + x_i[t − d + 1],   z̄_ji[t] = α z̄_ji[t−1] + z_i[t − d],   z̄^κ_kj[t] = κ z̄^κ_kj[t−1] + z_j[t − d + 1]

In sequence mode every delay group is a delayed copy of the presynaptic train (``delayed_trains``), fed to the same
kernel as extra channels: g^in_ji = Σ_s F_j[s] x_i[s − d + 1], g^rec_ji = Σ_s F_j[s] z_i[s − d],
g^out_kj = Σ_s Σ_{t≥s} κ^{t−s} err_k[t] z_j[s − d + 1]; each synapse keeps the channel of its own delay.  A readout
synapse of delay d_kj scores the spikes of step t at step t + d_kj − 1, so the learning signal takes the error from
there (L_j above, ``aligned_feedback``; d_kj = 1 without delays).  Without recurrent weights these gradients equal
BPTT's with the reset left out (× (1 − κ)), delays included (tests/test_delays.py, against torch autograd).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroport.emulator.kernels import eprop_gradients
from neuroport.emulator.reference import FloatRun, delayed, leaky_sum
from neuroport.ir.network import Network
from neuroport.tasks import Batch


@dataclass(frozen=True, eq=False)
class Gradients:
    """Summed over the batch; same shapes as the network's matrices."""

    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    loss: float  # summed over the batch (MSE: ½ Σ err²; cross-entropy: −Σ π* log π), over masked steps
    n_errors: int  # misclassified sequences (classification) or 0
    rate_hz: float  # mean firing rate of the recurrent neurons


def softmax(y: np.ndarray) -> np.ndarray:
    e = np.exp(y - y.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def output_error(net: Network, run: FloatRun, batch: Batch) -> tuple[np.ndarray, float, int]:
    """Return (err (batch, T, n_out) masked, summed loss, misclassified sequences)."""
    mask = batch.loss_mask[..., None]
    if net.loss == "mse":
        diff = (run.y - batch.targets) * mask
        return diff, float(0.5 * np.sum(diff**2)), 0
    pi = softmax(run.y)
    loss = float(-np.sum(mask * batch.targets * np.log(pi + 1e-12)))
    summed = np.sum(run.y * mask, axis=1)  # class evidence over the recall window
    errors = int(np.sum(np.argmax(summed, axis=1) != batch.labels)) if batch.labels is not None else 0
    return (pi - batch.targets) * mask, loss, errors


def feedback_matrix(net: Network, feedback: str, b_random: np.ndarray | None) -> np.ndarray:
    """B of shape (n_rec, n_out): W_outᵀ for symmetric feedback, else the given random/adaptive matrix."""
    return net.w_out.T if feedback == "symmetric" else b_random


def backward_filter(signal: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """S̃[t] = Σ_{t'≥t} decay^{t'−t} s[t'] over axis 1 of (batch, T, n)."""
    return leaky_sum(signal[:, ::-1], decay)[:, ::-1]


def rate_signal(net: Network, run: FloatRun, c_reg: float, f_target_hz: float) -> np.ndarray:
    """R_j per sample: c_reg (n_spikes/T − f_target·dt) / T  (NEST's regularization; spikes per step)."""
    n_steps = run.z.shape[1]
    per_step = run.z.sum(axis=1) / n_steps
    return c_reg * (per_step - f_target_hz * net.dt_ms * 1e-3) / n_steps


def delayed_trains(pre: np.ndarray, net: Network, name: str) -> tuple[np.ndarray, list[tuple[int, np.ndarray | None]]]:
    """(pre delayed by d − 1 for every delay group d of matrix ``name``, concatenated on the channel axis; the
    groups).  One group of delay 1: ``pre`` itself (no copy)."""
    groups = net.delay_groups(name)
    if groups[0][1] is None:  # one group, delay 1
        return pre, groups
    return np.ascontiguousarray(np.concatenate([delayed(pre, d - 1) for d, _ in groups], axis=2)), groups


def aligned_feedback(err: np.ndarray, b_mat: np.ndarray, net: Network) -> tuple[np.ndarray, np.ndarray]:
    """(err, B) extended so that err_ext[t] @ B_extᵀ = L[t] with L_j[t] = Σ_k B_jk err_k[t + d_kj − 1]: a readout
    synapse of delay d scores the spikes of step t at step t + d − 1, so its error comes back from there.  One
    channel block per readout delay group (B masked to the group); without delays (err, B) themselves."""
    groups = net.delay_groups("w_out")
    if groups[0][1] is None:  # one group, delay 1
        return err, b_mat
    ahead = [np.zeros_like(err) for _ in groups]
    for block, (d, _) in zip(ahead, groups, strict=True):
        if d - 1 < err.shape[1]:
            block[:, :err.shape[1] - d + 1] = err[:, d - 1:]
    return (np.ascontiguousarray(np.concatenate(ahead, axis=2)),
            np.ascontiguousarray(np.concatenate([b_mat * mask.T for _, mask in groups], axis=1)))


def fold_groups(g_ext: np.ndarray, groups: list[tuple[int, np.ndarray | None]]) -> np.ndarray:
    """Each synapse's gradient from the channel block of its own delay group (inverse of :func:`delayed_trains`)."""
    if groups[0][1] is None:  # one group, delay 1
        return g_ext
    n_pre = g_ext.shape[1] // len(groups)
    return sum(np.where(mask, g_ext[:, k * n_pre:(k + 1) * n_pre], 0.0) for k, (_, mask) in enumerate(groups))


def sequence_gradients(net: Network, x: np.ndarray, run: FloatRun, batch: Batch, *, feedback: str,
                       b_random: np.ndarray | None, c_reg: float = 0.0, f_target_hz: float = 10.0) -> Gradients:
    """Sequence-batched e-prop gradients (module docstring); exact equal of :func:`online_gradients`."""
    err, loss, n_errors = output_error(net, run, batch)
    kappa = net.kappa
    err_filtered = backward_filter(err, kappa)  # Σ_{t≥s} κ^{t−s} err[t]: the readout's κ filter moved onto the error
    err_tilde = err_filtered * (1.0 - kappa)  # (batch, T, n_out), with NEST's (1 − κ)
    (x_ext, in_groups), (z_ext, rec_groups) = delayed_trains(np.ascontiguousarray(x), net, "w_in"), delayed_trains(run.z, net, "w_rec")
    err_ext, b_ext = aligned_feedback(err_tilde, feedback_matrix(net, feedback, b_random), net)
    g_in, g_rec = eprop_gradients(np.ascontiguousarray(err_ext), np.ascontiguousarray(b_ext),
                                  rate_signal(net, run, c_reg, f_target_hz), run.psi, x_ext, z_ext,
                                  *(np.asarray(p, dtype=np.float64) for p in (net.alpha, net.rho, net.beta)))
    g_in, g_rec = fold_groups(g_in, in_groups), fold_groups(g_rec, rec_groups)
    z_out, out_groups = delayed_trains(run.z, net, "w_out")
    g_out = fold_groups(err_filtered.reshape(-1, err.shape[2]).T @ z_out.reshape(-1, z_out.shape[2]), out_groups)
    return Gradients(w_in=g_in * net.w_in_plastic, w_rec=g_rec * net.w_rec_plastic, w_out=g_out * net.w_out_plastic,
                     loss=loss, n_errors=n_errors, rate_hz=float(run.z.mean() * 1e3 / net.dt_ms))


def online_gradients(net: Network, x: np.ndarray, run: FloatRun, batch: Batch, *, feedback: str,
                     b_random: np.ndarray | None, c_reg: float = 0.0, f_target_hz: float = 10.0) -> Gradients:
    """Online e-prop: per-synapse eligibility traces streamed forward in time (the chip's semantics).

    Memory is O(batch × synapses), independent of the sequence length.  The regularization term needs the
    sequence's spike count, so (as in NEST, which applies it at the end of the update interval) it is
    accumulated as Σ_t e_ji[t] and multiplied at the end.
    """
    err, loss, n_errors = output_error(net, run, batch)
    if np.unique(net.kappa).size != 1:
        raise ValueError("online e-prop needs one readout time constant for all readouts")
    kappa = float(net.kappa[0])
    err_ext, b_ext = aligned_feedback(err, feedback_matrix(net, feedback, b_random), net)
    batch_n, n_steps, n_in = x.shape
    n = net.n_rec
    x_bar, z_bar = np.zeros((batch_n, n, n_in)), np.zeros((batch_n, n, n))
    eps_in, eps_rec = np.zeros_like(x_bar), np.zeros_like(z_bar)
    ebar_in, ebar_rec = np.zeros_like(x_bar), np.zeros_like(z_bar)
    esum_in, esum_rec = np.zeros_like(x_bar), np.zeros_like(z_bar)
    g_in, g_rec = np.zeros((n, n_in)), np.zeros((n, n))
    g_out = np.zeros((net.n_out, n))
    psi_prev = np.zeros((batch_n, n))
    groups = {name: net.delay_groups(name) for name in ("w_in", "w_rec", "w_out")}
    z_bar_out = np.zeros((len(groups["w_out"]), batch_n, n))  # one κ-filtered train per readout delay group
    for t in range(n_steps):
        eps_in, x_bar, e_in = eligibility_step(net, eps_in, x_bar, run.psi[:, t], psi_prev,
                                               arriving(x, t, groups["w_in"], 1))
        eps_rec, z_bar, e_rec = eligibility_step(net, eps_rec, z_bar, run.psi[:, t], psi_prev,
                                                 arriving(run.z, t, groups["w_rec"], 0))
        learning_signal = err_ext[:, t] @ b_ext.T  # (batch, n); with readout delays it reads ahead (aligned_feedback)
        ebar_in = kappa * ebar_in + (1 - kappa) * e_in
        ebar_rec = kappa * ebar_rec + (1 - kappa) * e_rec
        g_in += np.einsum("bj,bji->ji", learning_signal, ebar_in)
        g_rec += np.einsum("bj,bji->ji", learning_signal, ebar_rec)
        esum_in += e_in
        esum_rec += e_rec
        for k, (d, mask) in enumerate(groups["w_out"]):
            z_bar_out[k] = kappa * z_bar_out[k] + (run.z[:, t - d + 1] if t >= d - 1 else 0.0)
            g_out += (err[:, t].T @ z_bar_out[k]) * (1.0 if mask is None else mask)
        psi_prev = run.psi[:, t]
    reg = rate_signal(net, run, c_reg, f_target_hz)[:, :, None]
    g_in += np.sum(reg * esum_in, axis=0)
    g_rec += np.sum(reg * esum_rec, axis=0)
    return Gradients(w_in=g_in * net.w_in_plastic, w_rec=g_rec * net.w_rec_plastic, w_out=g_out * net.w_out_plastic,
                     loss=loss, n_errors=n_errors, rate_hz=float(run.z.mean() * 1e3 / net.dt_ms))


def eligibility_step(net: Network, eps: np.ndarray, pre: np.ndarray, psi: np.ndarray, psi_prev: np.ndarray,
                     arrived: np.ndarray | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of the per-synapse traces (batch, n_post, n_pre); returns (ε^a[t], x̄[t], e[t]):

        ε^a[t] = ψ[t−1] x̄[t−1] + (ρ − β ψ[t−1]) ε^a[t−1],   x̄[t] = α x̄[t−1] + arrived[t],   e[t] = ψ[t] (x̄[t] − β ε^a[t])
    """
    r_col, b_col, pp = net.rho[None, :, None], net.beta[None, :, None], psi_prev[:, :, None]
    eps = pp * pre + (r_col - b_col * pp) * eps  # uses x̄[t−1]
    pre = net.alpha[None, :, None] * pre + arrived
    return eps, pre, psi[:, :, None] * (pre - b_col * eps)


def arriving(train: np.ndarray, t: int, groups: list[tuple[int, np.ndarray | None]], lag: int) -> np.ndarray | float:
    """What the synapses deliver at step t: train[:, t − d + lag] for a synapse of delay d (lag 1: input, lag 0:
    recurrent), shaped (batch, 1, n_pre) without delays, (batch, n_post, n_pre) with; 0 before the first step."""
    out = 0.0
    for d, mask in groups:
        s = t - d + lag
        if s >= 0:
            out = out + (train[:, s][:, None, :] if mask is None else train[:, s][:, None, :] * mask[None])
    return out
