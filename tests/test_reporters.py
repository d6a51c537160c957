"""Energy, latency and EDP: the Loihi 1 per-op arithmetic reproduced by hand on a tiny network."""

from __future__ import annotations

import numpy as np
import pytest

from neuroport.emulator.fixed import emulate
from neuroport.hw import load_hw
from neuroport.mapping import map_graph
from neuroport.reporters.energy import energy_report
from tests.test_fixed import one_neuron


def test_loihi1_energy_by_hand():
    """One ALIF neuron, 5 steps, 4 input spikes, 2 output spikes (the golden case of test_fixed).

    synaptic events: 4 input spikes × 1 synapse + 2 recurrent spikes × 1 (zero-weight) synapse + 1 spike to the
    readout (the spike at t3 reaches the readout at t4; the one at t0 at t1) → w_in 4, w_rec 2, w_out 2 = 8
    neuron updates: 5; active ones: every step has input or non-zero state → 5
    spike deliveries: each of the 2 spikes goes to the neuron's own core (its recurrent synapse) and to the readout
    core → 4 deliveries, both cores in tile 0 → 0 hops
    E = 8 × 23.6 pJ + 5 × 81 pJ + 0 × 52 pJ + 4 × 1.7 pJ + 0 × 3.0 pJ = 188.8 + 405 + 6.8 = 600.6 pJ
    """
    g = one_neuron(w_in=10, e_in=1, vth=15, dv=2048, n_ref=2, a_inc=320, da=2048)
    hw = load_hw("loihi1")
    _, stats = emulate(g, np.array([[[1], [1], [0], [1], [1]]]))
    assert dict(stats.synaptic_ops) == {"w_in": 4, "w_rec": 2, "w_out": 2}
    report = energy_report("emulator", g, stats, hw, map_graph(g, hw))
    assert report.energy_j == pytest.approx(600.6e-12, rel=1e-12)
    assert sum(line.energy_j for line in report.lines) == pytest.approx(report.energy_j, rel=1e-12)
    # latency: recurrent core: (6 synops / 5 steps) · 3.5 ns + 1 neuron · 8.4 ns = 12.6 ns; readout core: 2/5 · 3.5 + 8.4
    # = 9.8 ns; slowest 12.6 ns + barrier 299 ns = 311.6 ns per step, × 5 steps
    assert report.step_time_s == pytest.approx(311.6e-9, rel=1e-12)
    assert report.latency_s == pytest.approx(5 * 311.6e-9, rel=1e-12)
    assert report.edp_js == pytest.approx(600.6e-12 * 5 * 311.6e-9, rel=1e-12)
    assert report.cores == 2 and report.chips == 1


def test_spinnaker_energy_by_hand():
    """SpiNNaker 1 toolchain model: 2 cores on 1 chip, 5 steps of 1 ms real time, 2 spikes:
    E = 1 chip × 0.35 W × 5 ms + 2 cores × 0.034 W × 5 ms + 2 × 1 nJ = 1.75 mJ + 0.34 mJ + 2 nJ."""
    g = one_neuron(w_in=10, e_in=1, vth=15, dv=2048, n_ref=2, a_inc=320, da=2048)
    hw = load_hw("spinnaker1")
    _, stats = emulate(g, np.array([[[1], [1], [0], [1], [1]]]))
    report = energy_report("spinnaker", g, stats, hw, map_graph(g, hw))
    assert report.energy_j == pytest.approx(1.75e-3 + 0.34e-3 + 2e-9, rel=1e-12)
    assert report.latency_s == pytest.approx(5e-3) and report.step_time_s == pytest.approx(1e-3)


def test_spikes_between_tiles_cost_hops():
    """Readout on core 2 of loihi1 with 1 neuron per core: cores 0, 1 (tile 0) and readout core 2 (tile 0); with
    cores_per_tile = 1 the readout is 2 tiles from neuron 0 and 1 from neuron 1."""
    from dataclasses import replace

    from neuroport.hw import Quantity
    from tests.test_mapping import layer

    hw = load_hw("loihi1")
    one_per_core = replace(hw, resources={**hw.resources, "neurons_per_core": Quantity(1, "test", "estimate"),
                                           "cores_per_tile": Quantity(1, "test", "estimate")})
    g = layer(2, 3, 1.0)
    g = replace(g, w_rec=replace(g.w_rec, mask=np.zeros((2, 2), bool)), w_out=replace(g.w_out, mask=np.ones((2, 2), bool)))
    _, stats = emulate(g, np.ones((1, 4, 3), dtype=np.int64))
    from neuroport.reporters.energy import spike_routing

    mapping = map_graph(g, one_per_core)
    assert [(c.role, c.start) for c in mapping.cores] == [("recurrent", 0), ("recurrent", 1), ("readout", 0), ("readout", 1)]
    deliveries, hops = spike_routing(g, stats, one_per_core, mapping)
    s0, s1 = stats.spikes_per_neuron
    assert s0 > 0 and s1 > 0
    assert deliveries == 2 * (s0 + s1)
    assert hops == s0 * (2 + 3) + s1 * (1 + 2)


def test_spinnaker_report_counts_the_s1615_emulators_spikes():
    """`report --target spinnaker` counts the packets of the s16.15 emulator's run (reset to V_reset, input lost while
    refractory), not of the float model: one packet per spike of the emulator, idle + active cores for the run."""
    from neuroport.emulator.reference import simulate
    from neuroport.emulator.spinnaker import emulate_spinnaker
    from neuroport.ir.loader import load_model
    from neuroport.ir.network import assemble
    from neuroport.pipeline import costs, quantize, task_batch

    graph = load_model("results/pattern_generation_trained.yaml")
    hw = load_hw("spinnaker1")
    inputs = task_batch(graph, 2, seed=5).inputs
    trace, _ = emulate_spinnaker(quantize(graph, hw), inputs)
    report = costs(graph, "spinnaker", hw, inputs)
    packets = next(ln for ln in report.energy.lines if ln.item == "spike packets")
    assert packets.count == trace.spikes.sum() / 2
    assert trace.spikes.sum() != simulate(assemble(graph), inputs).z.sum()  # the two models differ on this input
    assert "s16.15" in report.activity_source
