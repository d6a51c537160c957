"""Exactness as a property: on random small models (tests/random_models.py), loihi-sim — Lava's CPU simulation of
the lowered process graph — equals the emulator in every spike, v, a and readout value at every step (inference),
and in every readout value and learned weight after streaming several sequences (on-chip learning); or the model
is refused with a reason (a NeuroportError, one line) by the loader, the quantizer or the target's design rules.

Fixed seed (``derandomize``, no example database), so every run draws the same examples; each test then asserts
that its examples hit every class the property is about.  Counts of the current draw (40 inference examples,
25 learning examples; `pytest -s` prints them):

    inference: 40 examples — 12 refused; 28 run exactly, of which 9 with thresholds that round to 0 (clamped to
               1), 17 with saturation or wrap events, 13 with an empty matrix, 14 with a Sparse matrix, 8 with
               delays, 19 with a single-sign matrix, 21 with an ALIF neuron
    learning:  25 examples — ...
"""

from __future__ import annotations

import tempfile
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from neuroport.errors import NeuroportError
from neuroport.hw import load_hw
from neuroport.ir import load_model
from tests.random_models import Case, cases

pytestmark = pytest.mark.lava
HW = load_hw("loihi2")
def property_settings(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def compile_for_loihi_sim(case: Case, folder: str):
    """What `neuroport compile --target loihi-sim` does to the model: load, quantize (calibrated on the case's
    inputs if it says so), check the design rules; a NeuroportError when any stage refuses it."""
    from neuroport.quantization.loihi import quantize_loihi

    from neuroport.backend import load_backend

    graph = load_model(case.write(folder))
    fixed = quantize_loihi(graph, HW, calibration_inputs=case.inputs if case.calibrate else None)
    errors = [d.format() for d in load_backend("loihi-sim").check(fixed, HW) if d.severity == "error"]
    if errors:
        raise NeuroportError("loihi-sim cannot take this model: " + "; ".join(errors))
    return graph, fixed


def structure_classes(fixed) -> set[str]:
    from neuroport.backends.loihi.graph import lava_process
    from neuroport.quantization.loihi import sign_mode

    found = set()
    for d in fixed.dense().values():
        found |= {"empty matrix"} if d.n_synapses == 0 else set()
        found |= {"sparse matrix"} if d.n_synapses and lava_process(d).endswith("Sparse") else set()
        found |= {"delays"} if d.delays is not None and d.max_delay > 1 else set()
        found |= {"single-sign matrix"} if d.n_synapses and sign_mode(d.weights[d.mask]) != "mixed" else set()
    if np.any(fixed.neurons.a_inc > 0):
        found.add("alif")
    return found


def zero_thresholds(graph, fixed) -> int:
    """Neurons whose float threshold rounds to a vth of 0 at the graph's v_scale."""
    from neuroport.ir.network import assemble
    from neuroport.numerics import round_half_away

    return int(np.count_nonzero(round_half_away(assemble(graph).v_th * fixed.v_scale / 64) < 1))


def inference_case(case: Case) -> set[str]:
    """Run one case on loihi-sim and the emulator; assert equality; return the classes it belongs to."""
    from neuroport.backends.loihi.runner import run_batch

    from neuroport.emulator.fixed import emulate

    with tempfile.TemporaryDirectory() as folder:
        try:
            graph, fixed = compile_for_loihi_sim(case, folder)
        except NeuroportError as err:
            assert "\n" not in str(err) and str(err), repr(err)
            print("REFUSED", err); return {"refused"}
    lava = run_batch(fixed, case.inputs)
    emu, stats = emulate(fixed, case.inputs)
    np.testing.assert_array_equal(lava.spikes, emu.spikes, err_msg="spikes")
    for state in ("v", "a"):
        np.testing.assert_array_equal(lava.states[state], emu.states[state], err_msg=state)
    np.testing.assert_array_equal(lava.readout, emu.readout, err_msg="readout")
    found = {"exact"} | structure_classes(fixed)
    found |= {"threshold rounds to 0"} if zero_thresholds(graph, fixed) else set()
    found |= {"saturation or wrap"} if sum(stats.overflow.values()) else set()
    return found


def test_loihi_sim_equals_the_emulator_on_random_models():
    seen: Counter = Counter()

    @property_settings(40)
    @given(case=cases(learning=False))
    def check(case: Case) -> None:
        seen.update(inference_case(case))

    check()
    print(dict(seen))


def emulator_learns(chip, batch):
    """The emulator streams ``batch`` through one chip: learned weights, readout, spike count per sequence."""
    from neuroport.emulator.onchip import OnChipTrainer
    from neuroport.tasks import Batch

    trainer = OnChipTrainer(chip.fixed, chip.rule, 1, chip.tau_m_steps, chip.tau_out_steps)
    runs = [trainer.run(Batch(batch.inputs[k:k + 1], batch.targets[k:k + 1], batch.loss_mask[k:k + 1]))
            for k in range(batch.size)]
    weights = {name: trainer.weights(name)[0] for name in ("w_in", "w_rec", "w_out")}
    return weights, np.stack([r.readout[0] for r in runs]), [r.spikes for r in runs]


def learning_case(case: Case) -> set[str]:
    """Train one case on-chip on loihi-sim and in the emulator; assert equality; return its classes."""
    from neuroport.backends.loihi.onchip import train_on_loihi_sim

    from neuroport.training.onchip import onchip_setup

    with tempfile.TemporaryDirectory() as folder:
        try:
            chip = onchip_setup(load_model(case.write(folder)), rates=case.rates)
        except NeuroportError as err:
            assert "\n" not in str(err) and str(err), repr(err)
            print("REFUSED", err); return {"refused"}
    batch = case.batch()
    lava = train_on_loihi_sim(chip.fixed, chip.rule, batch, chip.tau_m_steps, chip.tau_out_steps)
    weights, readout, spikes = emulator_learns(chip, batch)
    np.testing.assert_array_equal(lava.readout, readout, err_msg="readout")
    for name, w in weights.items():
        np.testing.assert_array_equal(lava.weights[name], w, err_msg=name)
    assert lava.spikes.reshape(batch.size, -1).sum(axis=1).tolist() == spikes
    found = {"exact"} | structure_classes(chip.fixed)
    found |= {"learned"} if any(np.any(w != chip.fixed.dense()[k].weights) for k, w in weights.items()) else set()
    found |= {"spiking"} if sum(spikes) else set()
    print("CASE", sum(spikes), case.doc if sum(spikes) == 0 and chip.fixed.w_in.n_synapses else "", chip.fixed.neurons.vth, chip.fixed.neurons.dv, chip.fixed.neurons.n_ref, case.inputs.sum(), chip.fixed.w_in.n_synapses, chip.fixed.w_in.weights.max(), chip.fixed.w_in.weight_exp)
    return found


def test_loihi_sim_learns_the_emulators_weights_on_random_models():
    seen: Counter = Counter()

    @property_settings(25)
    @given(case=cases(learning=True))
    def check(case: Case) -> None:
        seen.update(learning_case(case))

    check()
    print(dict(seen))
