"""Compiled (numba) loops of sparse float e-prop (:mod:`neuroport.training.sparse_eprop`), one sample at a time.

Connectivity is in compressed rows by *source*: the targets of source i are ``idx[ptr[i]:ptr[i+1]]`` and the
synapse's weight and gradient sit at the same position k.  A spike of source i touches only its own row, so

    forward  per step:  neurons + (input spikes + recurrent spikes) × fan-out
    backward per step:  neurons × n_out + (input spikes + recurrent spikes) × fan-out

and no loop ever runs over neurons² or over all synapses × steps.  The equations are those of the dense kernels
(:func:`neuroport.emulator.kernels.lif_alif_steps`, :func:`neuroport.emulator.kernels.eprop_gradients`), visited in
the same order (spiking sources ascending), so the results equal them up to floating-point summation order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroport.emulator.kernels import NEVER, surrogate_shape


@njit(cache=True, inline="always")
def _scatter(acc, sources, ptr, idx, w):  # pragma: no cover
    """acc[idx[k]] += w[k] for the synapses k of every source in ``sources``."""
    for i in sources:
        for k in range(ptr[i], ptr[i + 1]):
            acc[idx[k]] += w[k]


@njit(cache=True, inline="always")
def _gather(grad, sources, ptr, idx, post):  # pragma: no cover
    """grad[k] += post[idx[k]] for the synapses k of every source in ``sources`` (a presynaptic spike meets F)."""
    for i in sources:
        for k in range(ptr[i], ptr[i + 1]):
            grad[k] += post[idx[k]]


@njit(cache=True, inline="always")
def _recurrent_input(v, a, prev, v_th, rec_ptr, rec_idx, rec_w):  # pragma: no cover
    """Spikes of step t − 1 (ascending): a_i += 1, v_i −= v_th,i (reset), v_j += W_rec[j, i] along row i."""
    for i in prev:
        a[i] += 1.0
        v[i] -= v_th[i]
        for k in range(rec_ptr[i], rec_ptr[i + 1]):
            v[rec_idx[k]] += rec_w[k]


@njit(cache=True, inline="always")
def _threshold(t, v, a, last, v_th, beta, n_ref, psi_height, psi_width, shape, psi_row, out):  # pragma: no cover
    """ψ_j[t] and z_j[t] for all j; writes the spiking neurons into ``out``, returns how many."""
    count = 0
    for j in range(v.size):
        d = v[j] - (v_th[j] + beta[j] * a[j])
        if t - last[j] >= n_ref[j]:
            psi_row[j] = psi_height[j] * surrogate_shape(shape, psi_width[j] * abs(d))
            if d >= 0:
                last[j] = t
                out[count] = j
                count += 1
    return count


@njit(cache=True)
def sparse_forward(x, in_ptr, in_idx, in_w, rec_ptr, rec_idx, rec_w, alpha, rho, v_th, beta, n_ref, psi_height,
                   psi_width, shape, w_out, record_states):  # pragma: no cover
    """All steps of one sample (x: (T, n_in) bool), event-driven:

        v ← α v + Σ_{i: x_i[t]} W_in[:, i] ;  a ← ρ a ;  for i with z_i[t−1]: a_i += 1, v_i −= v_th,i, v += W_rec[:, i]
        d = v − (v_th + β a);  ψ = height · shape(width |d|) and z = [d ≥ 0] while free (t − last ≥ n_ref)
        u[t] = Σ_{j: z_j[t]} W_out[:, j]                                  (readout drive; y = leaky_sum(u, κ))

    Returns (spike_ptr (T + 1,), spike_idx, ψ (T, n), u (T, n_out), v (T', n), a (T', n)) with the neurons spiking
    at step t in ``spike_idx[spike_ptr[t]:spike_ptr[t+1]]`` and T' = T if ``record_states`` else 0."""
    n_steps, n = x.shape[0], v_th.size
    v, a, acc = np.zeros(n), np.zeros(n), np.zeros(n)
    last = np.full(n, NEVER, dtype=np.int64)
    psi = np.zeros((n_steps, n))
    u = np.zeros((n_steps, w_out.shape[0]))
    states = n_steps if record_states else 0
    v_rec, a_rec = np.zeros((states, n)), np.zeros((states, n))
    spikes = np.empty(n, dtype=np.int64)
    spike_ptr = np.zeros(n_steps + 1, dtype=np.int64)
    spike_idx = np.empty(max(n, 16), dtype=np.int32)
    n_prev = 0
    for t in range(n_steps):
        acc[:] = 0.0
        _scatter(acc, np.flatnonzero(x[t]), in_ptr, in_idx, in_w)
        for j in range(n):
            v[j] = alpha[j] * v[j] + acc[j]
            a[j] = rho[j] * a[j]
        _recurrent_input(v, a, spikes[:n_prev], v_th, rec_ptr, rec_idx, rec_w)
        n_prev = _threshold(t, v, a, last, v_th, beta, n_ref, psi_height, psi_width, shape, psi[t], spikes)
        start = spike_ptr[t]
        if start + n_prev > spike_idx.size:
            spike_idx = np.concatenate((spike_idx, np.empty(max(spike_idx.size, n_prev), dtype=np.int32)))
        for s in range(n_prev):
            spike_idx[start + s] = spikes[s]
            for k in range(u.shape[1]):
                u[t, k] += w_out[k, spikes[s]]
        spike_ptr[t + 1] = start + n_prev
        if record_states:
            v_rec[t, :] = v
            a_rec[t, :] = a
    return spike_ptr, spike_idx[: spike_ptr[n_steps]].copy(), psi, u, v_rec, a_rec


@njit(cache=True, inline="always")
def _post_factor(s, n_steps, err_tilde, feedback, reg, psi, alpha, rho, beta, g, q_next, filtered):  # pragma: no cover
    """One backward step for all j: G[s] from G[s+1], then F[s] = q − β ψ G + α F[s+1] into ``filtered``."""
    for j in range(psi.shape[1]):
        if s < n_steps - 1:
            g[j] = q_next[j] + (rho[j] - beta[j] * psi[s + 1, j]) * g[j]
        signal = reg[j]
        for k in range(err_tilde.shape[1]):
            signal += feedback[j, k] * err_tilde[s, k]
        q = signal * psi[s, j]
        filtered[j] = q - beta[j] * psi[s, j] * g[j] + alpha[j] * filtered[j]
        q_next[j] = q


@njit(cache=True)
def sparse_backward(err_tilde, err_filtered, feedback, reg, psi, x, spike_ptr, spike_idx, in_ptr, in_idx, rec_ptr,
                    rec_idx, alpha, rho, beta, g_in, g_rec, g_out):  # pragma: no cover
    """Add one sample's e-prop gradients to ``g_in``, ``g_rec`` (aligned with the CSR synapses) and ``g_out``:

        L̃_j[s] = Σ_k B_jk ẽrr_k[s] + R_j,   q = L̃ ψ,
        G_j[s] = q_j[s+1] + (ρ_j − β_j ψ_j[s+1]) G_j[s+1]  (G[T−1] = 0),   F_j[s] = q_j[s] − β_j ψ_j[s] G_j[s] + α_j F_j[s+1]
        g^in_k += F_{post(k)}[s] for every input spike x_{pre(k)}[s] = 1
        g^rec_k += F_{post(k)}[s+1] for every recurrent spike z_{pre(k)}[s] = 1
        g^out_kj += err^κ_k[s] for every spike z_j[s] = 1          (err^κ: the error filtered backwards by κ)

    backwards in time, one pass; cost steps × neurons × n_out + spikes × fan-out."""
    n_steps, n = psi.shape
    g, q_next, filtered = np.zeros(n), np.zeros(n), np.zeros(n)  # filtered holds F[s+1] until overwritten by F[s]
    for s in range(n_steps - 1, -1, -1):
        spiking = spike_idx[spike_ptr[s]: spike_ptr[s + 1]]
        _gather(g_rec, spiking, rec_ptr, rec_idx, filtered)
        for j in spiking:
            for k in range(g_out.shape[0]):
                g_out[k, j] += err_filtered[s, k]
        _post_factor(s, n_steps, err_tilde, feedback, reg, psi, alpha, rho, beta, g, q_next, filtered)
        _gather(g_in, np.flatnonzero(x[s]), in_ptr, in_idx, filtered)
