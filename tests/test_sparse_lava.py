"""loihi-sim on the sparse IR: a 1,000-neuron network with fixed fan-in connectivity is lowered to Lava's own
``Sparse`` processes straight from its synapse lists, and Lava's run equals the event-driven emulator bit for bit
(every spike, v, a and readout value at every step)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from neuroport.hw import load_hw
from neuroport.ir.loader import load_model
from neuroport.pipeline import emulate_fixed, quantize
from tests.conftest import TINY, write_yaml

pytestmark = pytest.mark.lava


def test_thousand_neuron_sparse_network_is_bit_exact_with_lava_sparse(tmp_path):
    from neuroport.backend import load_backend

    doc = copy.deepcopy(TINY)
    doc["populations"][0]["size"], doc["populations"][1]["size"] = 600, 400
    rule = lambda **kw: {"connectivity": kw, "init": {"distribution": "normal", "gain": 2.0}}  # noqa: E731
    doc["projections"] = [
        {"name": "input", "source": "in", "target": ["lif", "alif"], **rule(rule="fixed_fan_in", fan_in=4)},
        {"name": "rec", "source": ["lif", "alif"], "target": ["lif", "alif"],
         **rule(rule="fixed_fan_in", fan_in=20, self_connections=False)},
        {"name": "out", "source": ["lif", "alif"], "target": "out", **rule(rule="fixed_probability", probability=0.2)},
    ]
    graph = load_model(write_yaml(tmp_path, doc))
    hw = load_hw("loihi2")
    fixed = quantize(graph, hw, calibrate=False)
    assert fixed.is_sparse and fixed.n_rec == 1000
    backend = load_backend("loihi-sim")
    described = backend.lower(fixed, hw).describe()["connections"]
    assert {c["process"] for c in described} == {"lava.proc.sparse.process.Sparse"}
    inputs = (np.random.default_rng(0).random((1, 40, graph.input.size)) < 0.3).astype(np.int64)
    trace, _ = emulate_fixed(fixed, inputs)
    assert trace.spikes.sum() > 200 and np.any(trace.readout != 0)  # an active network: the comparison means something
    result = backend.verify_against_emulator(fixed, inputs, max_samples=1)
    assert result["bit_exact"], result
    assert result["values_compared"] == 40 * (3 * 1000 + 2)
