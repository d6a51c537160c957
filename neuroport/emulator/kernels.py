"""Compiled (numba) inner loops of the float reference; the equations are in :mod:`neuroport.emulator.reference`.

One step for sample b and neuron j, arrays (batch, n_steps, n), samples in parallel:

    v_j ← α_j v_j + drive_j[t] + Σ_{i: z_i[t−1] = 1} W_ij          W = W_recᵀ − diag(v_th): the reset folded in
    a_j ← ρ_j a_j + z_j[t−1]
    d_j = v_j − (v_th,j + β_j a_j);   free_j = t − last_j ≥ n_ref,j;   z_j[t] = [d_j ≥ 0] · free_j

The recurrent input is event-driven: a spiking neuron adds its row of W, so the cost is neurons + spikes × fan-out
per step instead of neurons².  Results equal the numpy formulation up to floating-point summation order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from neuroport.ir.float_graph import SURROGATES

NEVER = -(10**9)  # "last spike" of a neuron that has not spiked


SHAPE_CODES = {name: code for code, name in enumerate(SURROGATES)}  # the branches of surrogate_shape, in order


@njit(cache=True, inline="always")
def surrogate_shape(code, x):  # pragma: no cover
    """ψ / height at scaled distance x for the surrogate with this code (float_graph.Surrogate's formulas)."""
    if code == 0:
        return max(0.0, 1.0 - x)
    if code == 1:
        return np.exp(-x)
    if code == 2:
        return 1.0 / ((1.0 + x) * (1.0 + x))
    return 1.0 / (1.0 + x * x)


@njit(cache=True, inline="always")
def _outputs(batch, n_steps, n, record_states):  # pragma: no cover
    """Zeroed z, ψ (batch, n_steps, n) and v, a records (batch, n_steps or 0 unless ``record_states``, n)."""
    z = np.zeros((batch, n_steps, n), dtype=np.float64)
    psi = np.zeros((batch, n_steps, n), dtype=np.float64)
    states = n_steps if record_states else 0
    return z, psi, np.zeros((batch, states, n), dtype=np.float64), np.zeros((batch, states, n), dtype=np.float64)


@njit(cache=True, parallel=True)
def lif_alif_steps(drive, w_pre_post, alpha, rho, v_th, beta, n_ref, psi_height, psi_width, shape, record_states):  # pragma: no cover
    """Run all steps; returns (z, ψ, v, a) of shape (batch, n_steps, n) (v, a: (batch, 0, n) unless
    ``record_states``).  ψ = height · shape(width · |d|) while free, else 0 (height γ/v_th, width β/v_th)."""
    batch, n_steps, n = drive.shape
    z, psi, v_rec, a_rec = _outputs(batch, n_steps, n, record_states)
    for b in prange(batch):
        v = np.zeros(n)
        a = np.zeros(n)
        last = np.full(n, NEVER, dtype=np.int64)
        spikes = np.empty(n, dtype=np.int64)
        n_spikes = 0
        for t in range(n_steps):
            for j in range(n):
                v[j] = alpha[j] * v[j] + drive[b, t, j]
                a[j] = rho[j] * a[j]
            for s in range(n_spikes):
                row = spikes[s]
                a[row] += 1.0
                for j in range(n):
                    v[j] += w_pre_post[row, j]
            count = 0
            for j in range(n):
                d = v[j] - (v_th[j] + beta[j] * a[j])
                is_free = t - last[j] >= n_ref[j]
                if is_free:
                    psi[b, t, j] = psi_height[j] * surrogate_shape(shape, psi_width[j] * abs(d))
                if d >= 0 and is_free:
                    z[b, t, j] = 1.0
                    last[j] = t
                    spikes[count] = j
                    count += 1
                if record_states:
                    v_rec[b, t, j] = v[j]
                    a_rec[b, t, j] = a[j]
            n_spikes = count
    return z, psi, v_rec, a_rec


@njit(cache=True, inline="always")
def _add_delayed(v, z_b, t, w_groups, delays):  # pragma: no cover
    """v_j += Σ_g Σ_{i: z_b[t − d_g, i] = 1} w_groups[g, i, j] (spikes of steps before the first: none)."""
    for g in range(delays.shape[0]):
        s = t - delays[g]
        if s >= 0:
            for i in range(z_b.shape[1]):
                if z_b[s, i] != 0:
                    for j in range(v.shape[0]):
                        v[j] += w_groups[g, i, j]


@njit(cache=True, parallel=True)
def lif_alif_steps_delayed(drive, w_groups, delays, alpha, rho, v_th, beta, n_ref, psi_height, psi_width, shape,
                           record_states):  # pragma: no cover
    """:func:`lif_alif_steps` with delayed recurrent synapses, w_groups (G, n_pre, n_post) the synapses of delay
    delays[g] (steps ≥ 1):

        v_j ← α_j v_j + drive_j[t] − v_th,j z_j[t−1] + Σ_g Σ_{i: z_i[t − d_g] = 1} w_groups[g, i, j]

    (the reset and a ← ρ a + z[t−1] stay one-step); the spike trains written so far are the delay line."""
    batch, n_steps, n = drive.shape
    z, psi, v_rec, a_rec = _outputs(batch, n_steps, n, record_states)
    for b in prange(batch):
        v = np.zeros(n)
        a = np.zeros(n)
        last = np.full(n, NEVER, dtype=np.int64)
        for t in range(n_steps):
            for j in range(n):
                v[j] = alpha[j] * v[j] + drive[b, t, j]
                a[j] = rho[j] * a[j]
                if t > 0 and z[b, t - 1, j] != 0:
                    v[j] -= v_th[j]
                    a[j] += 1.0
            _add_delayed(v, z[b], t, w_groups, delays)
            for j in range(n):
                d = v[j] - (v_th[j] + beta[j] * a[j])
                is_free = t - last[j] >= n_ref[j]
                if is_free:
                    psi[b, t, j] = psi_height[j] * surrogate_shape(shape, psi_width[j] * abs(d))
                if d >= 0 and is_free:
                    z[b, t, j] = 1.0
                    last[j] = t
                if record_states:
                    v_rec[b, t, j] = v[j]
                    a_rec[b, t, j] = a[j]
    return z, psi, v_rec, a_rec


@njit(cache=True, parallel=True)
def eprop_gradients(err_tilde, feedback, reg, psi, x, z, alpha, rho, beta):  # pragma: no cover
    """Input and recurrent e-prop gradients of a batch, summed over samples (:mod:`neuroport.training.gradients`):

        L̃_j[s] = Σ_k B_jk ẽrr_k[s] + R_j,   q = L̃ ψ,
        G_j[s] = q_j[s+1] + (ρ_j − β_j ψ_j[s+1]) G_j[s+1]  (G[T−1] = 0),   f = q − β ψ G,
        F_j[s] = f_j[s] + α_j F_j[s+1],
        g^in_ji = Σ_s F_j[s] x_i[s],   g^rec_ji = Σ_s F_j[s+1] z_i[s]

    computed backwards in time in one pass per sample; the products are event-driven (a presynaptic spike adds
    the column F[s] or F[s+1]), so the cost is steps × neurons + spikes × neurons.  Arrays (batch, T, ·); x and z
    may have any number of channels (delayed copies of the trains: :func:`neuroport.training.gradients`)."""
    batch, n_steps, n = psi.shape
    n_out, n_in, n_pre = err_tilde.shape[2], x.shape[2], z.shape[2]
    g_in = np.zeros((batch, n, n_in))
    g_rec = np.zeros((batch, n, n_pre))
    for b in prange(batch):
        g = np.zeros(n)
        q_next = np.zeros(n)
        filtered = np.zeros(n)  # F[s+1] until overwritten with F[s]
        for s in range(n_steps - 1, -1, -1):
            for i in range(n_pre):  # recurrent spikes of step s meet F[s+1]
                if z[b, s, i] != 0:
                    for j in range(n):
                        g_rec[b, j, i] += filtered[j]
            for j in range(n):
                if s < n_steps - 1:
                    g[j] = q_next[j] + (rho[j] - beta[j] * psi[b, s + 1, j]) * g[j]
                signal = reg[b, j]
                for k in range(n_out):
                    signal += feedback[j, k] * err_tilde[b, s, k]
                q = signal * psi[b, s, j]
                filtered[j] = q - beta[j] * psi[b, s, j] * g[j] + alpha[j] * filtered[j]
                q_next[j] = q
            for i in range(n_in):  # input spikes of step s meet F[s]
                if x[b, s, i] != 0:
                    for j in range(n):
                        g_in[b, j, i] += filtered[j]
    return g_in.sum(axis=0), g_rec.sum(axis=0)


@njit(cache=True, parallel=True)
def leaky_sum(signal, decay):  # pragma: no cover
    """out[t] = decay · out[t−1] + signal[t] over axis 1 of (batch, T, n), one decay per channel."""
    batch, n_steps, n = signal.shape
    out = np.empty((batch, n_steps, n), dtype=np.float64)
    for b in prange(batch):
        acc = np.zeros(n)
        for t in range(n_steps):
            for j in range(n):
                acc[j] = decay[j] * acc[j] + signal[b, t, j]
                out[b, t, j] = acc[j]
    return out


@njit(cache=True, inline="always")
def _factor(k, xs, ys, w, d, t, b, j, i):  # pragma: no cover
    """Factor code k at synapse (b, j, i): see :func:`learning_rule_update`."""
    if k < 2:
        return xs[k, b, i]
    if k < 5:
        return ys[k - 2, b, j]
    if k == 5:
        return w[b, j, i]
    return d[b, j, i] if k == 6 else t[b, j, i]


@njit(cache=True, parallel=True)
def learning_rule_update(var, xs, ys, w, d, t, factors, widths, mantissas, exponents, gates, is_tag_2, random, low, high):  # pragma: no cover
    """One synaptic variable after one epoch of Lava's bit-approximate learning engine
    (:mod:`neuroport.emulator.loihi_learning`), per synapse of (batch, post, pre):

        acc = var << 7;  per product p:  term = (Π clip(f, ±2^width_f) · m_p · gate_p) >> max(0, Σ width + 4 − 15)
                                         acc = clip(acc + clip(term << (e_p + 7), ±2^15), ±2^15)
        (tag_2: acc ≥ 0);  var ← clip(floor(acc / 128) + [random < frac(acc / 128)], low, high)

    Factor codes (``factors`` (P, F), −1: none): 0, 1 → x1, x2 = xs (2, batch, pre); 2, 3, 4 → y1, y2, y3 = ys
    (3, batch, post); 5, 6, 7 → w, d, t (batch, post, pre).  Returns the new values and how many were clipped."""
    batch, n_post, n_pre = var.shape
    out = np.empty_like(var)
    clipped = np.zeros(batch, dtype=np.int64)
    limit = 2**15
    for b in prange(batch):
        for j in range(n_post):
            for i in range(n_pre):
                acc = var[b, j, i] << 7
                for p in range(factors.shape[0]):
                    term = mantissas[p] * gates[p]
                    width = 4
                    for f in range(factors.shape[1]):
                        k = factors[p, f]
                        if k < 0:
                            continue
                        bits = widths[k]
                        raw = _factor(k, xs, ys, w, d, t, b, j, i)
                        value = min(max(raw, -(2**bits)), 2**bits - 1)
                        term *= value
                        width += bits
                    term = (term >> max(0, width - 15)) << (exponents[p] + 7)
                    term = min(max(term, -limit - 1), limit - 1)
                    acc = min(max(acc + term, -limit - 1), limit - 1)
                if is_tag_2 and acc < 0:
                    acc = 0
                q = acc / 128.0
                whole = np.floor(q)
                new = int(whole) + (1 if random < q - whole else 0)
                if new < low or new > high:
                    clipped[b] += 1
                    new = min(max(new, low), high)
                out[b, j, i] = new
    return out, clipped.sum()
