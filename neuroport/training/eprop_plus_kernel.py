"""Compiled (numba) step loop of float e-prop+ (:mod:`neuroport.training.eprop_plus` has the equations).

State lives in a :class:`numba.typed`-free layout: plain arrays passed in and updated in place, so that a training
run can be cut into chunks (one per iteration) without changing a number.  Presynaptic sources of the recurrent
neurons are the inputs followed by the recurrent neurons (columns of ``w_pre``: ``[W_in | W_rec]``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroport.emulator.kernels import surrogate_shape

OFFSET_REC, OFFSET_OUT = 2, 3  # NEST step of a recurrent / readout neuron's update = sequence step + offset
SGD, ADAM = 0, 1


@njit(cache=True, inline="always")
def optimized_weight(w, grad, idx, adam, j, i, opt):  # pragma: no cover
    """NEST's ``WeightOptimizer::optimized_weight`` with batch_size 1 for synapse (j, i).

    ``adam`` (5, rows, cols): m, v, β1^n, β2^n, optimization step n (as float).  Gradient descent: w − η g.
    Adam steps once per elapsed time step: the first step with g, the others with 0 (NEST's loop)."""
    code, eta, beta1, beta2, eps, w_min, w_max = opt
    current = 1.0 + idx
    if adam[4, j, i] >= current:
        return w
    if code == SGD:
        w = w - eta * grad
    else:
        g = grad
        while adam[4, j, i] < current:
            adam[2, j, i] *= beta1
            adam[3, j, i] *= beta2
            step_size = eta * np.sqrt(1.0 - adam[3, j, i]) / (1.0 - adam[2, j, i])
            adam[0, j, i] = beta1 * adam[0, j, i] + (1.0 - beta1) * g
            adam[1, j, i] = beta2 * adam[1, j, i] + (1.0 - beta2) * g * g
            w -= step_size * adam[0, j, i] / (np.sqrt(adam[1, j, i]) + eps)
            g = 0.0
            adam[4, j, i] += 1.0
    adam[4, j, i] = current
    return min(max(w, w_min), w_max)


@njit(cache=True)
def apply_pre_arrivals(t, arriving, w_pre, plastic_pre, syn_pre, last_pre, adam_pre, opt, each_step):  # pragma: no cover
    """Spikes of the presynaptic sources ``arriving`` reach the recurrent neurons at sequence step t: each such
    synapse that has seen a spike before applies its gradient (integrated through step t − 2); with
    ``each_step`` it takes its per-step optimized weight (channel 6) instead."""
    n = w_pre.shape[0]
    for i in range(w_pre.shape[1]):
        if arriving[i] == 0:
            continue
        for j in range(n):
            if not plastic_pre[j, i]:
                continue
            if each_step:
                w_pre[j, i] = syn_pre[6, j, i]
            elif last_pre[j, i] >= 0:
                w_pre[j, i] = optimized_weight(w_pre[j, i], syn_pre[4, j, i], t - 1 + OFFSET_REC, adam_pre, j, i, opt)
            syn_pre[4, j, i] = 0.0
            last_pre[j, i] = t


@njit(cache=True)
def integrate_pre(t, arr_now, arr_next, psi, learning, reg, syn_pre, last_pre, plastic_pre, adam_pre, alpha, rho,
                  beta, kappa, kappa_reg, cutoff, opt, each_step):  # pragma: no cover
    """Step t of every input/recurrent synapse's traces ``syn_pre`` (z̄, ε, ē, ē_reg, g through t − 1, g of step
    t, per-step weight).  A synapse integrates while t − (p − 1) < cutoff, p its latest presynaptic arrival at or
    before t + 1; else its traces decay.  ``each_step``: step t − 1's gradient updates the per-step weight now."""
    n, n_pre = last_pre.shape
    for j in range(n):
        for i in range(n_pre):
            if not plastic_pre[j, i]:
                continue
            p = t + 1 if arr_next[i] != 0 else last_pre[j, i]
            if p < 0:
                continue
            if each_step and last_pre[j, i] >= 0 and t - last_pre[j, i] < cutoff:  # step t − 1 was integrated
                syn_pre[6, j, i] = optimized_weight(syn_pre[6, j, i], syn_pre[5, j, i], t + OFFSET_REC, adam_pre, j, i, opt)
                syn_pre[5, j, i] = 0.0
            if t - (p - 1) < cutoff:
                zbar = alpha[j] * syn_pre[0, j, i] + arr_now[i]
                e = psi[j] * (zbar - beta[j] * syn_pre[1, j, i])
                syn_pre[0, j, i] = zbar
                syn_pre[1, j, i] = rho[j] * syn_pre[1, j, i] + e
                syn_pre[2, j, i] = kappa * syn_pre[2, j, i] + e
                syn_pre[3, j, i] = kappa_reg * syn_pre[3, j, i] + (1.0 - kappa_reg) * e
                increment = learning[j] * syn_pre[2, j, i] + reg[j] * syn_pre[3, j, i]
            else:
                syn_pre[0, j, i] *= alpha[j]
                syn_pre[1, j, i] *= rho[j]
                syn_pre[2, j, i] *= kappa
                syn_pre[3, j, i] *= kappa_reg
                increment = 0.0
            syn_pre[4, j, i] += syn_pre[5, j, i]
            syn_pre[5, j, i] = increment


@njit(cache=True)
def readout_synapses(t, z_now, z_prev, err_prev, w_out, plastic_out, syn_out, last_out, adam_out, kappa_out,
                     cutoff, opt, each_step):  # pragma: no cover
    """Readout synapses at sequence step t: spikes z[t] arrive (apply the gradient integrated through t − 2), then
    step t − 1 is integrated: z̄ ← κ_k z̄ + z[t−1], g += err_k[t−1] z̄ (within the cutoff, else z̄ decays).
    ``each_step``: the increment updates the per-step weight (channel 2) at once; an arrival takes that weight."""
    n_out, n = w_out.shape
    for j in range(n):
        for k in range(n_out):
            if not plastic_out[k, j]:
                continue
            if z_now[j] != 0:
                if each_step:
                    w_out[k, j] = syn_out[2, k, j]
                elif last_out[k, j] >= 0:
                    w_out[k, j] = optimized_weight(w_out[k, j], syn_out[1, k, j], t - 1 + OFFSET_OUT, adam_out, k, j, opt)
                syn_out[1, k, j] = 0.0
                last_out[k, j] = t
            p = last_out[k, j]
            if t < 1 or p < 0:
                continue
            if (t - 1) - (p - 1) < cutoff:
                syn_out[0, k, j] = kappa_out[k] * syn_out[0, k, j] + z_prev[j]
                syn_out[1, k, j] += err_prev[k] * syn_out[0, k, j]
                if each_step:
                    syn_out[2, k, j] = optimized_weight(syn_out[2, k, j], syn_out[1, k, j], t + OFFSET_OUT, adam_out,
                                                        k, j, opt)
                    syn_out[1, k, j] = 0.0
            else:
                syn_out[0, k, j] *= kappa_out[k]


@njit(cache=True)
def neuron_step(t, drive, neuron, last_spike, alpha, rho, v_th, beta, n_ref, psi_height, psi_width, shape,
                z_now, psi, v_reset):  # pragma: no cover
    """One recurrent step: v ← α v + drive, a ← ρ a + z[t−1], A = v_th + β a, ψ (0 while refractory),
    z = [v ≥ A and free], v ← v − v_th z (reset in the spike step).  ``neuron`` rows: v, a, z[t−1].
    Where ``v_reset`` is not NaN (NEST's eprop_iaf_psc_delta(_adapt)): in the n_ref steps after a spike v and a stay
    as they are and the input is dropped, else v ← α v + drive, a ← ρ a + z[t−1]; z = [v ≥ A]; v ← v_reset z."""
    for j in range(alpha.size):
        clamped = not np.isnan(v_reset[j]) and t - last_spike[j] <= n_ref[j]
        v = neuron[0, j] if clamped else alpha[j] * neuron[0, j] + drive[j]
        a = neuron[1, j] if clamped else rho[j] * neuron[1, j] + neuron[2, j]
        d = v - (v_th[j] + beta[j] * a)
        free = t - last_spike[j] >= n_ref[j]
        psi[j] = psi_height[j] * surrogate_shape(shape, psi_width[j] * abs(d)) if free else 0.0
        z_now[j] = 0.0
        if d >= 0 and (free or not np.isnan(v_reset[j])):
            z_now[j] = 1.0
            v = v - v_th[j] if np.isnan(v_reset[j]) else v_reset[j]
            last_spike[j] = t
        neuron[0, j] = v
        neuron[1, j] = a


@njit(cache=True)
def run_chunk(t0, x, targets, mask, w_pre, w_out, feedback, plastic_pre, plastic_out, neuron, last_spike, readout,
              syn_pre, last_pre, adam_pre, syn_out, last_out, adam_out, cells, kappas, reg_params, shape, cutoff,
              opt, each_step):  # pragma: no cover
    """Run sequence steps t0 … t0 + S − 1 (``x`` has S + 1 rows: the last is the next step's input, for the
    arrival look-ahead).  ``cells`` rows: α, ρ, v_th, β, n_ref, ψ height, ψ width, v_reset (NaN: reset by
    subtraction); ``kappas``: κ, κ_reg, then κ_k
    of the readouts; ``reg_params``: c_reg, f_target (spikes/ms), dt (ms); ``readout`` rows: y, err[t−1], and the
    rate estimate f̄ (first n_out, n_out, n entries).  Returns the masked error (S, n_out) and the spikes (S, n)."""
    n_steps, n_out = targets.shape
    n_in, n = x.shape[1], w_pre.shape[0]
    alpha, rho, v_th, beta = cells[0], cells[1], cells[2], cells[3]
    n_ref = cells[4].astype(np.int64)
    kappa, kappa_reg, kappa_out = kappas[0], kappas[1], kappas[2:]
    c_reg, f_target, dt = reg_params[0], reg_params[1], reg_params[2]
    arr_now, arr_next = np.zeros(n_in + n), np.zeros(n_in + n)
    drive, z_now, psi = np.zeros(n), np.zeros(n), np.zeros(n)
    learning, reg = np.zeros(n), np.zeros(n)
    err = np.zeros((n_steps, n_out))
    spikes = np.zeros((n_steps, n), dtype=np.uint8)
    for s in range(n_steps):
        t = t0 + s
        arr_now[:n_in] = x[s]
        arr_now[n_in:] = neuron[2]
        apply_pre_arrivals(t, arr_now, w_pre, plastic_pre, syn_pre, last_pre, adam_pre, opt, each_step)
        drive[:] = 0.0
        for i in range(n_in + n):
            if arr_now[i] != 0:
                drive += w_pre[:, i]
        neuron_step(t, drive, neuron, last_spike, alpha, rho, v_th, beta, n_ref, cells[5], cells[6], shape, z_now, psi,
                    cells[7])
        readout_synapses(t, z_now, neuron[2], readout[1, :n_out], w_out, plastic_out, syn_out, last_out, adam_out,
                         kappa_out, cutoff, opt, each_step)
        for k in range(n_out):
            readout[0, k] = kappa_out[k] * readout[0, k] + np.dot(w_out[k], z_now)
            err[s, k] = (readout[0, k] - targets[s, k]) * mask[s]
            readout[1, k] = err[s, k]
        for j in range(n):
            learning[j] = np.dot(feedback[j], err[s])
            readout[2, j] = kappa_reg * readout[2, j] + (1.0 - kappa_reg) * z_now[j] / dt
            reg[j] = c_reg * (readout[2, j] - f_target * dt)
        arr_next[:n_in] = x[s + 1]
        arr_next[n_in:] = z_now
        integrate_pre(t, arr_now, arr_next, psi, learning, reg, syn_pre, last_pre, plastic_pre, adam_pre, alpha, rho,
                      beta, kappa, kappa_reg, cutoff, opt, each_step)
        neuron[2] = z_now
        for j in range(n):
            spikes[s, j] = np.uint8(z_now[j])
    return err, spikes
