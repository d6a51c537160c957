"""The bit-accurate fixed-point emulator: the numeric truth every backend must equal.

Executes a :class:`~neuroport.ir.fixed_graph.FixedGraph` in integer numpy (int64 intermediates), vectorised over
a batch of samples, exactly as the target computes.  Loihi profile, per step t (see FixedNeurons/FixedReadout):

    a_in[t]  = wrap32(shift(W_in x[t], e_in)) + wrap32(shift(W_rec z[t−1], e_rec))      Dense, one-step delay
    neurons  ← step(kind)(state, a_in[t])                                                 table NEURON_STEPS
    y[t]     = sat24(decay12(y[t−1], dy) + (wrap32(shift(W_out z[t−1], e_out)) << 6))

Synaptic delays (``FixedDense.delays``, d ≥ 1; d = 1 is the above): each Dense keeps a ring buffer of
``max_delay`` integer slots; the source of step t (x[t], or z[t−1]) adds shift(W_d s, e) to the slot of step
t + d − 1 for every delay group d, and step t takes its slot, wrapped, and clears it:

    a_k[t] = wrap32(Σ_d shift(W_k,d s_k[t − d + 1], e_k))                  s_in[t] = x[t], s_rec[t] = s_out[t] = z[t−1]

which is Lava's ``DelayDense`` (bit-accurate model, delay d − 1: its a_buff adds each shifted slot into int32).

Lava's processes run this one step later (a Dense buffers its output for a step; see the loihi-sim backend's
latency offset).  Every wrap and saturation is counted in :class:`ActivityStats`, never hidden.

:func:`emulate_reference` is the readable specification, one numpy step at a time; :func:`emulate` runs the same
equations as one compiled loop (:mod:`neuroport.emulator.fixed_kernel`) and equals it bit for bit, every count
included (tests/test_fixed_kernel.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from neuroport.emulator import fixed_kernel
from neuroport.emulator.fixed_izhikevich import kernel_rows, step_izhikevich
from neuroport.emulator.trace import ActivityStats, Trace
from neuroport.ir.fixed_graph import FixedDense, FixedGraph, FixedNeurons
from neuroport.numerics import decay12, saturate_signed, shift, wrap_lava_u, wrap_signed

ACT_SHIFT = 6  # a_in << 6 (Lava: act_shift)
VTH_SHIFT = 6  # vth << 6 (Lava: vth_shift)
STATE_BITS = 24  # u, v, a, y (Lava: uv_bitwidth)
ACTIVATION_BITS = 32  # Dense a_buff is int32 in Lava


class DenseOperands:
    """A Dense's weights and mask as float64 (transposed), so that W s runs on BLAS.

    Exact: |weights| ≤ 2^9 and spikes are 0/1, so every partial sum is an integer far below 2^53.
    """

    def __init__(self, dense: FixedDense) -> None:
        if dense.weights.shape[1] * 2**9 >= 2**53:
            raise ValueError("fan-in too large for exact float64 accumulation")
        self.dense = dense
        self.weights_t = dense.weights.T.astype(np.float64)
        self.mask_t = dense.mask.T.astype(np.float64)
        self.groups = [] if dense.delays is None else [  # (d, W_dᵀ) per delay present
            (int(d), np.where(dense.delays == d, dense.weights, 0).T.astype(np.float64)) for d in np.unique(dense.delays)]
        self.ring: np.ndarray | None = None  # (max_delay, batch, n_target) int64, allocated on first use


def delayed_activation(ops: DenseOperands, spikes: np.ndarray, t: int, stats: ActivityStats, name: str) -> np.ndarray:
    """a[t] = wrap32(Σ_d shift(W_d s[t − d + 1], e)) through the ring buffer (module docstring): ``spikes`` is the
    source of step t; counts its synaptic events when they are sent."""
    dense = ops.dense
    slots = dense.max_delay
    if ops.ring is None:
        ops.ring = np.zeros((slots, spikes.shape[0], dense.weights.shape[0]), dtype=np.int64)
    s = spikes.astype(np.float64)
    stats.add_synaptic_ops(name, (s.sum(axis=0) @ ops.mask_t).astype(np.int64))
    for d, w_t in ops.groups:
        ops.ring[(t + d - 1) % slots] += shift((s @ w_t).astype(np.int64), dense.weight_exp)
    out, events = wrap_signed(ops.ring[t % slots], ACTIVATION_BITS)
    ops.ring[t % slots] = 0
    stats.count("activation_" + name, events)
    return out


def activation(ops: DenseOperands, spikes: np.ndarray, t: int, stats: ActivityStats, name: str) -> np.ndarray:
    """The Dense's a[t]: :func:`dense_activation` without delays, :func:`delayed_activation` with."""
    if ops.dense.delays is None:
        return dense_activation(ops, spikes, stats, name)
    return delayed_activation(ops, spikes, t, stats, name)


def dense_activation(ops: DenseOperands, spikes: np.ndarray, stats: ActivityStats, name: str) -> np.ndarray:
    """a = wrap32(shift(W s, weight_exp)) for spikes (batch, n_source); counts synaptic events."""
    dense = ops.dense
    s = spikes.astype(np.float64)
    acc = (s @ ops.weights_t).astype(np.int64)
    per_target = (s.sum(axis=0) @ ops.mask_t).astype(np.int64)  # synaptic events arriving at each target
    stats.add_synaptic_ops(name, per_target)
    out, events = wrap_signed(shift(acc, dense.weight_exp), ACTIVATION_BITS)
    stats.count("activation_" + name, events)
    return out


def _saturate(x: np.ndarray, stats: ActivityStats, state: str) -> np.ndarray:
    out, events = saturate_signed(x, STATE_BITS)
    stats.count(state, events)
    return out


def step_alif(n: FixedNeurons, s: dict[str, np.ndarray], a_in: np.ndarray, stats: ActivityStats) -> np.ndarray:
    """neuroport's Loihi-style ALIF (FixedNeurons docstring); returns the new spikes."""
    z_prev = s["z"]
    vth_scaled = n.vth << VTH_SHIFT
    s["r"] = np.maximum(s["r"] - 1, 0)
    s["v"] = _saturate(decay12(s["v"], n.dv) + (a_in << ACT_SHIFT) - z_prev * vth_scaled, stats, "v")
    s["a"] = _saturate(decay12(s["a"], n.da) + z_prev * n.a_inc, stats, "a")
    z = ((s["v"] >= vth_scaled + s["a"]) & (s["r"] == 0)).astype(np.int64)
    s["r"] = np.where(z > 0, n.n_ref, s["r"])
    return z


def step_lava_lif(n: FixedNeurons, s: dict[str, np.ndarray], a_in: np.ndarray, stats: ActivityStats) -> np.ndarray:
    """Lava's own LIF (``PyLifModelBitAcc``) bit for bit: u wraps (Lava's boundary), v saturates, reset to 0."""
    u, events = wrap_lava_u(decay12(s["u"], n.du + 1) + (a_in << ACT_SHIFT), STATE_BITS)
    stats.count("u", events)
    s["u"] = u
    s["v"] = _saturate(decay12(s["v"], n.dv) + u + n.bias, stats, "v")
    z = (s["v"] > (n.vth << VTH_SHIFT)).astype(np.int64)
    s["v"] = np.where(z > 0, 0, s["v"])
    return z


def step_eprop_plus(n: FixedNeurons, s: dict[str, np.ndarray], a_in: np.ndarray, stats: ActivityStats) -> np.ndarray:
    """The e-prop+ neuron (NEST's eprop_iaf(_adapt); FixedNeurons docstring): the ALIF step with the reset in the
    spike step, v ← v − z · (vth << 6) right after z = [v ≥ (vth << 6) + a] · [r = 0]; returns the new spikes."""
    vth_scaled = n.vth << VTH_SHIFT
    s["r"] = np.maximum(s["r"] - 1, 0)
    s["v"] = _saturate(decay12(s["v"], n.dv) + (a_in << ACT_SHIFT), stats, "v")
    s["a"] = _saturate(decay12(s["a"], n.da) + s["z"] * n.a_inc, stats, "a")
    z = ((s["v"] >= vth_scaled + s["a"]) & (s["r"] == 0)).astype(np.int64)
    s["v"] = s["v"] - z * vth_scaled  # ≥ a ≥ −(2^23 − 1): in range without saturation
    s["r"] = np.where(z > 0, n.n_ref, s["r"])
    return z


NEURON_STEPS: dict[str, Callable[[FixedNeurons, dict[str, np.ndarray], np.ndarray, ActivityStats], np.ndarray]] = {
    "alif": step_alif,
    "lava_lif": step_lava_lif,
    "eprop_plus": step_eprop_plus,
    "izhikevich": step_izhikevich,  # neuroport.emulator.fixed_izhikevich
}
PROBED_STATES = ("v", "a", "u")


def initial_state(graph: FixedGraph, batch: int) -> dict[str, np.ndarray]:
    zeros = lambda: np.zeros((batch, graph.n_rec), dtype=np.int64)  # noqa: E731
    start = lambda state: np.broadcast_to(graph.neurons.initial(state), (batch, graph.n_rec)).copy()  # noqa: E731
    return {"v": start("v"), "a": zeros(), "u": start("u"), "r": zeros(), "z": zeros(),
            "y": np.zeros((batch, graph.n_out), dtype=np.int64)}


def emulate_reference(graph: FixedGraph, inputs: np.ndarray, *, probe_states: bool = True) -> tuple[Trace, ActivityStats]:
    """:func:`emulate`, step by step in numpy: the specification the compiled kernel is tested against."""
    x = np.asarray(inputs, dtype=np.int64)
    batch, n_steps, _ = x.shape
    step = NEURON_STEPS[graph.neurons.kind]
    stats = ActivityStats.empty(graph, batch, n_steps)
    s = initial_state(graph, batch)
    spikes = np.zeros((batch, n_steps, graph.n_rec), dtype=np.uint8)
    readout = np.zeros((batch, n_steps, graph.n_out), dtype=np.int64)
    states = {k: np.zeros((batch, n_steps, graph.n_rec), dtype=np.int64) for k in PROBED_STATES} if probe_states else {}
    ops = {name: DenseOperands(d) for name, d in graph.dense().items()}
    for t in range(n_steps):
        a_in = activation(ops["w_in"], x[:, t], t, stats, "w_in") + activation(ops["w_rec"], s["z"], t, stats, "w_rec")
        a_out = activation(ops["w_out"], s["z"], t, stats, "w_out")
        s["y"] = _saturate(decay12(s["y"], graph.readout.dy) + (a_out << ACT_SHIFT), stats, "y")
        z = step(graph.neurons, s, a_in, stats)
        stats.active_neuron_updates += int(np.count_nonzero((a_in != 0) | (s["v"] != 0) | (s["a"] != 0)))
        s["z"] = z
        spikes[:, t], readout[:, t] = z, s["y"]
        for k in states:
            states[k][:, t] = s[k]
    stats.finish(spikes)
    stats.input_spikes_per_source = x.sum(axis=(0, 1))
    return Trace(spikes=spikes, readout=readout, states=states), stats


PARALLEL_MIN_BATCH = 2  # samples in threads from this batch size on (one sample: no thread hand-off)
KIND_COUNT_ORDER = {"alif": ("v", "a"), "lava_lif": ("u", "v"), "izhikevich": ("v", "u"), "eprop_plus": ("v", "a")}  # the order in which a neuron step counts events


def neuron_rows(n: FixedNeurons) -> np.ndarray:
    """The kernel's ``nrn`` (fixed_kernel.NEURON_ROWS, int64): vth << 6, dv, da, a_inc, n_ref, du + 1, bias, then
    the Izhikevich words (zeros for the other kinds)."""
    as64 = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
    base = np.stack([as64(n.vth) << VTH_SHIFT, as64(n.dv), as64(n.da), as64(n.a_inc), as64(n.n_ref), as64(n.du) + 1,
                     as64(n.bias)])
    return np.ascontiguousarray(np.concatenate([base, kernel_rows(n)]))


def kernel_network(graph: FixedGraph) -> tuple:
    """``graph`` as :func:`fixed_kernel.run_batch`'s ``net``: Wᵀ (a source's synapses are one row; int16 when
    the weights fit, fixed_kernel.transposed), exponents, the neuron rows ``NEURON_ROWS`` (:func:`neuron_rows`), dy, kind, format,
    then the delays Dᵀ per Dense ((0, 0) without delays)."""
    n = graph.neurons
    as64 = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
    dense = graph.dense().values()
    nrn = neuron_rows(n)
    no_delays = np.zeros((0, 0), np.int64)  # a plain Dense: the kernel's undelayed path
    return (*(fixed_kernel.transposed(d.weights) for d in dense), np.array([d.weight_exp for d in dense], np.int64), nrn,
            as64(graph.readout.dy), fixed_kernel.KIND_CODES[n.kind],
            np.array([ACT_SHIFT, STATE_BITS, ACTIVATION_BITS], np.int64),
            *(no_delays if d.delays is None else as64(d.delays.T) for d in dense))


def kernel_stats(graph: FixedGraph, x: np.ndarray, spikes: np.ndarray, fired: np.ndarray, counts: np.ndarray,
                 first: np.ndarray) -> ActivityStats:
    """ActivityStats of a kernel run, filled as :func:`emulate_reference` fills them step by step.

    Synaptic events per target: Σ_{b,t} M s[b, t] with s = x[t] for w_in and s = z[t−1] for w_rec, w_out (M the
    mask).  Overflow counters are entered in the order the reference meets them: by first step, then in step order.
    """
    batch, n_steps, _ = x.shape
    stats = ActivityStats.empty(graph, batch, n_steps)
    if n_steps:
        z_sum = fired.sum(axis=0) - spikes[:, -1].sum(axis=0, dtype=np.int64)  # the spikes of steps 0 … T − 2
        sources = {"w_in": x.sum(axis=(0, 1)), "w_rec": z_sum, "w_out": z_sum}
        for name, dense in graph.dense().items():
            events = np.asarray(sources[name], np.int64)
            stats.add_synaptic_ops(name, fixed_kernel.events_per_target(dense.dense_mask(), events))
    totals, starts = counts.sum(axis=0), first.min(axis=0, initial=n_steps)
    order = [*fixed_kernel.COUNTERS[:4], *KIND_COUNT_ORDER[graph.neurons.kind]]
    column = {name: fixed_kernel.COUNTERS.index(name) for name in order}
    for name in sorted(order, key=lambda k: (starts[column[k]], order.index(k))):
        stats.count(name, int(totals[column[name]]))
    stats.active_neuron_updates = int(totals[fixed_kernel.ACTIVE])
    stats.finish(fired[None])  # finish sums axes (0, 1): the per-neuron totals, without a pass over the raster
    stats.input_spikes_per_source = x.sum(axis=(0, 1))
    return stats


def emulate(graph: FixedGraph, inputs: np.ndarray, *, probe_states: bool = True) -> tuple[Trace, ActivityStats]:
    """Run ``graph`` on 0/1 ``inputs`` of shape (batch, n_steps, n_in); returns the trace and the counts.

    One compiled loop over the batch (:func:`fixed_kernel.run_batch`, samples in threads from ``PARALLEL_MIN_BATCH``
    on), equal bit for bit to :func:`emulate_reference`: spikes, readout, probed v, a, u and every ActivityStats field.
    """
    x = np.ascontiguousarray(inputs, dtype=np.int64)
    if x.ndim != 3:
        raise ValueError(f"inputs must be (batch, n_steps, n_in), got shape {x.shape}")
    run = fixed_kernel.run_batch_parallel if x.shape[0] >= PARALLEL_MIN_BATCH else fixed_kernel.run_batch
    spikes, readout, states, *counts = run(x, kernel_network(graph), probe_states)
    probed = dict(zip(PROBED_STATES, states, strict=True)) if probe_states else {}
    return Trace(spikes=spikes, readout=readout, states=probed), kernel_stats(graph, x, spikes, *counts)
