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

    synaptic events: 4 input spikes × 1 synapse + each of the 2 spikes × (1 recurrent + 1 readout synapse) = 8
    neuron state reads: (1 neuron + 1 readout unit) × 5 steps = 10; updates: 5 active + 5 readout = 10
    messages: 4 input spikes into core 0 + 2 spikes × 2 cores (own core, readout core) = 8; cores 0, 1 share tile 0
    E = 8 × 35.5 + 10 × 51.2 + 10 × 21.6 + 2 × 69.3 + 8 × 111 pJ = 284 + 512 + 216 + 138.6 + 888 = 2038.6 pJ
    """
    g = one_neuron(w_in=10, e_in=1, vth=15, dv=2048, n_ref=2, a_inc=320, da=2048)
    hw = load_hw("loihi1")
    _, stats = emulate(g, np.array([[[1], [1], [0], [1], [1]]]))
    assert int(stats.spikes_per_neuron.sum()) == 2 and stats.active_neuron_updates == 5
    report = energy_report("emulator", g, stats, hw, map_graph(g, hw))
    assert report.energy_j == pytest.approx(2038.6e-12, rel=1e-12)
    assert sum(line.energy_j for line in report.lines) == pytest.approx(report.energy_j, rel=1e-12)
    static = report.lines[-1]
    assert static.item == "static power: NOT MODELLED" and static.unit.sureness == "not modelled"
    # latency: core 0 per step: (5 reads · 6.0 + 5 updates · 3.7 + 2 spikes · 30 + 4 input msgs out · 5.1 + 2 msgs out
    # · 2 cores · 5.1 + 6 msgs in · 16 + 6 synops · 3.8) ns / 5 = (30 + 18.5 + 60 + 20.4 + 20.4 + 96 + 22.8) / 5
    # = 53.62 ns; readout core: (5 · 6.0 + 5 · 3.7 + 2 msgs in · 16 + 2 synops · 3.8) / 5 = 17.62 ns; + sync 0.6 µs
    assert report.step_time_s == pytest.approx(53.62e-9 + 0.6e-6, rel=1e-12)
    assert report.latency_s == pytest.approx(5 * (53.62e-9 + 0.6e-6), rel=1e-12)
    assert report.cores == 2 and report.chips == 1


def test_static_power_is_costed_when_the_config_has_it():
    from dataclasses import replace

    from neuroport.hw import Quantity

    g = one_neuron(w_in=10, e_in=1, vth=15, dv=2048, n_ref=2, a_inc=320, da=2048)
    base = load_hw("loihi1")
    hw = replace(base, energy={**base.energy, "p_static_core_w": Quantity(1e-3, "test", "estimate")})
    _, stats = emulate(g, np.array([[[1], [1], [0], [1], [1]]]))
    report = energy_report("emulator", g, stats, hw, map_graph(g, hw))
    static = report.lines[-1]
    assert static.item == "static power (core-seconds)"
    assert static.energy_j == pytest.approx(2 * report.latency_s * 1e-3, rel=1e-12)


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
    """One neuron per core and per tile: cores 0, 1 (recurrent) and 2, 3 (readout) lie on tiles 0-3 of a mesh
    4 tiles high, i.e. at (x, y) = (0, 0), (0, 1), (0, 2), (0, 3): every hop is north-south."""
    from dataclasses import replace

    from neuroport.hw import Quantity
    from neuroport.reporters.energy import loihi_counts
    from tests.test_mapping import layer

    hw = load_hw("loihi1")
    one_per_core = replace(hw, resources={**hw.resources, "neurons_per_core": Quantity(1, "test", "estimate"),
                                          "cores_per_tile": Quantity(1, "test", "estimate")})
    g = layer(2, 3, 1.0)
    g = replace(g, w_rec=replace(g.w_rec, mask=np.zeros((2, 2), bool)), w_out=replace(g.w_out, mask=np.ones((2, 2), bool)))
    _, stats = emulate(g, np.ones((1, 4, 3), dtype=np.int64))
    mapping = map_graph(g, one_per_core)
    assert [(c.role, c.start) for c in mapping.cores] == [("recurrent", 0), ("recurrent", 1), ("readout", 0), ("readout", 1)]
    counts = loihi_counts(g, stats, one_per_core, mapping).totals()
    s0, s1 = stats.spikes_per_neuron
    assert s0 > 0 and s1 > 0
    assert counts["messages"] == 2 * (s0 + s1) + 2 * 3 * 4  # spikes to both readout cores; 3 inputs × 4 steps × 2 cores
    assert counts["hops_ns"] == s0 * (2 + 3) + s1 * (1 + 2) and counts["hops_ew"] == 0


def test_missing_or_non_positive_cost_is_one_clear_error(tmp_path):
    from dataclasses import replace

    from neuroport.errors import HwConfigError
    from neuroport.hw import Quantity

    hw = load_hw("loihi1")
    g = one_neuron(w_in=10, e_in=1, vth=15, dv=2048, n_ref=2, a_inc=320, da=2048)
    _, stats = emulate(g, np.array([[[1], [1], [0], [1], [1]]]))
    zero = replace(hw, energy={**hw.energy, "e_message_j": Quantity(0.0, "test", "estimate")})
    with pytest.raises(HwConfigError, match=r"energy\.e_message_j\.value: must be a positive number"):
        energy_report("emulator", g, stats, zero, map_graph(g, zero))
    missing = replace(hw, timing={k: v for k, v in hw.timing.items() if k != "t_synop_s"})
    with pytest.raises(HwConfigError, match=r"timing: has no 't_synop_s'"):
        energy_report("emulator", g, stats, missing, map_graph(g, missing))


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
