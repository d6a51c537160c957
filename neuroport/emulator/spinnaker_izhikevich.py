"""s16.15 emulation of sPyNNaker's ``IZK_curr_exp`` (integer numpy, batched): the words of what the chip computes.

Sources (sPyNNaker 1!7.4.1 neural_modelling): neuron_impl_standard.h (order of a timestep),
neuron_model_izh_impl.h (``rk2_kernel_midpoint``, ``neuron_model_has_spiked``), exp_synapse_utils.h and
decay.h (exponential current synapse), threshold_type_static.h.  ``mul`` and the ring buffer are those of
:mod:`neuroport.emulator.spinnaker` (accum × accum rounded to nearest; 16-bit saturating ring buffer << shift).

Setup words (per neuron; ts = timestep word, F = 15):

    decay  = expulr(−kdivk(ts, τ_syn))                        u0.32, modelled as round(e^x · 2^32)
    init   = (kdivk(τ_syn, ts) · (2^32 − 1 − decay)) >> 15    u0.32, decay_s1615_to_u032(τ/ts, 1.0ulr − decay)
    h      = ts (reset_h);  h after a spike = mul(ts, 1.85k) (1.85k = 60621)

Per step t and receptor r (exc, inh), then the neuron:

    J_r   ← J_r + ((rb_r << s_r) · init) >> 32                 add_input_exp (decay_s1615: 64-bit product, floor)
    I     = J_exc − J_inh + i_offset
    P     = 140k + I − U,   α = P + mul(5k + mul(M, V), V),    M = 1311 (0.040008544921875)
    η     = V + half(mul(h, α)),   β = half(mul(mul(h, mul(b, V) − U), a)),   half(x) = mul(x, 0.5k)
    V     ← V + mul(h, P − β + mul(5k + mul(M, η), η))
    U     ← U + mul(mul(a, h), −U − β + mul(b, η));   h ← reset_h
    z     = [V ≥ V_thresh];  where z: V ← c,  U ← U + d,  h ← spike_h
    J_r   ← (J_r · decay) >> 32                                  exp_shaping

Every state word passes the hw config's overflow rule (saturate or wrap at 32 bits, counted).  The readout is the
LIF profile's never-firing ``IF_curr_delta`` (:func:`neuroport.emulator.spinnaker_s1615.step_neurons`).
"""

from __future__ import annotations

import numpy as np

from neuroport.emulator.spinnaker_s1615 import (
    RING_BUFFER_MAX,
    encode,
    kdivk,
    limit_table,
    mul,
    receptors_of,
    step_neurons,
    synaptic_input,
    zero_state,
)
from neuroport.emulator.trace import ActivityStats, Trace
from neuroport.ir.spinnaker_graph import SpiNNakerGraph, SpiNNakerIzhikevichNeurons
from neuroport.numerics import saturate

MAGIC_WORD = 1311  # REAL_CONST(0.040008544921875)
TQ_OFFSET_WORD = 60621  # REAL_CONST(1.85) = round(1.85 · 2^15)
ULR_ONE = (1 << 32) - 1  # 1.0ulr: unsigned long fract saturates just below 1


def decay_s1615(x: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """decay.h: an s16.15 word times a u0.32 factor, (x · d) >> 32 (64-bit product, arithmetic shift; exact in
    int64 for 32-bit words)."""
    return (np.asarray(x, dtype=np.int64) * np.asarray(decay, dtype=np.int64)) >> 32


def synapse_words(tau_syn: np.ndarray, dt_ms: float, frac: int = 15) -> dict[str, np.ndarray]:
    """exp_synapse_utils.h decay_and_init: (decay, init) u0.32 words of τ_syn words (module docstring)."""
    ts = encode(np.full(np.shape(tau_syn), dt_ms), frac)
    decay = np.minimum(np.rint(np.exp(-kdivk(ts, tau_syn, frac) / 2.0**frac) * 2.0**32), ULR_ONE).astype(np.int64)
    init = (kdivk(tau_syn, ts, frac) * (ULR_ONE - decay)) >> frac
    if np.any(init > ULR_ONE):
        raise ValueError("tau_syn / dt · (1 − decay) ≥ 1: the synapse's init factor overflows u0.32")
    return {"decay": decay, "init": init}


class _Limits:
    """The overflow rule of the state words, counting events per state name."""

    def __init__(self, graph: SpiNNakerGraph, stats: ActivityStats) -> None:
        self.rule, self.stats = limit_table(graph.state_bits)[graph.overflow], stats

    def __call__(self, x: np.ndarray, what: str) -> np.ndarray:
        out, events = self.rule(x)
        self.stats.count(f"{what}_recurrent", events)
        return out


def rk2_words(n: SpiNNakerIzhikevichNeurons, s: dict[str, np.ndarray], current: np.ndarray, lim: _Limits,
              f: int = 15) -> None:
    """sPyNNaker's rk2_kernel_midpoint on the words of state ``s`` (V, U, h) with input ``current``, in place."""
    one = 1 << f
    v, u, h = s["v"], s["u"], s["h"]
    pre_alpha = lim(140 * one + current - u, "rk2")
    alpha = lim(pre_alpha + mul(5 * one + mul(MAGIC_WORD, v, f), v, f), "rk2")
    eta = lim(v + mul(mul(h, alpha, f), one // 2, f), "rk2")
    beta = lim(mul(mul(mul(h, lim(mul(n.b, v, f) - u, "rk2"), f), n.a, f), one // 2, f), "rk2")
    s["v"] = lim(v + mul(h, lim(pre_alpha - beta + mul(5 * one + mul(MAGIC_WORD, eta, f), eta, f), "rk2"), f), "v")
    s["u"] = lim(u + mul(mul(n.a, h, f), lim(-u - beta + mul(n.b, eta, f), "rk2"), f), "u")


def receptor_words(receptors: dict, spikes: dict[str, np.ndarray], stats: ActivityStats) -> dict[str, np.ndarray]:
    """rb_r << s_r per receptor (16-bit saturating ring buffer, delay 1), counting synaptic events."""
    out = {}
    for receptor, rec in receptors.items():
        acc = 0.0
        for p, w_t, m_t in zip(rec.projections, rec.weights_t, rec.mask_t, strict=True):
            sp = spikes[p.dense].astype(np.float64)
            acc = acc + sp @ w_t
            stats.add_synaptic_ops(p.dense, (sp.sum(axis=0) @ m_t).astype(np.int64))
        rb, events = saturate(np.asarray(acc, dtype=np.int64), 0, RING_BUFFER_MAX)
        stats.count(f"ring_buffer_recurrent_{receptor}", events)
        out[receptor] = rb << rec.shift
    return out


def step_izhikevich(n: SpiNNakerIzhikevichNeurons, s: dict[str, np.ndarray], inputs: dict[str, np.ndarray],
                    lim: _Limits, f: int = 15) -> np.ndarray:
    """One IZK_curr_exp timestep (module docstring) of state ``s`` (v, u, h, j_exc, j_inh); returns the spikes."""
    for r in ("excitatory", "inhibitory"):
        s[r] = lim(s[r] + decay_s1615(inputs[r], n.syn_init), "j_syn")
    current = lim(s["excitatory"] - s["inhibitory"] + n.i_offset, "input")
    rk2_words(n, s, current, lim, f)
    s["h"] = np.broadcast_to(n.reset_h, s["v"].shape).copy()
    z = s["v"] >= n.v_thresh
    s["v"] = np.where(z, n.c, s["v"])
    s["u"] = np.where(z, lim(s["u"] + n.d, "u"), s["u"])
    s["h"] = np.where(z, n.spike_h, s["h"])
    for r in ("excitatory", "inhibitory"):
        s[r] = decay_s1615(s[r], n.syn_decay)
    return z.astype(np.int64)


def initial_state(n: SpiNNakerIzhikevichNeurons, batch: int) -> dict[str, np.ndarray]:
    shape = (batch, n.size)
    return {"v": np.broadcast_to(n.v_init, shape).copy(), "u": np.broadcast_to(n.u_init, shape).copy(),
            "h": np.broadcast_to(n.reset_h, shape).copy(), "excitatory": np.zeros(shape, dtype=np.int64),
            "inhibitory": np.zeros(shape, dtype=np.int64)}


def emulate_spinnaker_izhikevich(graph: SpiNNakerGraph, inputs: np.ndarray, *,
                                 probe_states: bool = True) -> tuple[Trace, ActivityStats]:
    """Run an IZK_curr_exp ``graph`` on 0/1 ``inputs`` (batch, n_steps, n_in); readout = the readout's V words."""
    x = np.asarray(inputs, dtype=np.int64)
    batch, n_steps, n_in = x.shape
    if n_in != graph.n_in:
        raise ValueError(f"inputs have {n_in} channels, the graph has {graph.n_in}")
    stats = ActivityStats.empty(graph, batch, n_steps)
    lim, rec, out = _Limits(graph, stats), initial_state(graph.neurons, batch), zero_state(batch, graph.n_out)
    to_rec, to_out = receptors_of(graph, ("w_in", "w_rec")), receptors_of(graph, ("w_out",))
    z = np.zeros((batch, graph.n_rec), dtype=np.int64)
    spikes = np.zeros((batch, n_steps, graph.n_rec), dtype=np.uint8)
    readout = np.zeros((batch, n_steps, graph.n_out), dtype=np.int64)
    states = {k: np.zeros((batch, n_steps, graph.n_rec), dtype=np.int64) for k in ("v", "u")} if probe_states else {}
    for t in range(n_steps):
        words = receptor_words(to_rec, {"w_in": x[:, t], "w_rec": z}, stats)
        i_out = synaptic_input(to_out, {"w_out": z}, stats, "readout", t)
        step_neurons(graph.readout, out, i_out, graph, stats, "readout")
        z = step_izhikevich(graph.neurons, rec, words, lim, graph.frac_bits)
        stats.active_neuron_updates += int(z.size)  # every IZK neuron integrates every step (no rest state)
        spikes[:, t], readout[:, t] = z, out["v"]
        for k in states:
            states[k][:, t] = rec[k]
    stats.finish(spikes)
    return Trace(spikes=spikes, readout=readout, states=states), stats
