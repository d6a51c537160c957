"""e-prop+ neurons in the Loihi fixed-point profile (kind ``eprop_plus``, the reset in the spike step): the
integer step computed by hand, the compiled kernel equal to the numpy reference (also on random graphs at every
boundary: tests/test_fixed_kernel.py), the range analysis equal to the float e-prop+ simulator, the quantized
example spike for spike with float e-prop+ without recurrence, and the refusals (psc_delta neurons, delays, on-chip
training, SpiNNaker)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from neuroport.quantization.loihi_eprop_plus import plus_run

from neuroport.emulator.fixed import emulate
from neuroport.errors import UnsupportedError
from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.numerics import decay12
from neuroport.pipeline import compare, quantize, task_batch
from neuroport.training.eprop_plus import simulate_plus
from tests.conftest import write_yaml
from tests.test_fixed_kernel import assert_same_run, one_layer

EXAMPLE = "examples/pattern_generation_eprop_plus.yaml"


def plus_doc(doc: dict) -> dict:
    """``doc`` trained with e-prop+ (MSE readout, as NEST's eprop_readout)."""
    doc["learning"] = {"variant": "eprop_plus", "feedback": "random", "optimizer": {"name": "sgd", "learning_rate": 1e-3},
                       "batch_size": 1}
    doc["readout"].update(loss="mse", size=1)
    doc["task"] = {"name": "pattern_generation", "params": {"duration_ms": 80, "n_groups": 2, "rate_hz": 100.0}}
    return doc


def test_step_resets_in_the_spike_step_by_hand():
    """One neuron, dv = 410, input 40 · 2^6 per step, vth = 100, a_inc = 64 (da = 0: a never decays): v is computed here with
    decay12 and the reset right after the spike, so the reset voltage decays with v in the next step; the ALIF
    kind subtracts the threshold one step later, undecayed, and its trace differs."""
    base = one_layer("eprop_plus", [[40]], 0, vth=100)
    graph = replace(base, neurons=replace(base.neurons, dv=np.array([410]), a_inc=np.array([64])))
    x = np.ones((1, 12, 1), dtype=np.int64)
    trace, _ = emulate(graph, x)
    v, a, z, want_v, want_z = 0, 0, 0, [], []
    for _ in range(12):
        v = int(decay12(np.int64(v), 410)) + (40 << 6)
        a = a + z * 64
        z = int(v >= (100 << 6) + a)
        v -= z * (100 << 6)
        want_v.append(v)
        want_z.append(z)
    np.testing.assert_array_equal(trace.states["v"][0, :, 0], want_v)
    np.testing.assert_array_equal(trace.spikes[0, :, 0], want_z)
    assert sum(want_z) >= 2
    alif = emulate(replace(graph, neurons=replace(graph.neurons, kind="alif")), x)[0]
    assert not np.array_equal(alif.states["v"], trace.states["v"])
    assert_same_run(graph, x)


def test_quantized_example_is_eprop_plus_and_kernel_equals_reference():
    graph = load_model(EXAMPLE)
    fixed = quantize(graph, load_hw("loihi2"))
    assert fixed.neurons.kind == "eprop_plus"
    assert_same_run(fixed, task_batch(graph, 2, seed=3).inputs[:, :300])


def test_range_analysis_runs_the_float_eprop_plus_dynamics(tiny_doc, tmp_path):
    """plus_run's spikes equal simulate_plus's (the trainer's kernel) exactly, ALIF neurons and refractoriness
    included."""
    graph = load_model(write_yaml(tmp_path, plus_doc(tiny_doc)))
    x = task_batch(graph, 3, seed=5).inputs
    spikes, peak = plus_run(graph, x)
    assert spikes.sum() > 0 and peak > 0
    np.testing.assert_array_equal(spikes, simulate_plus(graph, x).z)


def test_eprop_plus_kind_matches_float_eprop_plus_spike_for_spike(tiny_doc, tmp_path):
    """verify's comparison, float e-prop+ vs the fixed point, on a network without recurrence (no chaotic
    divergence): the eprop_plus kind fires every spike of the float e-prop+ neurons (LIF and ALIF, ~100 Hz); the
    same integers run as the ALIF kind (the reset a step late, undecayed) do not."""
    doc = plus_doc(tiny_doc)
    doc["projections"] = [p for p in doc["projections"] if p["name"] != "rec"]
    graph = load_model(write_yaml(tmp_path, doc))
    fixed = quantize(graph, load_hw("loihi2"))
    batch = task_batch(graph, 4, seed=11)
    plus = compare(graph, fixed, batch)
    alif = compare(graph, replace(fixed, neurons=replace(fixed.neurons, kind="alif")), batch)
    assert plus.float_rate_hz > 50 and plus.spike_agreement == 1.0 > alif.spike_agreement


def test_psc_delta_neurons_are_refused(tiny_doc, tmp_path):
    doc = plus_doc(tiny_doc)
    doc["populations"][1] = {"name": "alif", "model": "alif_psc_delta", "size": 4, "tau_m_ms": 20.0, "v_th": 0.6,
                             "t_ref_ms": 2.0, "tau_a_ms": 200.0, "beta": 0.2}
    with pytest.raises(UnsupportedError) as info:
        quantize(load_model(write_yaml(tmp_path, doc)), load_hw("loihi2"))
    assert info.value.path == "populations[1].model"
    assert "'alif_psc_delta' (population 'alif')" in info.value.message and "reset to v_reset" in info.value.message


def test_delays_are_refused(tiny_doc, tmp_path):
    doc = plus_doc(tiny_doc)
    doc["projections"][1]["delay_steps"] = 3
    with pytest.raises(UnsupportedError) as info:
        quantize(load_model(write_yaml(tmp_path, doc)), load_hw("loihi2"))
    assert info.value.path == "projections[1].delay_steps"
    assert info.value.message.startswith("projection 'rec': e-prop+ networks have one-step synapses")


def test_on_chip_eprop_plus_training_is_refused():
    from neuroport.training.onchip import train_onchip

    with pytest.raises(UnsupportedError, match="on-chip training does not support learning.variant 'eprop_plus': the "
                                               "on-chip e-prop engine runs bsshslm_2020's update-interval rule"):
        train_onchip(load_model(EXAMPLE), 1, chips=1)


@pytest.mark.parametrize("case, expected", [
    ("psc_delta", "populations[0].model: loihi2 has no fixed-point model of 'lif_psc_delta' (population 'lif')"),
    ("on_chip", "on-chip training does not support learning.variant 'eprop_plus'"),
    ("spinnaker", "learning.variant: spinnaker1 does not support learning.variant 'eprop_plus'"),
])
def test_cli_refusals_are_one_line_exit_2(case, expected, tiny_doc, tmp_path, capsys):
    from neuroport.cli import main

    doc = plus_doc(tiny_doc)
    doc["populations"][0]["model"] = "lif_psc_delta"
    args = {"psc_delta": ["verify", str(write_yaml(tmp_path, doc)), "--target", "loihi-sim"],
            "on_chip": ["train", EXAMPLE, "--on-chip", "-i", "1", "--chips", "1", "-o", str(tmp_path / "c")],
            "spinnaker": ["compile", EXAMPLE, "--target", "spinnaker", "-o", str(tmp_path / "s")]}[case]
    with pytest.raises(SystemExit) as stop:
        main(args)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    lines = [line for line in err.splitlines() if "error" in line]  # the progress bar may show before
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], err
