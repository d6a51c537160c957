"""Every stage on the sparse form equals the dense form of the same network: quantized weights, emulator traces and
counts, artifacts, training steps."""

from __future__ import annotations

import numpy as np
import pytest

from neuroport.emulator.fixed import emulate
from neuroport.emulator.sparse import emulate_sparse
from neuroport.hw import load_hw
from neuroport.ir.artifact import load_artifact, save_artifact
from neuroport.ir.loader import load_model
from neuroport.pipeline import emulate_fixed, quantize, task_batch
from quantization.loihi import quantize_loihi
from tests.conftest import write_yaml
from tests.test_sparse_ir import sparse_doc


@pytest.fixture
def pair(tmp_path):
    """(sparse graph, the same graph in the dense form): fixed fan-in recurrent, Bernoulli input, strong weights."""
    doc = sparse_doc({"rule": "fixed_fan_in", "fan_in": 5, "self_connections": False},
                     {"rule": "fixed_probability", "probability": 0.6})
    doc["projections"][1]["init"] = {"distribution": "normal", "gain": 2.0}
    graph = load_model(write_yaml(tmp_path, doc))
    return graph, graph.with_projections(tuple(p.to_dense() for p in graph.projections))


def _inputs(graph, batch=3, steps=60, seed=0):
    return (np.random.default_rng(seed).random((batch, steps, graph.input.size)) < 0.3).astype(np.int64)


def test_quantized_weights_are_identical(pair):
    sparse, dense = pair
    hw = load_hw("loihi2")
    calib = _inputs(sparse, 2).astype(float)
    fs, fd = quantize_loihi(sparse, hw, calib), quantize_loihi(dense, hw, calib)
    assert fs.is_sparse and not fd.is_sparse
    assert fs.v_scale == fd.v_scale
    for name in ("w_in", "w_rec", "w_out"):
        s, d = fs.dense()[name], fd.dense()[name]
        assert s.weight_exp == d.weight_exp and s.n_synapses == d.n_synapses
        assert np.array_equal(s.dense_weights(), d.weights) and np.array_equal(s.dense_mask(), d.mask)
    for field in ("dv", "vth", "da", "a_inc", "n_ref"):
        assert np.array_equal(getattr(fs.neurons, field), getattr(fd.neurons, field))


def test_emulator_traces_and_counts_are_bit_identical(pair):
    sparse, dense = pair
    hw = load_hw("loihi2")
    fs, fd = quantize(sparse, hw), quantize(dense, hw)
    x = _inputs(sparse)
    trace_d, stats_d = emulate(fd, x, probe_states=True)
    trace_s, stats_s = emulate_sparse(fs, x, probe_states=True)
    assert trace_d.spikes.sum() > 20  # the network is active: the comparison means something
    assert np.array_equal(trace_s.spikes, trace_d.spikes) and np.array_equal(trace_s.readout, trace_d.readout)
    for k in ("v", "a", "u"):
        assert np.array_equal(trace_s.states[k], trace_d.states[k])
    assert stats_s.to_dict() == stats_d.to_dict()
    for name in ("w_in", "w_rec", "w_out"):
        assert np.array_equal(stats_s.synaptic_ops_per_target[name], stats_d.synaptic_ops_per_target[name])
    one, one_stats = emulate_sparse(fs, x[:1])  # one sample: the serial loop
    assert np.array_equal(one.spikes, trace_d.spikes[:1]) and one_stats.to_dict() == emulate(fd, x[:1])[1].to_dict()
    via_pipeline, _ = emulate_fixed(fs, x)  # the dispatch takes the sparse engine
    assert np.array_equal(via_pipeline.spikes, trace_d.spikes)
    dense_on_sparse_engine, _ = emulate_sparse(fd, x)  # the sparse engine also takes the dense form
    assert np.array_equal(dense_on_sparse_engine.readout, trace_d.readout)


def test_emulator_counts_saturation_and_wraps_alike(pair):
    """Huge voltage scale: saturation events on both engines, counted the same."""
    sparse, dense = pair
    hw = load_hw("loihi2")
    fs, fd = quantize(sparse, hw), quantize(dense, hw)
    from dataclasses import replace

    hot = lambda g: replace(g, neurons=replace(g.neurons, vth=g.neurons.vth * 4000, dv=g.neurons.dv * 0))  # noqa: E731
    x = np.ones((2, 80, sparse.input.size), dtype=np.int64)
    trace_d, stats_d = emulate(hot(fd), x)
    trace_s, stats_s = emulate_sparse(hot(fs), x)
    assert sum(stats_d.overflow.values()) > 0
    assert stats_s.overflow == stats_d.overflow and np.array_equal(trace_s.readout, trace_d.readout)


def test_sparse_artifact_round_trip_keeps_the_synapse_list(pair, tmp_path):
    sparse, _ = pair
    fixed = quantize(sparse, load_hw("loihi2"))
    folder = save_artifact(fixed, tmp_path / "art")
    back = load_artifact(folder)
    assert back.is_sparse
    for name in ("w_in", "w_rec", "w_out"):
        a, b = fixed.dense()[name], back.dense()[name]
        assert a.weight_exp == b.weight_exp
        for field in ("targets", "sources", "weights"):
            assert np.array_equal(getattr(a.synapses, field), getattr(b.synapses, field))
    with np.load(folder / "arrays.npz") as data:
        assert "w_rec.targets" in data.files and "w_rec.weights" in data.files and "w_rec.mask" not in data.files


def test_calibrated_quantization_matches(pair):
    """Calibration runs the event-driven float model on the sparse form; the voltage scale is the dense one's."""
    sparse, dense = pair
    hw = load_hw("loihi2")
    batch = task_batch(sparse, 2, 7)
    assert quantize_loihi(sparse, hw, batch.inputs).v_scale == quantize_loihi(dense, hw, batch.inputs).v_scale


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_sparse_trainer_equals_the_dense_trainer(tmp_path, optimizer):
    """Two iterations of `train` on the sparse form (train_sparse) and on the dense form (train_eprop, the dense
    trainer): the same trained weights to rounding (the two sum the gradient in different orders)."""
    from neuroport.ir.network import assemble
    from neuroport.training.eprop import train_eprop
    from neuroport.training.sparse_eprop import train_sparse

    doc = sparse_doc({"rule": "fixed_fan_in", "fan_in": 5, "self_connections": False},
                     {"rule": "fixed_probability", "probability": 0.6})
    doc["learning"]["optimizer"] = {"name": optimizer, "learning_rate": 0.05}
    doc["learning"]["weight_decay"] = 1e-3
    graph = load_model(write_yaml(tmp_path, doc))
    dense = graph.with_projections(tuple(p.to_dense() for p in graph.projections))
    a, b = train_sparse(graph, 2, batch_size=3), train_eprop(dense, 2, batch_size=3)
    na, nb, n0 = assemble(a.graph), assemble(b.graph), assemble(graph)
    for name in ("w_in", "w_rec", "w_out"):
        assert not np.allclose(getattr(na, name), getattr(n0, name))  # it learned
        np.testing.assert_allclose(getattr(na, name), getattr(nb, name), rtol=1e-9, atol=1e-12)
        assert np.array_equal(getattr(na, f"{name}_mask"), getattr(nb, f"{name}_mask"))
    assert [h.loss for h in a.history] == pytest.approx([h.loss for h in b.history], rel=1e-9)
    assert a.graph.projections[1].is_sparse


def test_float_run_of_the_sparse_form_equals_the_dense_reference(pair):
    """simulate_graph takes the event-driven model for the sparse form: the dense reference's spikes, its readout
    to rounding."""
    from neuroport.emulator.float_run import simulate_graph

    sparse, dense = pair
    x = _inputs(sparse, batch=2).astype(float)
    run, ref = simulate_graph(sparse, x), simulate_graph(dense, x)
    assert ref.z.sum() > 20
    assert np.array_equal(run.z, ref.z)
    np.testing.assert_allclose(run.y, ref.y, rtol=1e-9, atol=1e-12)


def test_nir_round_trip_of_the_sparse_form(pair, tmp_path):
    """NIR's Linear nodes hold the same matrices for both forms; the sparse form comes back sparse and equal."""
    pytest.importorskip("nir")
    from neuroport.ir.nir_io import read_nir, to_nir, write_nir

    sparse, dense = pair
    gs, gd = to_nir(sparse), to_nir(dense)
    for node in ("w_in", "w_rec", "w_out"):
        assert np.array_equal(gs.nodes[node].weight, gd.nodes[node].weight)
    back = read_nir(write_nir(sparse, tmp_path / "s.nir"))
    assert back == sparse and back.projections[1].is_sparse
    assert read_nir(write_nir(dense, tmp_path / "d.nir")) == dense


@pytest.mark.parametrize("hw_name", ["spinnaker2", "loihi1"])
def test_other_profiles_take_the_sparse_form_through_the_dense_view(pair, hw_name):
    """The SpiNNaker s16.15 profile quantizes through the dense view (small networks); loihi1 through the synapse
    lists: both emulate the sparse form exactly as the dense form."""
    sparse, dense = pair
    hw = load_hw(hw_name)
    x = _inputs(sparse)
    ts, _ = emulate_fixed(quantize(sparse, hw), x)
    td, _ = emulate_fixed(quantize(dense, hw), x)
    assert td.spikes.sum() > 20
    assert np.array_equal(ts.spikes, td.spikes) and np.array_equal(ts.readout, td.readout)


def test_delayed_sparse_form_runs_on_the_dense_ring_buffer(tmp_path):
    """Synaptic delays in the sparse form: quantized and emulated (through the dense engine's ring buffer) exactly
    as the dense form; the artifact keeps the per-synapse delays."""
    doc = sparse_doc({"rule": "fixed_fan_in", "fan_in": 5, "self_connections": False},
                     {"rule": "fixed_probability", "probability": 0.6})
    doc["projections"][1]["init"] = {"distribution": "normal", "gain": 2.0}
    doc["projections"][1]["delay_steps"] = 3
    sparse = load_model(write_yaml(tmp_path, doc))
    dense = sparse.with_projections(tuple(p.to_dense() for p in sparse.projections))
    hw = load_hw("loihi2")
    fs, fd = quantize(sparse, hw), quantize(dense, hw)
    assert fs.w_rec.max_delay == 3 and np.array_equal(fs.w_rec.dense_delays(), fd.w_rec.delays)
    x = _inputs(sparse)
    ts, _ = emulate_fixed(fs, x)
    td, _ = emulate_fixed(fd, x)
    assert td.spikes.sum() > 20
    assert np.array_equal(ts.spikes, td.spikes) and np.array_equal(ts.readout, td.readout)
    back = load_artifact(save_artifact(fs, tmp_path / "art"))
    assert np.array_equal(back.w_rec.synapses.delays, fs.w_rec.synapses.delays)


def test_input_scaling_is_folded_into_synapse_lists_as_into_matrices(tmp_path):
    """NEST's ``regular_spike_arrival: false`` (ζ = 1 − α on the populations, 1 − κ on the readout): the sparse form
    quantizes with ζ folded into every synapse list exactly as the dense form folds it into its matrices."""
    doc = sparse_doc({"rule": "fixed_fan_in", "fan_in": 5, "self_connections": False},
                     {"rule": "fixed_probability", "probability": 0.6})
    doc["readout"]["regular_spike_arrival"] = False
    for pop in doc["populations"]:
        pop["regular_spike_arrival"] = False
    sparse = load_model(write_yaml(tmp_path, doc))
    dense = sparse.with_projections(tuple(p.to_dense() for p in sparse.projections))
    hw = load_hw("loihi2")
    fs, fd = quantize_loihi(sparse, hw), quantize_loihi(dense, hw)
    assert fs.is_sparse and fs.v_scale == fd.v_scale
    for name in ("w_in", "w_rec", "w_out"):
        s, d = fs.dense()[name], fd.dense()[name]
        assert s.weight_exp == d.weight_exp and np.array_equal(s.dense_weights(), d.weights)
    (tmp_path / "plain").mkdir()
    plain = load_model(write_yaml(tmp_path / "plain", sparse_doc({"rule": "fixed_fan_in", "fan_in": 5, "self_connections": False},
                                                                 {"rule": "fixed_probability", "probability": 0.6})))
    assert not np.array_equal(quantize_loihi(plain, hw).w_out.dense_weights(), fs.w_out.dense_weights())  # ζ counted
