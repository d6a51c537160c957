"""Mapping a large sparse network onto many chips: every core within every per-core limit of the hw config,
checked core by core against counts recomputed here from the synapse lists."""

from __future__ import annotations

import numpy as np

from neuroport.hw import load_hw
from neuroport.ir.connectivity import distinct_per_row
from neuroport.ir.fixed_graph import FixedDense, FixedGraph, FixedNeurons, FixedReadout
from neuroport.ir.synapses import INDEX_DTYPE, Synapses
from neuroport.mapping import map_graph


def _random_dense(n_target: int, n_source: int, fan_in: int, rng: np.random.Generator) -> FixedDense:
    targets = np.repeat(np.arange(n_target, dtype=INDEX_DTYPE), fan_in)
    sources = distinct_per_row(n_target, fan_in, n_source, rng, skip_diagonal=False).reshape(-1)
    weights = rng.integers(-100, 100, targets.size).astype(np.int16)
    return FixedDense(weights=None, mask=None, weight_exp=0, synapses=Synapses((n_target, n_source), targets, sources, weights))


def _graph(n: int, n_in: int, seed: int) -> FixedGraph:
    rng = np.random.default_rng(seed)
    z = np.zeros(n, np.int64)
    neurons = FixedNeurons(kind="alif", dv=z, vth=z + 1, da=z, a_inc=z, n_ref=z, du=z, bias=z,
                           populations=(("p", "lif", 0, n),))
    return FixedGraph(name="big", profile="loihi", hw_name="loihi1", hw_sha256="", dt_ms=1.0, neurons=neurons,
                      readout=FixedReadout(dy=np.zeros(3, np.int64)), w_in=_random_dense(n, n_in, 5, rng),
                      w_rec=_random_dense(n, n, 90, rng), w_out=_random_dense(3, n, 1500, rng), v_scale=1.0, loss="mse")


def _distinct_sources(dense: FixedDense, start: int, stop: int) -> set[int]:
    syn = dense.synapses
    inside = (syn.targets >= start) & (syn.targets < stop)
    return set(np.unique(syn.sources[inside]).tolist())


def test_multi_chip_mapping_respects_every_core_limit():
    hw = load_hw("loihi1")  # 1024 neurons, 4096 input axons, 128 KiB of synapses per core; 128 cores per chip
    graph = _graph(20000, 200, seed=4)
    mapping = map_graph(graph, hw)
    per_core, fan_limit = hw.resource("neurons_per_core"), hw.resource("fan_in_per_core")
    mem_limit, per_chip = hw.resource("synaptic_memory_bytes_per_core"), hw.resource("cores_per_chip")
    recurrent = [c for c in mapping.cores if c.role == "recurrent"]
    assert [(c.start, c.stop) for c in recurrent][0][0] == 0 and recurrent[-1].stop == 20000
    assert all(a.stop == b.start for a, b in zip(recurrent, recurrent[1:], strict=False))  # every neuron, once
    for core in recurrent:
        rec, inp = _distinct_sources(graph.w_rec, core.start, core.stop), _distinct_sources(graph.w_in, core.start, core.stop)
        synapses = 95 * (core.stop - core.start)  # fan-in 90 recurrent + 5 input per neuron
        assert core.stop - core.start <= per_core
        assert core.fan_in == len(rec) + len(inp) <= fan_limit
        assert core.synapses == synapses and core.synapse_bytes == synapses <= mem_limit  # 8-bit weights
    readout = [c for c in mapping.cores if c.role == "readout"]
    assert sum(c.stop - c.start for c in readout) == 3
    assert all(c.fan_in == len(_distinct_sources(graph.w_out, c.start, c.stop)) <= fan_limit for c in readout)
    assert len(mapping.cores) > per_chip and mapping.chips == -(-len(mapping.cores) // per_chip)  # several chips
