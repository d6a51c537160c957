"""Mapping onto cores and chips: splits large populations, refuses what cannot fit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from neuroport.errors import NeuroportError
from neuroport.hw import Quantity, load_hw
from neuroport.ir.fixed_graph import FixedDense, FixedGraph, FixedNeurons, FixedReadout
from neuroport.mapping import map_graph


def layer(n: int, n_in: int, p: float, seed: int = 0) -> FixedGraph:
    rng = np.random.default_rng(seed)
    z = lambda: np.zeros(n, dtype=np.int64)  # noqa: E731
    dense = lambda shape: FixedDense(weights=np.ones(shape, np.int64), mask=rng.random(shape) < p, weight_exp=0)  # noqa: E731
    neurons = FixedNeurons(kind="alif", dv=z(), vth=z() + 1, da=z(), a_inc=z(), n_ref=z(), du=z(), bias=z(),
                           populations=(("p", "lif", 0, n),))
    return FixedGraph(name="m", profile="loihi", hw_name="loihi1", hw_sha256="", dt_ms=1.0, neurons=neurons,
                      readout=FixedReadout(dy=np.zeros(2, np.int64)), w_in=dense((n, n_in)), w_rec=dense((n, n)),
                      w_out=dense((2, n)), v_scale=1.0, loss="mse")


def test_large_population_is_split_across_cores():
    hw = load_hw("loihi1")  # 1024 neurons per core
    mapping = map_graph(layer(2500, 10, 0.001), hw)
    recurrent = [c for c in mapping.cores if c.role == "recurrent"]
    assert [(c.start, c.stop) for c in recurrent] == [(0, 1024), (1024, 2048), (2048, 2500)]
    assert len(mapping.cores) == 4 and mapping.chips == 1


def test_too_many_inputs_is_refused_with_the_limit_named():
    with pytest.raises(NeuroportError, match=r"receive \d+ distinct inputs, more than the 4096 axons .*fan_in_per_core"):
        map_graph(layer(300, 5000, 1.0), load_hw("loihi1"))


def test_dense_population_is_split_by_synaptic_memory():
    """1000 neurons × 1000 + 1000 synapses at 1 byte: 128 KiB per core holds 65 neurons (65 × 2000 = 130,000 B)."""
    mapping = map_graph(layer(1000, 1000, 1.0), load_hw("loihi1"))
    recurrent = [c for c in mapping.cores if c.role == "recurrent"]
    assert [c.stop - c.start for c in recurrent][:2] == [65, 65] and recurrent[-1].stop == 1000
    assert all(c.synapse_bytes <= 131072 for c in recurrent)


def test_neuron_too_large_for_a_core_is_refused():
    """One neuron with 140,000 incoming 1-byte synapses cannot fit 128 KiB (fan-in limit lifted for the test)."""
    hw = load_hw("loihi1")
    roomy = replace(hw, resources={**hw.resources, "fan_in_per_core": Quantity(10**6, "test", "estimate")})
    with pytest.raises(NeuroportError, match="synaptic_memory_bytes_per_core"):
        map_graph(layer(10, 140000, 1.0), roomy)
