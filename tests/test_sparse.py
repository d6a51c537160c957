"""The event-driven sparse emulator equals the dense bit-accurate emulator: every spike and v at every step."""

from __future__ import annotations

import numpy as np

from neuroport.emulator.fixed import emulate
from neuroport.emulator.sparse import SparseDense, run_sparse_graph
from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.pipeline import quantize, task_batch


def test_sparse_equals_dense_emulator(tmp_path, tiny_doc):
    from tests.conftest import write_yaml

    tiny_doc["projections"][1]["connection_probability"] = 0.4  # a sparse recurrent block
    graph = load_model(write_yaml(tmp_path, tiny_doc))
    fixed = quantize(graph, load_hw("loihi2"))
    batch = task_batch(graph, 3, seed=11)
    trace, stats = emulate(fixed, batch.inputs)
    assert trace.spikes.sum() > 20 and not fixed.w_rec.mask.all()
    events = 0
    for b in range(3):
        run = run_sparse_graph(fixed, batch.inputs[b], record_v=True)
        np.testing.assert_array_equal(run.raster(*trace.spikes[b].shape), trace.spikes[b])
        np.testing.assert_array_equal(run.v, trace.states["v"][b])
        events += run.synaptic_events
    assert events == stats.synaptic_ops["w_in"] + stats.synaptic_ops["w_rec"]


def test_random_sparse_structure():
    rng = np.random.default_rng(0)
    dense = SparseDense.random(1000, 500, 20, rng, weight_std=40, weight_exp=0, no_self=True)
    assert dense.n_synapses == 500 * 20 and dense.indptr[-1] == dense.n_synapses
    assert np.all(dense.weights % 2 == 0) and dense.weights.min() >= -256 and dense.weights.max() <= 254
    sources = np.repeat(np.arange(1000), np.diff(dense.indptr))
    assert np.all(np.bincount(dense.indices, minlength=500) == 20)
    assert not np.any(sources[: dense.n_synapses] == dense.indices)


def test_sparse_emulator_refuses_delays(tmp_path, tiny_doc):
    """The sparse emulator has no ring buffer: a projection with delay_steps > 1 is refused, not run undelayed."""
    import pytest

    from neuroport.errors import UnsupportedError
    from tests.conftest import write_yaml

    tiny_doc["projections"][1]["delay_steps"] = 3
    fixed = quantize(load_model(write_yaml(tmp_path, tiny_doc)), load_hw("loihi2"))
    with pytest.raises(UnsupportedError, match="delays up to 3 steps; emulate it with neuroport.emulator.fixed"):
        run_sparse_graph(fixed, np.zeros((5, fixed.w_in.weights.shape[1]), dtype=bool))
