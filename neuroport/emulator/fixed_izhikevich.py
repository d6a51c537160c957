"""Fixed-point Izhikevich neurons (FixedNeurons kind 'izhikevich'): a Loihi 2 neuron program in integer arithmetic.

Loihi 2's cores run user neuron programs (microcode) on integer state; this is the program neuroport defines for
the float model of :mod:`neuroport.emulator.izhikevich` (PyNN's ``Izhikevich``, forward Euler), the numeric truth
the compiled kernel (:mod:`neuroport.emulator.fixed_izhikevich_kernel`) and the Lava process
(``backends/loihi/lava_procs/izhikevich.py``) equal bit for bit.

Units: one mV of v (and one mV/ms of u) is S = v_scale = 2^k integer units (k = ``izh_sq_shift``); coefficient
words carry F = ``IZH_FRAC`` = 20 fraction bits; ``rnd_F(x) = (x + 2^(F−1)) >> F`` (arithmetic shift: rounds half
up).  Words per neuron (the quantizer, quantization/loihi_izhikevich.py, rounds each to the nearest integer):

    p2 = 0.04 dt 2^F,  p1 = 5 dt 2^F,  pu = dt 2^F,  pab = dt a b 2^F,  pa = dt a 2^F
    c0 = dt (140 + i_offset) S,  c = c_mv S,  d = d S,  v0 = v_init S,  u0 = u_init S,  vth << 6 = 30 mV · S

Per step, with a_in = wrap32(shift(W_in x[t], e_in)) + wrap32(shift(W_rec z[t−1], e_rec)) (the Dense inputs,
weights quantized from dt · w so that a_in << 6 is the voltage step dt · I · S), int64 throughout:

    sq  = (V · V + 2^(k−1)) >> k                                               S · v²
    V'  = sat24(V + rnd_F(p2 · sq + p1 · V − pu · U) + c0 + (a_in << 6))        counted as 'v'
    U'  = sat24(U + rnd_F(pab · V − pa · U))                                   counted as 'u'
    z   = [V' ≥ vth << 6]
    V   ← c where z else V';   U ← sat24(U' + d · z)                           counted as 'u'

which is the float step v' = v + dt (0.04 v² + 5 v + 140 − u + I), u' = u + dt a (b v − u) times S.  Bounds:
|V|, |U| ≤ 2^23 − 1 (24-bit saturating words, the v format of the Loihi configs), k ≥ 5, p2 < 2^20 and the other
words below 2^24 (the quantizer checks them), so |p2 · sq| < 2^61, |p1 · V|, |pu · U| < 2^47 and a_in << 6 < 2^38:
no int64 intermediate overflows; only the two state words can, and every saturation is counted in ActivityStats.
"""

from __future__ import annotations

import numpy as np

from neuroport.emulator.trace import ActivityStats
from neuroport.ir.fixed_graph import FixedNeurons
from neuroport.numerics import saturate_signed

IZH_FRAC = 20  # fraction bits F of the coefficient words
ACT_SHIFT = 6  # a_in << 6, as the other Loihi neurons (fixed.ACT_SHIFT)
VTH_SHIFT = 6
STATE_BITS = 24


def rnd(x: np.ndarray, bits: np.ndarray | int) -> np.ndarray:
    """(x + 2^(bits−1)) >> bits: x / 2^bits rounded half up (bits ≥ 1)."""
    return (x + (np.int64(1) << (np.asarray(bits, dtype=np.int64) - 1))) >> bits


def step_izhikevich(n: FixedNeurons, s: dict[str, np.ndarray], a_in: np.ndarray, stats: ActivityStats) -> np.ndarray:
    """One step (module docstring) of the state ``s`` (v, u: (batch, n) int64) with input ``a_in``; returns z."""
    v, u = s["v"], s["u"]
    sq = rnd(v * v, n.izh_sq_shift)
    v_new, events = saturate_signed(v + rnd(n.izh_p2 * sq + n.izh_p1 * v - n.izh_pu * u, IZH_FRAC) + n.izh_c0
                                    + (a_in << ACT_SHIFT), STATE_BITS)
    stats.count("v", events)
    u_new, events = saturate_signed(u + rnd(n.izh_pab * v - n.izh_pa * u, IZH_FRAC), STATE_BITS)
    stats.count("u", events)
    z = (v_new >= (n.vth << VTH_SHIFT)).astype(np.int64)
    s["v"] = np.where(z > 0, n.izh_c, v_new)
    s["u"], events = saturate_signed(u_new + z * n.izh_d, STATE_BITS)
    stats.count("u", events)
    return z


def kernel_rows(n: FixedNeurons) -> np.ndarray:
    """The words of ``n`` as rows (``fixed_izhikevich_kernel.ROWS``, (11, n) int64) for the compiled kernel; zeros
    for a neuron kind without them."""
    from neuroport.emulator.fixed_izhikevich_kernel import ROWS

    return np.stack([np.zeros(n.size, np.int64) if getattr(n, name) is None else np.asarray(getattr(n, name), np.int64)
                     for name in ROWS])
