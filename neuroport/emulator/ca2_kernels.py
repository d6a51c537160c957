"""Compiled (numba) loops of the ``lif_ca2_adaptive`` float model: the forward of
:mod:`neuroport.emulator.ca2_adaptive` and the backward adjoint of :mod:`neuroport.training.ca2_adaptive`
(the equations are in those modules' docstrings).  Samples run in parallel; the recurrent input is event-driven
(a spiking neuron adds its row of W_recᵀ), so a step costs neurons + spikes × fan-out.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from neuroport.emulator.kernels import surrogate_shape


@njit(cache=True, parallel=True)
def ca2_steps(drive, w_pre_post, alpha, rho, i_alpha, v_th, n_ref, psi_height, psi_scale, shape):  # pragma: no cover
    """Run all steps of drive (batch, n_steps, n) = W_in x; returns z, v', c, q, ψ of that shape."""
    batch, n_steps, n = drive.shape
    z, v_out, c_out = np.zeros(drive.shape), np.zeros(drive.shape), np.zeros(drive.shape)
    q_out, psi = np.zeros(drive.shape), np.zeros(drive.shape)
    for b in prange(batch):
        v, c, rec = np.zeros(n), np.zeros(n), np.zeros(n)
        timer = np.zeros(n, dtype=np.int64)
        spikes = np.empty(n, dtype=np.int64)
        n_spikes = 0
        for t in range(n_steps):
            rec[:] = 0.0
            for s in range(n_spikes):
                row = spikes[s]
                c[row] += i_alpha[row]
                for j in range(n):
                    rec[j] += w_pre_post[row, j]
            count = 0
            for j in range(n):
                c[j] = rho[j] * c[j]
                if timer[j] > 0:
                    timer[j] -= 1
                    q_out[b, t, j] = 1.0
                    v_pre = v[j]
                else:
                    v_pre = alpha[j] * v[j] + drive[b, t, j] + rec[j] + c[j]
                    psi[b, t, j] = psi_height[j] * surrogate_shape(shape, psi_scale[j] * abs(v_pre - v_th[j]))
                v[j] = v_pre
                if q_out[b, t, j] == 0.0 and v_pre >= v_th[j]:
                    z[b, t, j] = 1.0
                    v[j] = 0.0
                    timer[j] = n_ref[j]
                    spikes[count] = j
                    count += 1
                v_out[b, t, j], c_out[b, t, j] = v_pre, c[j]
            n_spikes = count
    return z, v_out, c_out, q_out, psi


@njit(cache=True, parallel=True)
def ca2_adjoint(weight, q, z, psi, alpha, rho, i_alpha):  # pragma: no cover
    """F[s] = (1 − q[s]) λ^v[s] of the backward adjoint λ[s] = D[s+1]ᵀ λ[s+1] + (w[s], 0), arrays (batch, T, n)."""
    batch, n_steps, n = weight.shape
    post = np.zeros(weight.shape)
    for b in prange(batch):
        for j in range(n):
            lam_v, lam_c = weight[b, n_steps - 1, j], 0.0
            post[b, n_steps - 1, j] = (1.0 - q[b, n_steps - 1, j]) * lam_v
            for s in range(n_steps - 2, -1, -1):
                q_next, z_prev = q[b, s + 1, j], z[b, s, j]
                d_cv = rho[j] * i_alpha[j] * psi[b, s, j]
                d_vv = (1.0 - q_next) * (alpha[j] * (1.0 - z_prev) + d_cv) + q_next * (1.0 - z_prev)
                d_vc = (1.0 - q_next) * rho[j]
                lam_v, lam_c = weight[b, s, j] + d_vv * lam_v + d_cv * lam_c, d_vc * lam_v + rho[j] * lam_c
                post[b, s, j] = (1.0 - q[b, s, j]) * lam_v
    return post
