"""Compiled (numba) step of the fixed-point Izhikevich neuron: :func:`neuroport.emulator.fixed_izhikevich.step_izhikevich`
for one sample, bit for bit, every saturation counted (tests/test_fixed_izhikevich.py).

The shared kernel (:mod:`neuroport.emulator.fixed_kernel`) calls :func:`izhikevich` from its ``neuron_step`` for
kind code ``KIND_CODES['izhikevich']``, with the words of ``ROWS`` (the ``izh_*`` fields of FixedNeurons, without
their prefix) as a (len(ROWS), n) block and the state rows V and U of its per-sample state; v0 and u0 are where the
kernel starts V and U.
"""

from __future__ import annotations

import numpy as np
from numba import njit

ROWS = ("izh_p2", "izh_p1", "izh_pu", "izh_c0", "izh_pab", "izh_pa", "izh_c", "izh_d", "izh_sq_shift", "izh_v0",
        "izh_u0")
P2, P1, PU, C0, PAB, PA, C, D, SQ_SHIFT, V0, U0 = range(len(ROWS))
FRAC = 20  # fixed_izhikevich.IZH_FRAC
HALF = 1 << (FRAC - 1)


@njit(cache=True, inline="always")
def _sat(x, bits):  # pragma: no cover
    """Symmetric saturation to ±(2^(b−1) − 1) (numerics.saturate_signed)."""
    top = (np.int64(1) << (bits - 1)) - 1
    return min(max(x, -top), top)


@njit(cache=True)
def izhikevich(v_row, u_row, a_in, vth_scaled, words, act_shift, state_bits, z):  # pragma: no cover
    """One step of every neuron of one sample (fixed_izhikevich module docstring): updates v_row, u_row (int64
    (n,)) and z; returns (v events, u events, active updates: a_in ≠ 0 or v ≠ 0, as fixed.emulate_reference)."""
    n_v, n_u, active = 0, 0, 0
    for j in range(z.shape[0]):
        v, u = v_row[j], u_row[j]
        k = words[SQ_SHIFT, j]
        sq = (v * v + (np.int64(1) << (k - 1))) >> k
        raw_v = v + ((words[P2, j] * sq + words[P1, j] * v - words[PU, j] * u + HALF) >> FRAC) + words[C0, j] \
            + (a_in[j] << act_shift)
        v_new = _sat(raw_v, state_bits)
        raw_u = u + ((words[PAB, j] * v - words[PA, j] * u + HALF) >> FRAC)
        u_new = _sat(raw_u, state_bits)
        n_v += v_new != raw_v
        n_u += u_new != raw_u
        spike = v_new >= vth_scaled[j]
        if spike:
            v_new = words[C, j]
            raw_u = u_new + words[D, j]
            u_new = _sat(raw_u, state_bits)
            n_u += u_new != raw_u
        z[j] = 1 if spike else 0
        v_row[j], u_row[j] = v_new, u_new
        active += (a_in[j] != 0) | (v_new != 0)
    return n_v, n_u, active
