"""sPyNNaker's s16.15 arithmetic, its ring buffers and one ``IF_curr_delta`` update, integer numpy, every limit counted.

Shared by the LIF run (:mod:`neuroport.emulator.spinnaker`), the ``IZK_curr_exp`` run
(:mod:`neuroport.emulator.spinnaker_izhikevich`) and the SpiNNaker quantizer.

Primitives (s16.15 words ``x`` in int64, value ``x / 2^15``; F = frac_bits = 15 from the hw config):

    encode(x)      = round_half_even(x · 2^F)       sPyNNaker's DataType.S1615 (numpy.round), range-checked
    mul(a, b)      = (a · b + 2^(F−1)) >> F          accum × accum, round to nearest (ties toward +∞)
    kdivk(a, b)    = trunc((a << F) / b)             accum ÷ accum, C integer division (toward zero)
    expk(x)        = round_half_away(e^(x / 2^F) · 2^F)
    ceil_accum(x)  = (x >> F) + [x & (2^F − 1) > 0]  sPyNNaker's lif_ceil_accum

``expk`` and ``kdivk`` are spinn_common routines whose bit-level results were not available here: the emulator
models them as the correctly rounded exponential and the truncated quotient (within one LSB of the chip's, not
verified on a board).  The derived words are stored in the graph, so a board run can confirm them.

Per step t (sPyNNaker 1!7.4.1: synapses.c, neuron_impl_standard.h, neuron_model_lif_impl.h, input_type_delta.h):

    rb_r      = min(Σ_i stored_r[j, i] · s_i, 2^16 − 1)           ring buffer per receptor, saturating (counted)
    I         = (rb_exc << s_exc) − (rb_inh << s_inh)              s16.15 nA; delta input: × 1 / dt (dt = 1 ms)
    if refractory timer r ≤ 0:
        α     = mul(I, R) + V_rest;   V ← α − mul(e, α − V)        closed-form LIF, e = exp_TC
    else:  r ← r − 1                                               (input of that step is dropped)
    z         = [V ≥ V_th + a];  where z: V ← V_reset, r ← T_refract
    a         ← mul(ρ, a) + z · b_inc                              neuroport's custom ALIF only (ρ = b_inc = 0: LIF)

Sources: the input and the recurrent spikes of step t − 1 (delay 1) reach the recurrent population at step t, and
the readout (an IF_curr_delta whose threshold is never reached; its V is the output) gets z[t − 1], as in the
Loihi profile (:mod:`neuroport.emulator.fixed`).  A projection of delay d (``delay_steps``) adds its source of step
t to the ring-buffer slot of step t + d − 1 (sPyNNaker's ring buffer has one slot per delay); the slot saturates
at 2^16 − 1 when delivered, which equals saturating each addition since the stored magnitudes are ≥ 0.  Every
state word goes through the hw config's overflow rule (saturate or wrap at 32 bits), counted in
:class:`ActivityStats`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from neuroport.emulator.trace import ActivityStats
from neuroport.ir.spinnaker_graph import RECEPTORS, SpiNNakerGraph, SpiNNakerNeurons, SpiNNakerProjection
from neuroport.numerics import round_half_away, saturate, saturate_signed, wrap_signed

RING_BUFFER_MAX = 0xFFFF  # synapses.c: a 17th bit saturates the 16-bit ring-buffer entry at UINT16_MAX


def encode(x: np.ndarray | float, frac_bits: int = 15, bits: int = 32) -> np.ndarray:
    """Real values → s16.15 words as sPyNNaker writes them (round half to even); out of range raises."""
    words = np.round(np.asarray(x, dtype=np.float64) * 2.0**frac_bits)
    if np.any(~np.isfinite(words)) or np.any(np.abs(words) >= 2.0 ** (bits - 1)):
        raise ValueError(f"value outside the s{bits - 1 - frac_bits}.{frac_bits} range ±{2.0 ** (bits - 1 - frac_bits):g}")
    return words.astype(np.int64)


def mul(a: np.ndarray, b: np.ndarray, frac_bits: int = 15) -> np.ndarray:
    """accum × accum rounded to nearest: (a · b + 2^(F−1)) >> F (exact in int64 for 32-bit operands)."""
    prod = np.asarray(a, dtype=np.int64) * np.asarray(b, dtype=np.int64)
    return (prod + (np.int64(1) << (frac_bits - 1))) >> frac_bits


def kdivk(a: np.ndarray, b: np.ndarray, frac_bits: int = 15) -> np.ndarray:
    """accum ÷ accum: (a << F) / b with C's truncation toward zero; b = 0 raises."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if np.any(b == 0):
        raise ZeroDivisionError("kdivk by zero")
    num = a << frac_bits
    return np.sign(num) * np.sign(b) * (np.abs(num) // np.abs(b))


def expk(x: np.ndarray, frac_bits: int = 15) -> np.ndarray:
    """e^x for an s16.15 word x, as the nearest s16.15 word."""
    return round_half_away(np.exp(np.asarray(x, dtype=np.float64) / 2.0**frac_bits) * 2.0**frac_bits)


def ceil_accum(x: np.ndarray, frac_bits: int = 15) -> np.ndarray:
    """sPyNNaker's lif_ceil_accum: the integer part, plus one if any fraction bit is set."""
    x = np.asarray(x, dtype=np.int64)
    return (x >> frac_bits) + ((x & ((1 << frac_bits) - 1)) > 0)


def limit_table(bits: int) -> dict[str, Callable[[np.ndarray], tuple[np.ndarray, int]]]:
    """What a ``bits``-wide state word does at its limits, by the hw config's ``overflow`` name."""
    return {"saturate": lambda x: saturate_signed(x, bits, symmetric=False), "wrap": lambda x: wrap_signed(x, bits)}


class _Receptor:
    """The projections into one target and receptor, as float64 operands (exact: sums stay far below 2^53)."""

    def __init__(self, projections: tuple[SpiNNakerProjection, ...]) -> None:
        shifts = {p.shift for p in projections}
        if len(shifts) > 1:
            raise ValueError(f"one receptor must have one shift, got {sorted(shifts)}")
        self.projections = projections
        self.shift = shifts.pop() if shifts else 0
        self.weights_t = [p.weights.T.astype(np.float64) for p in projections]
        self.mask_t = [p.mask.T.astype(np.float64) for p in projections]
        self.slots = max((p.delay_steps for p in projections), default=1)
        self.ring: np.ndarray | None = None  # (slots, batch, n_target) int64 with delays, allocated on first use


def receptors_of(graph: SpiNNakerGraph, denses: tuple[str, ...]) -> dict[str, _Receptor]:
    return {r: _Receptor(tuple(p for p in graph.projections if p.dense in denses and p.receptor == r)) for r in RECEPTORS}


def delayed_sum(rec: _Receptor, parts: list[tuple[int, np.ndarray]], t: int) -> np.ndarray:
    """The ring buffer of a receptor with delays: each (delay d, W s) goes to the slot of step t + d − 1; returns
    slot t's sum and clears it."""
    if rec.ring is None:
        rec.ring = np.zeros((rec.slots, *parts[0][1].shape), dtype=np.int64)
    for d, contribution in parts:
        rec.ring[(t + d - 1) % rec.slots] += contribution.astype(np.int64)
    out = rec.ring[t % rec.slots].copy()
    rec.ring[t % rec.slots] = 0
    return out


def synaptic_input(receptors: dict[str, _Receptor], spikes: dict[str, np.ndarray], stats: ActivityStats,
                   target: str, t: int = 0) -> np.ndarray:
    """I = (rb_exc << s_exc) − (rb_inh << s_inh) in s16.15 words at step ``t``; counts synaptic events (when sent)
    and ring-buffer saturation."""
    total = 0
    for receptor, rec in receptors.items():
        parts = []
        for p, w_t, m_t in zip(rec.projections, rec.weights_t, rec.mask_t, strict=True):
            s = spikes[p.dense].astype(np.float64)
            parts.append((p.delay_steps, s @ w_t))
            stats.add_synaptic_ops(p.dense, (s.sum(axis=0) @ m_t).astype(np.int64))
        acc = sum((c for _, c in parts), 0.0) if rec.slots == 1 else delayed_sum(rec, parts, t)
        rb, events = saturate(np.asarray(acc, dtype=np.int64), 0, RING_BUFFER_MAX)
        stats.count(f"ring_buffer_{target}_{receptor}", events)
        total = total + (1 if receptor == "excitatory" else -1) * (rb << rec.shift)
    return np.asarray(total, dtype=np.int64)


def step_neurons(n: SpiNNakerNeurons, s: dict[str, np.ndarray], current: np.ndarray, graph: SpiNNakerGraph,
                 stats: ActivityStats, name: str) -> np.ndarray:
    """One IF_curr_delta update (module docstring) of state ``s`` (v, r, a); returns the spikes."""
    lim = limit_table(graph.state_bits)[graph.overflow]
    f = graph.frac_bits

    def checked(x: np.ndarray, what: str) -> np.ndarray:
        out, events = lim(x)
        stats.count(f"{what}_{name}", events)
        return out

    current = checked(current, "input")
    alpha = checked(mul(current, n.r_membrane, f) + n.v_rest, "alpha")
    v_new = checked(alpha - mul(n.exp_tc, checked(alpha - s["v"], "alpha"), f), "v")
    active = s["r"] <= 0
    s["v"] = np.where(active, v_new, s["v"])
    s["r"] = np.where(active, s["r"], s["r"] - 1)
    z = s["v"] >= checked(n.v_thresh + s["a"], "threshold")
    s["v"] = np.where(z, n.v_reset, s["v"])
    s["r"] = np.where(z, n.t_refract, s["r"])
    s["a"] = checked(mul(n.rho, s["a"], f) + z * n.b_inc, "a")
    return z.astype(np.int64)


def zero_state(batch: int, n: int) -> dict[str, np.ndarray]:
    return {k: np.zeros((batch, n), dtype=np.int64) for k in ("v", "r", "a")}
