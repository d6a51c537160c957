"""The three classes of models on which loihi-sim and the emulator disagreed (issue 24), each pinned by exact values:

1. thresholds that round to vth 0 — a neuron with vth 0 fires at rest, in Lava's idle first step too; the
   quantizer raises them to 1 and reports how many, the design rules refuse a vth below 1;
2. single-sign learning matrices with odd mantissas — Lava's learning synapses run in mixed sign mode, which drops
   the LSB of the initial weights; the emulator's learning engine does the same, and the on-chip quantizer rounds
   learning matrices to even mantissas so that nothing is dropped;
3. learning matrices without any synapse — Lava's LearningSparse dies on them; they are lowered as a plain Dense
   of zeros, and a Lava process that dies surfaces as one LavaRunError line with its own error.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import replace

import numpy as np
import pytest

from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.training.eprop import draw_batches
from neuroport.training.onchip import onchip_setup
from tests.conftest import write_yaml

pytestmark = pytest.mark.lava
HW = load_hw("loihi2")


def silent_and_driven(tmp_path):
    """Two LIF neurons: 'quiet' (threshold 1e-6) receives no input, 'driven' (threshold 1.0) 0.4 per input spike."""
    lif = {"model": "lif", "size": 1, "tau_m_ms": 20.0}
    doc = {"neuroport": 1, "name": "thresholds", "dt_ms": 1.0, "input": {"name": "in", "size": 1},
           "populations": [{"name": "quiet", "v_th": 1e-6, **lif}, {"name": "driven", "v_th": 1.0, **lif}],
           "readout": {"name": "out", "size": 1, "tau_out_ms": 20.0},
           "projections": [{"name": "input", "source": "in", "target": "driven", "init": {"distribution": "constant", "value": 0.4}},
                           {"name": "out", "source": ["quiet", "driven"], "target": "out",
                            "init": {"distribution": "constant", "value": 0.5}}]}
    return load_model(write_yaml(tmp_path, doc))


def test_a_threshold_that_rounds_to_zero_is_raised_to_one_and_lava_equals_the_emulator(tmp_path):
    from neuroport.quantization.loihi import quantize_loihi
    from neuroport.quantization.report import quant_report

    from neuroport.backend import load_backend
    from neuroport.emulator.fixed import emulate

    graph = silent_and_driven(tmp_path)
    fixed = quantize_loihi(graph, HW)
    assert fixed.v_scale == 2.0**19 and fixed.neurons.vth.tolist() == [1, 8192]  # round(1e-6 · 2^19 / 64) = 0 → 1
    row = next(r for r in quant_report(graph, fixed) if r.tensor == "v_th")
    assert "1 raised to vth 1" in row.detail
    x = np.zeros((1, 12, 1), np.uint8)
    x[0, [0, 1, 2, 5]] = 1
    emu, _ = emulate(fixed, x)
    assert emu.spikes[0, :, 0].sum() == 0  # at rest, as a float threshold of 1e-6 with no input is
    assert emu.spikes[0, :, 1].tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # 0.4 + 0.38 + 0.36 ≥ 1
    result = load_backend("loihi-sim").verify_against_emulator(fixed, x, max_samples=1)
    assert result["bit_exact"], result


def test_the_design_rules_refuse_a_threshold_below_one(tmp_path):
    from neuroport.quantization.loihi import quantize_loihi

    from neuroport.backend import load_backend

    fixed = quantize_loihi(silent_and_driven(tmp_path), HW)
    zero = replace(fixed, neurons=replace(fixed.neurons, vth=np.array([0, 8192])))
    errors = [d.format() for d in load_backend("loihi-sim").check(zero, HW) if d.severity == "error"]
    assert errors == ["error: neurons: vth 0: a threshold below 1 fires at rest in every step, the idle first step of "
                      "the chip's pipeline included (the quantizer raises it to 1)"]


def test_the_learning_engine_truncates_initial_weights_as_lavas_mixed_sign_mode():
    """Lava's own truncate_weights (lava.utils.weightutils, SignMode.MIXED) is the reference."""
    from neuroport.backends.loihi.compat import ensure_lava_importable

    from neuroport.emulator.loihi_learning import LearningEngine, LearningRule

    ensure_lava_importable()
    from lava.utils.weightutils import SignMode, truncate_weights

    weights = np.array([[3, 5, 255, 1], [-3, -1, -255, 0]])
    engine = LearningEngine(LearningRule(), weights, batch=1)
    assert engine.state.w[0].tolist() == [[2, 4, 254, 0], [-4, -2, -256, 0]]
    np.testing.assert_array_equal(engine.state.w[0], truncate_weights(weights, SignMode.MIXED, 8))
    seven = LearningEngine(LearningRule(), weights, batch=1, num_weight_bits=7)
    np.testing.assert_array_equal(seven.state.w[0], truncate_weights(weights, SignMode.MIXED, 7))


def excitatory_readout(tmp_path, tiny_doc):
    tiny_doc["projections"][2]["init"] = {"distribution": "uniform", "low": 0.0, "high": 1.0}
    return load_model(write_yaml(tmp_path, tiny_doc))


def test_single_sign_learning_matrices_are_quantized_even(tmp_path, tiny_doc):
    from neuroport.pipeline import quantize

    graph = excitatory_readout(tmp_path, tiny_doc)
    inference = quantize(graph, HW).w_out.weights
    learning = onchip_setup(graph).fixed.w_out.weights
    assert inference.min() >= 0 and np.count_nonzero(inference % 2) >= 5  # odd mantissas for inference
    assert learning.min() >= 0 and not np.any(learning % 2)  # even ones for the mixed-sign learning engine
    assert np.abs(learning - inference).max() <= 2


def test_lava_learns_the_emulators_weights_from_odd_single_sign_weights(tmp_path, tiny_doc):
    """Odd excitatory readout weights handed to both: Lava's LearningDense drops their LSB at its first step, and
    so does the emulator — readout and learned weights equal after two sequences."""
    from neuroport.backends.loihi.onchip import train_on_loihi_sim

    from tests.lava.test_onchip_lava import emulator_run

    chip = onchip_setup(excitatory_readout(tmp_path, tiny_doc), rates={"w_exponent": -5, "out_exponent": -5})
    odd = chip.fixed.w_out.weights | 1
    fixed = replace(chip.fixed, w_out=replace(chip.fixed.w_out, weights=odd))
    batch = draw_batches(load_model(tmp_path / "model.yaml"), 1, batch_size=2, seed=11)[0]
    lava = train_on_loihi_sim(fixed, chip.rule, batch, chip.tau_m_steps, chip.tau_out_steps)
    weights, readout = emulator_run(fixed, chip.rule, batch, chip.tau_m_steps, chip.tau_out_steps)
    np.testing.assert_array_equal(lava.readout, readout)
    for name, w in weights.items():
        np.testing.assert_array_equal(lava.weights[name], w, err_msg=name)
    assert np.count_nonzero(weights["w_out"] != odd - 1) >= 3  # learned from the truncated weights


def test_empty_learning_matrices_run_without_a_learning_process(tmp_path, tiny_doc):
    """No recurrent projection and a readout projection that drew no synapse: both stay zero Dense processes,
    the input weights learn in Lava exactly as in the emulator."""
    from neuroport.backends.loihi.onchip import LavaOnChipNetwork
    from neuroport.backends.loihi.runner import _import_lava

    from tests.lava.test_onchip_lava import emulator_run

    _import_lava()
    from lava.proc.dense.process import Dense, LearningDense

    del tiny_doc["projections"][1]
    tiny_doc["projections"][1]["connection_probability"] = 1e-9
    graph = load_model(write_yaml(tmp_path, tiny_doc))
    chip = onchip_setup(graph, rates={"w_exponent": -5, "out_exponent": -5})
    assert chip.fixed.w_rec.n_synapses == 0 and chip.fixed.w_out.n_synapses == 0
    batch = draw_batches(graph, 1, batch_size=2, seed=11)[0]
    network = LavaOnChipNetwork(chip.fixed, chip.rule, batch, chip.tau_m_steps, chip.tau_out_steps)
    kinds = {name: type(syn) for name, syn in network.synapses.items()}
    assert kinds == {"w_in": LearningDense, "w_rec": Dense, "w_out": Dense}
    lava = network.train(batch.size)
    weights, readout = emulator_run(chip.fixed, chip.rule, batch, chip.tau_m_steps, chip.tau_out_steps)
    assert not readout.any() and not lava.readout.any()  # nothing reaches the readout
    for name, w in weights.items():
        np.testing.assert_array_equal(lava.weights[name], w, err_msg=name)
    assert not weights["w_rec"].any() and not weights["w_out"].any()
    assert lava.spikes.sum() > 10
    assert multiprocessing.active_children() == []


def test_a_lava_process_that_dies_is_one_line_with_its_own_error():
    """Lava's LearningSparse with an empty structure (what the lowering no longer builds) dies in its first step:
    the caller gets LavaRunError naming the child's AttributeError, not "1 Exception(s) occurred"."""
    from neuroport.backends.loihi.runner import LavaRunError, _import_lava, lava_session, run_steps

    _import_lava()
    from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer
    from lava.proc.sparse.process import LearningSparse
    from scipy.sparse import csr_matrix

    source = RingBuffer(data=np.ones((2, 3), np.int32))
    rule = Loihi3FLearningRule(dw="-u0*x1*y1*2^-4", x1_impulse=16, x1_tau=10, t_epoch=1)
    empty = csr_matrix((2, 2), dtype=np.int32)
    synapses = LearningSparse(weights=empty, tag_1=empty, tag_2=empty, learning_rule=rule, num_message_bits=0)
    source.s_out.connect(synapses.s_in)
    with pytest.raises(LavaRunError) as caught:
        with lava_session(source, Loihi2SimCfg(select_tag="fixed_pt")):
            run_steps(source, 3)
    message = str(caught.value)
    assert message.startswith("the Lava simulation failed: AttributeError: 'csr_matrix' object has no attribute 'A1'")
    assert "Exception(s) occurred" not in message and "\n" not in message
    assert multiprocessing.active_children() == []
