"""Event-driven fixed-point emulation of large sparse networks (the Loihi profile of :mod:`neuroport.emulator.fixed`,
the ``alif`` neuron kind, one sample), with connectivity in compressed rows by source neuron.

Per step, exactly as :func:`neuroport.emulator.fixed.emulate` computes it (equations there), except that the
Dense sums visit only the synapses of the neurons that spiked — cost ∝ neurons + spikes × fan-out, not n²:

    acc_j = Σ_{i spiked} w_ij   (for each source: input x[t], recurrent z[t−1]);  a_in = wrap32(shift(acc, e))
    v ← sat24(decay12(v, dv) + (a_in << 6) − z[t−1] (vth << 6));  a ← sat24(decay12(a, da) + z[t−1] a_inc)
    r ← max(r − 1, 0);  z = [v ≥ (vth << 6) + a] · [r = 0];  r ← n_ref where z

Memory: 4 bytes (index) + 2 bytes (weight) per synapse.  ``tests/test_sparse.py`` checks it against the dense
emulator; ``benchmarks/scale.py`` runs 10^6 neurons.

:func:`emulate_sparse` is the emulator's path for graphs in the sparse form (``FixedGraph.is_sparse``; dispatch in
:func:`neuroport.pipeline.emulate_fixed`): the compiled loop of :mod:`neuroport.emulator.fixed_kernel` — batch,
readout, both neuron kinds, every count — with the Dense sums over compressed columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from neuroport.emulator import fixed_kernel
from neuroport.emulator.fixed import (
    ACT_SHIFT,
    ACTIVATION_BITS,
    PARALLEL_MIN_BATCH,
    PROBED_STATES,
    STATE_BITS,
    kernel_stats,
    neuron_rows,
)
from neuroport.emulator.trace import ActivityStats, Trace
from neuroport.errors import UnsupportedError
from neuroport.ir.fixed_graph import FixedDense, FixedGraph


@dataclass(frozen=True, eq=False)
class SparseDense:
    """Synapses grouped by source: targets of source i are ``indices[indptr[i]:indptr[i+1]]``."""

    indptr: np.ndarray  # int64 (n_source + 1,)
    indices: np.ndarray  # int32 (n_synapses,)
    weights: np.ndarray  # int16 (n_synapses,) mantissas as the hardware stores them
    weight_exp: int
    n_target: int

    @property
    def n_synapses(self) -> int:
        return int(self.indices.size)

    @staticmethod
    def from_dense(dense: FixedDense) -> SparseDense:
        if dense.max_delay > 1:
            raise UnsupportedError(f"the sparse emulator delivers every spike one step after it is sent, but this "
                                   f"projection has delays up to {dense.max_delay} steps; emulate it with "
                                   "neuroport.emulator.fixed (whose ring buffer honours delay_steps)")
        by_source = dense.mask.T
        sources, targets = np.nonzero(by_source)
        indptr = np.zeros(by_source.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(sources, minlength=by_source.shape[0]), out=indptr[1:])
        return SparseDense(indptr, targets.astype(np.int32), dense.weights.T[sources, targets].astype(np.int16),
                           dense.weight_exp, by_source.shape[1])

    @staticmethod
    def random(n_source: int, n_target: int, fan_in: int, rng: np.random.Generator, weight_std: float,
               weight_exp: int, no_self: bool = False, weight_mean: float = 0.0) -> SparseDense:
        """Each target draws ``fan_in`` sources uniformly (with replacement), weights N(mean, std) as even
        mantissas in [−256, 254] (mixed-sign Loihi storage)."""
        targets = np.repeat(np.arange(n_target, dtype=np.int32), fan_in)
        sources = rng.integers(0, n_source, targets.size, dtype=np.int64)
        if no_self:
            sources = np.where(sources == targets, (sources + 1) % n_source, sources)
        order = np.argsort(sources, kind="stable")
        sources, targets = sources[order], targets[order]
        indptr = np.zeros(n_source + 1, dtype=np.int64)
        np.cumsum(np.bincount(sources, minlength=n_source), out=indptr[1:])
        weights = np.clip(np.round(rng.normal(weight_mean, weight_std, targets.size) / 2) * 2, -256, 254).astype(np.int16)
        return SparseDense(indptr, targets, weights, weight_exp, n_target)


@njit(cache=True, inline="always")
def _decay12(x, d):  # pragma: no cover
    """numerics.decay12: x · (4096 − d) / 4096 truncated toward zero."""
    prod = x * (4096 - d)
    return -((-prod) >> 12) if prod < 0 else prod >> 12


@njit(cache=True, inline="always")
def _sat24(x):  # pragma: no cover
    top = (1 << 23) - 1
    return min(max(x, -top), top)


@njit(cache=True, inline="always")
def _activation(acc, exponent):  # pragma: no cover
    """wrap32(shift(acc, exponent)) (Lava's int32 a_buff)."""
    shifted = acc << exponent if exponent >= 0 else acc >> (-exponent)
    return ((shifted + (1 << 31)) & ((1 << 32) - 1)) - (1 << 31)


@njit(cache=True, inline="always")
def _scatter(acc, spiked, indptr, indices, weights):  # pragma: no cover
    for i in range(spiked.size):
        if spiked[i]:
            for k in range(indptr[i], indptr[i + 1]):
                acc[indices[k]] += weights[k]


@njit(cache=True)
def sparse_alif_run(x, in_ptr, in_idx, in_w, in_exp, rec_ptr, rec_idx, rec_w, rec_exp,
                    dv, vth, da, a_inc, n_ref, record_v):  # pragma: no cover
    """Run all steps of one sample; returns (spike steps, spike neurons, v (T, n) or (0, n), counts) where counts
    = (synaptic events, saturation events)."""
    n_steps = x.shape[0]
    n = vth.size
    v = np.zeros(n, np.int64)
    a = np.zeros(n, np.int64)
    r = np.zeros(n, np.int64)
    z = np.zeros(n, np.bool_)
    acc_in = np.zeros(n, np.int64)
    acc_rec = np.zeros(n, np.int64)
    v_rec = np.zeros((n_steps if record_v else 0, n), np.int64)
    spike_t, spike_j = [], []
    events, saturations = 0, 0
    for t in range(n_steps):
        acc_in[:] = 0
        acc_rec[:] = 0
        _scatter(acc_in, x[t], in_ptr, in_idx, in_w)
        _scatter(acc_rec, z, rec_ptr, rec_idx, rec_w)
        for i in range(x.shape[1]):
            if x[t, i]:
                events += in_ptr[i + 1] - in_ptr[i]
        for i in range(n):
            if z[i]:
                events += rec_ptr[i + 1] - rec_ptr[i]
        for j in range(n):
            a_in = _activation(acc_in[j], in_exp) + _activation(acc_rec[j], rec_exp)
            vth_scaled = vth[j] << 6
            zp = 1 if z[j] else 0
            r[j] = max(r[j] - 1, 0)
            raw_v = _decay12(v[j], dv[j]) + (a_in << 6) - zp * vth_scaled
            v[j] = _sat24(raw_v)
            raw_a = _decay12(a[j], da[j]) + zp * a_inc[j]
            a[j] = _sat24(raw_a)
            saturations += (v[j] != raw_v) + (a[j] != raw_a)
            spike = v[j] >= vth_scaled + a[j] and r[j] == 0
            z[j] = spike
            if spike:
                r[j] = n_ref[j]
                spike_t.append(t)
                spike_j.append(j)
            if record_v:
                v_rec[t, j] = v[j]
    return np.array(spike_t, np.int64), np.array(spike_j, np.int64), v_rec, events, saturations


@dataclass(frozen=True, eq=False)
class SparseRun:
    spike_steps: np.ndarray
    spike_neurons: np.ndarray
    v: np.ndarray
    synaptic_events: int
    saturation_events: int

    def raster(self, n_steps: int, n: int) -> np.ndarray:
        out = np.zeros((n_steps, n), np.uint8)
        out[self.spike_steps, self.spike_neurons] = 1
        return out


def run_sparse(graph_neurons, w_in: SparseDense, w_rec: SparseDense, inputs: np.ndarray, *, record_v: bool = False) -> SparseRun:
    """Emulate one sample (inputs (T, n_in) 0/1) of an ``alif``-kind network given as sparse Dense blocks."""
    n = graph_neurons
    as64 = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
    out = sparse_alif_run(np.ascontiguousarray(inputs, dtype=np.bool_), w_in.indptr, w_in.indices, w_in.weights,
                          w_in.weight_exp, w_rec.indptr, w_rec.indices, w_rec.weights, w_rec.weight_exp,
                          as64(n.dv), as64(n.vth), as64(n.da), as64(n.a_inc), as64(n.n_ref), record_v)
    return SparseRun(*out)


def run_sparse_graph(graph: FixedGraph, inputs: np.ndarray, *, record_v: bool = False) -> SparseRun:
    """The same for a (small) FixedGraph, via :meth:`SparseDense.from_dense` — used to check against ``emulate``."""
    return run_sparse(graph.neurons, SparseDense.from_dense(graph.w_in), SparseDense.from_dense(graph.w_rec), inputs,
                      record_v=record_v)


# --- the whole FixedGraph, batch and readout: the emulator's path for sparse graphs ------------------------------


@njit(cache=True)
def _sparse_activation(indptr, targets, weights, src, exponent, bits, out):  # pragma: no cover
    """fixed_kernel._dense with compressed columns: out = wrap(shift(Σ_{i: s_i ≠ 0} s_i W[:, i], e)) visiting only
    the synapses of active sources; returns the wrapped targets (none when no source is active)."""
    out[:] = 0
    active = False
    for i in range(src.shape[0]):
        s = src[i]
        if s != 0:
            active = True
            for k in range(indptr[i], indptr[i + 1]):
                out[targets[k]] += weights[k] * s
    events = 0
    if not active:
        return events
    for j in range(out.shape[0]):
        shifted = fixed_kernel._shift(out[j], exponent)
        wrapped = fixed_kernel._wrap_signed(shifted, bits)
        events += wrapped != shifted
        out[j] = wrapped
    return events


@njit(cache=True)
def _run_sample_sparse(x, net, spikes, readout, states, fired, counts, first):  # pragma: no cover
    """fixed_kernel._run_sample with the three Dense blocks as compressed columns (net: see kernel_network_sparse)."""
    (in_ptr, in_idx, in_w, rec_ptr, rec_idx, rec_w, out_ptr, out_idx, out_w, exps, nrn, dy, kind, fmt) = net
    act_shift, state_bits, activation_bits = fmt[0], fmt[1], fmt[2]
    n, n_out = nrn.shape[1], dy.shape[0]
    a_in, a_rec, a_out = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n_out, np.int64)
    st, y = fixed_kernel.initial_neurons(nrn), np.zeros(n_out, np.int64)
    z_prev, z = np.zeros(n, np.int64), np.zeros(n, np.int64)
    ev = np.zeros(fixed_kernel.ACTIVE + 1, np.int64)
    for t in range(x.shape[0]):
        ev[0] = _sparse_activation(in_ptr, in_idx, in_w, x[t], exps[0], activation_bits, a_in)
        ev[1] = _sparse_activation(rec_ptr, rec_idx, rec_w, z_prev, exps[1], activation_bits, a_rec)
        ev[2] = _sparse_activation(out_ptr, out_idx, out_w, z_prev, exps[2], activation_bits, a_out)
        ev[3] = fixed_kernel._readout(y, a_out, dy, act_shift, state_bits)
        a_in += a_rec
        fixed_kernel.neuron_step(kind, st, z_prev, a_in, nrn, act_shift, state_bits, z, ev)
        spikes[t] = z
        fired += z
        readout[t] = y
        if states.shape[1] > 0:
            states[:, t] = st[:3]
        fixed_kernel._tally(ev, t, counts, first)
        z_prev, z = z, z_prev


@njit(cache=True)
def _allocate_sparse(x, net, probe_states):  # pragma: no cover
    """The zeroed outputs of run_batch_sparse (first: T, i.e. no event yet)."""
    batch, n_steps = x.shape[0], x.shape[1]
    n, n_out = net[10].shape[1], net[11].shape[0]
    return (np.zeros((batch, n_steps, n), np.uint8), np.zeros((batch, n_steps, n_out), np.int64),
            np.zeros((3, batch, n_steps if probe_states else 0, n), np.int64), np.zeros((batch, n), np.int64),
            np.zeros((batch, fixed_kernel.ACTIVE + 1), np.int64), np.full((batch, fixed_kernel.ACTIVE), n_steps, np.int64))


@njit(cache=True)
def run_batch_sparse(x, net, probe_states):  # pragma: no cover
    """fixed_kernel.run_batch for sparse blocks: one sample after the other, the same outputs."""
    spikes, readout, states, fired, counts, first = _allocate_sparse(x, net, probe_states)
    for b in range(x.shape[0]):
        _run_sample_sparse(x[b], net, spikes[b], readout[b], states[:, b], fired[b], counts[b], first[b])
    return spikes, readout, states, fired, counts, first


@njit(cache=True, parallel=True)
def run_batch_sparse_parallel(x, net, probe_states):  # pragma: no cover
    """fixed_kernel.run_batch_parallel for sparse blocks: samples in threads (each writes its own rows)."""
    spikes, readout, states, fired, counts, first = _allocate_sparse(x, net, probe_states)
    for b in prange(x.shape[0]):
        _run_sample_sparse(x[b], net, spikes[b], readout[b], states[:, b], fired[b], counts[b], first[b])
    return spikes, readout, states, fired, counts, first


def compressed_columns(dense: FixedDense) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, int32 targets, int16 mantissas) grouped by source, targets ascending within a source (6 bytes per
    synapse; the kernel sums in int64)."""
    syn = dense.synapse_list()
    indptr, order = syn.by_source()
    return indptr, syn.targets[order].astype(np.int32), syn.weights[order].astype(np.int16)


def kernel_network_sparse(graph: FixedGraph) -> tuple:
    """``graph`` as :func:`run_batch_sparse`'s ``net``: compressed columns of w_in, w_rec, w_out, then as
    :func:`neuroport.emulator.fixed.kernel_network`: exponents, neuron rows, dy, kind, format."""
    for name, dense in graph.dense().items():
        if dense.max_delay > 1:
            raise UnsupportedError(f"{name} has synaptic delays up to {dense.max_delay} steps; the sparse emulator "
                                   "delivers every spike one step after it is sent (use the dense form, whose ring "
                                   "buffer honours delays)")
    n = graph.neurons
    as64 = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
    nrn = neuron_rows(n)
    columns = [a for d in graph.dense().values() for a in compressed_columns(d)]
    return (*columns, np.array([d.weight_exp for d in graph.dense().values()], np.int64), nrn,
            as64(graph.readout.dy), fixed_kernel.KIND_CODES[n.kind], np.array([ACT_SHIFT, STATE_BITS, ACTIVATION_BITS], np.int64))


def emulate_sparse(graph: FixedGraph, inputs: np.ndarray, *, probe_states: bool = True) -> tuple[Trace, ActivityStats]:
    """:func:`neuroport.emulator.fixed.emulate` for a graph of any form, event-driven over synapse lists: cost ∝
    neurons + spikes × fan-out per step, memory ∝ synapses.  Equal bit for bit to ``emulate`` (spikes, readout,
    probed states, every ActivityStats count; tests/test_sparse_emulator.py)."""
    x = np.ascontiguousarray(inputs, dtype=np.int64)
    if x.ndim != 3:
        raise ValueError(f"inputs must be (batch, n_steps, n_in), got shape {x.shape}")
    run = run_batch_sparse_parallel if x.shape[0] >= PARALLEL_MIN_BATCH else run_batch_sparse
    spikes, readout, states, *counts = run(x, kernel_network_sparse(graph), probe_states)
    probed = dict(zip(PROBED_STATES, states, strict=True)) if probe_states else {}
    return Trace(spikes=spikes, readout=readout, states=probed), kernel_stats(graph, x, spikes, *counts)
