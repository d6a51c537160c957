"""NeuroBench-style metrics (NeuroBench 2.3.0 definitions: Yik et al., "The NeuroBench framework for benchmarking neuromorphic computing algorithms and systems", Nature Communications, 2025; neurobench 2.3.0 metrics), per sample:

    effective ACs          Σ_steps Σ_layers (non-zero binary inputs) × (non-zero weights they reach)
    dense ops              Σ_layers weight-matrix entries × steps
    activation sparsity    1 − spikes / (spiking neurons × steps)
    connection sparsity    zero weights / all weight-matrix entries
    parameter count        weight-matrix entries (+ per-neuron parameters)
    footprint (bytes)      parameters and state buffers as stored

Inputs of every layer here are spikes (0/1), so every operation is an accumulate (AC), none a MAC.  Counts come
from the run's spikes; a layer fed at step t uses the input spikes of step t and the recurrent spikes of t − 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroport.ir.fixed_graph import FixedGraph

STATE_BYTES = 4  # v, a (24-bit in 32-bit words), r and y, per neuron


@dataclass(frozen=True)
class NeuroBenchMetrics:
    effective_acs: float
    dense_ops: float
    activation_sparsity: float
    connection_sparsity: float
    parameter_count: int
    footprint_bytes: int

    def to_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def previous_step(spikes: np.ndarray) -> np.ndarray:
    """z[t − 1] for every t (zeros at t = 0)."""
    shifted = np.zeros_like(spikes)
    shifted[:, 1:] = spikes[:, :-1]
    return shifted


def effective_acs(layers: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Σ over layers of Σ_{samples, steps} (non-zero inputs) × (non-zero weights they reach), for
    (weights (n_out, n_in), inputs (batch, T, n_in)) pairs; not divided by the batch."""
    total = 0.0
    for weights, pre in layers:
        nonzero = (np.asarray(weights) != 0).astype(np.float64)
        active = (np.asarray(pre) != 0).reshape(-1, pre.shape[-1]).astype(np.float64)
        total += float(np.sum(active @ nonzero.T))
    return total


def _source_events(inputs: np.ndarray, spikes: np.ndarray) -> dict[str, np.ndarray]:
    """Non-zero inputs per source over the batch and steps, per Dense (recurrent sources: the previous step's spikes)."""
    previous = previous_step(spikes)
    active = lambda a: (np.asarray(a) != 0).sum(axis=(0, 1)).astype(np.int64)  # noqa: E731
    return {"w_in": active(inputs), "w_rec": active(previous), "w_out": active(previous)}


def neurobench_metrics(graph: FixedGraph, inputs: np.ndarray, spikes: np.ndarray) -> NeuroBenchMetrics:
    """Metrics per sample for a run with ``inputs`` (batch, T, n_in) and recurrent ``spikes`` (batch, T, n_rec).

    Effective ACs from the synapse lists: Σ_i (non-zero inputs of source i) × (non-zero weights of source i), the
    same sum as :func:`effective_acs`, memory ∝ synapses.  A Dense in the sparse form stores only its synapses:
    parameters are its synapses and its footprint adds a 4-byte index per synapse."""
    batch, steps = spikes.shape[:2]
    events = _source_events(inputs, spikes)
    acs, entries, zeros, params, weight_bytes = 0, 0, 0, 0, 0
    for name, d in graph.dense().items():
        syn = d.synapse_list()
        nonzero = syn.weights != 0
        acs += int(events[name] @ np.bincount(syn.sources[nonzero], minlength=syn.shape[1]))
        size = d.shape[0] * d.shape[1]
        entries, zeros = entries + size, zeros + size - int(np.count_nonzero(nonzero))
        bytes_per = int(np.ceil((d.num_weight_bits + 1) / 8))
        params += syn.n_synapses if d.is_sparse else size
        weight_bytes += syn.n_synapses * (bytes_per + 4) if d.is_sparse else size * bytes_per
    per_neuron = 5 * graph.n_rec + graph.n_out  # dv, vth, da, a_inc, n_ref; dy
    return NeuroBenchMetrics(
        effective_acs=acs / batch,
        dense_ops=float(entries * steps),
        activation_sparsity=1.0 - float(spikes.sum()) / (batch * steps * graph.n_rec),
        connection_sparsity=zeros / entries,
        parameter_count=params + per_neuron,
        footprint_bytes=weight_bytes + per_neuron * 2 + (4 * graph.n_rec + graph.n_out) * STATE_BYTES,
    )


def float_metrics(net, inputs: np.ndarray, spikes: np.ndarray, weight_bits: int, state_bits: int) -> NeuroBenchMetrics:
    """The same metrics for a float Network run (weights stored with ``weight_bits``, states with ``state_bits``)."""
    mats = (net.w_in, net.w_rec, net.w_out)
    z_prev = previous_step(spikes)
    entries = sum(w.size for w in mats)
    zeros = int(sum(np.count_nonzero(w == 0) for w in mats))
    footprint = entries * int(np.ceil(weight_bits / 8)) + (state_bits // 8) * (3 * net.n_rec + net.n_out)  # v, a, r; y
    return NeuroBenchMetrics(
        effective_acs=effective_acs([(net.w_in, inputs), (net.w_rec, z_prev), (net.w_out, z_prev)]) / inputs.shape[0],
        dense_ops=float(entries * inputs.shape[1]), activation_sparsity=1.0 - float(np.mean(spikes)),
        connection_sparsity=zeros / entries, parameter_count=entries, footprint_bytes=footprint)
