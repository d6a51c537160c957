"""Exactness as a property: on random small models (tests/random_models.py), loihi-sim — Lava's CPU simulation of
the lowered process graph — equals the emulator in every spike, v, a and readout value at every step (inference),
and in every readout value, spike count and learned weight after streaming several sequences through one chip
(on-chip learning); or the model is refused with a reason, a one-line NeuroportError, by the loader, the quantizer
or the target's design rules.

Fixed seed (``hypothesis.seed``, no example database): every run draws the same examples, and each test asserts that
they hit every class the property is about (``MINIMUM``).  What the current draw holds (``pytest -s`` prints it):

    inference, 50 examples: 9 refused (delays above 64 steps, Izhikevich populations); 41 exact, among them 26
        with thresholds that round to vth 0 (raised to 1 by the quantizer), 14 with saturation or wrap events, 29
        with an empty matrix (absent projection, or a sparse one that drew no synapse), 25 with a sparse matrix, 26
        with delays, 33 with a single-sign matrix, 19 with ALIF neurons
    on-chip learning, 25 examples: 25 exact, 18 of them spiking and 15 whose weights learned, 15 whose inference
        quantization has a single-sign matrix with odd mantissas, 8 with an empty learning matrix, 4 with
        LearningSparse, 19 with ALIF neurons

Lava runs cost well under a second each once Lava is imported: both tests take about 30 s of CPU (2–3 min of
wall-clock time on a busy 2-core machine).

Before the fixes these examples found the three classes of issue 24: thresholds that round to 0 (Lava's idle
first step fires them), single-sign learning matrices (LearningDense's mixed sign mode drops the LSB of the
initial weights) and empty learning matrices (LearningSparse dies); test_exactness_regressions.py pins each.
"""

from __future__ import annotations

import tempfile
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings

from neuroport.errors import NeuroportError
from neuroport.hw import load_hw
from neuroport.ir import load_model
from tests.random_models import Case, cases

pytestmark = pytest.mark.lava
HW = load_hw("loihi2")
INFERENCE_EXAMPLES, LEARNING_EXAMPLES = 50, 25
SEED = 24  # hypothesis.seed: the same draw on every run, whatever the test's source
MINIMUM = {  # examples of each class a draw must hold (about half of what the current draw holds)
    "inference": {"refused": 3, "exact": 30, "threshold rounds to 0": 10, "saturation or wrap": 5, "empty matrix": 10,
                  "sparse matrix": 8, "delays": 10, "single-sign matrix": 15, "alif": 8},
    "learning": {"exact": 20, "spiking": 10, "learned": 8, "odd single-sign mantissas": 8, "empty matrix": 4,
                 "sparse matrix": 2, "alif": 8},
}


def property_settings(examples: int) -> settings:
    return settings(max_examples=examples, database=None, deadline=None, print_blob=True,
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


def refusal(err: NeuroportError) -> set[str]:
    """A refusal must be one non-empty line."""
    assert str(err) and "\n" not in str(err), repr(err)
    return {"refused"}


def structure_classes(fixed) -> set[str]:
    """The matrix and neuron classes of a compiled model."""
    from neuroport.backends.loihi.graph import lava_process
    from neuroport.quantization.loihi import sign_mode

    found = {"alif"} if np.any(fixed.neurons.a_inc > 0) else set()
    for d in fixed.dense().values():
        if d.n_synapses == 0:
            found.add("empty matrix")
            continue
        found |= {"sparse matrix"} if not d.mask.all() and (d.delays is not None or lava_process(d).endswith("Sparse")) else set()
        found |= {"delays"} if d.delays is not None else set()
        found |= {"single-sign matrix"} if sign_mode(d.weights[d.mask]) != "mixed" else set()
    return found


def zero_thresholds(graph, fixed) -> int:
    """Neurons whose float threshold rounds to a vth of 0 at the graph's v_scale (the quantizer raises them)."""
    from neuroport.ir.network import assemble
    from neuroport.numerics import round_half_away

    return int(np.count_nonzero(round_half_away(assemble(graph).v_th * fixed.v_scale / 64) < 1))


def inference_case(case: Case) -> set[str]:
    """Run one case on loihi-sim and in the emulator; assert equality; return the classes it belongs to."""
    from neuroport.backends.loihi.runner import run_batch

    from neuroport.emulator.fixed import emulate

    with tempfile.TemporaryDirectory() as folder:
        try:
            graph, fixed = compile_for_loihi_sim(case, folder)
        except NeuroportError as err:
            return refusal(err)
    lava = run_batch(fixed, case.inputs)
    emu, stats = emulate(fixed, case.inputs)
    np.testing.assert_array_equal(lava.spikes, emu.spikes, err_msg="spikes")
    for state in lava.states:  # v, a; v, u for Izhikevich neurons
        np.testing.assert_array_equal(lava.states[state], emu.states[state], err_msg=state)
    np.testing.assert_array_equal(lava.readout, emu.readout, err_msg="readout")
    found = {"exact"} | structure_classes(fixed)
    found |= {"izhikevich"} if fixed.neurons.kind == "izhikevich" else (
        {"threshold rounds to 0"} if zero_thresholds(graph, fixed) else set())
    found |= {"saturation or wrap"} if sum(stats.overflow.values()) else set()
    return found


def emulator_learns(chip, batch):
    """The emulator streams ``batch`` through one chip: learned weights, readout, spike count per sequence."""
    from neuroport.emulator.onchip import OnChipTrainer
    from neuroport.tasks import Batch

    trainer = OnChipTrainer(chip.fixed, chip.rule, 1, chip.tau_m_steps, chip.tau_out_steps)
    runs = [trainer.run(Batch(batch.inputs[k:k + 1], batch.targets[k:k + 1], batch.loss_mask[k:k + 1]))
            for k in range(batch.size)]
    weights = {name: trainer.weights(name)[0] for name in ("w_in", "w_rec", "w_out")}
    return weights, np.stack([r.readout[0] for r in runs]), [r.spikes for r in runs]


def odd_single_sign(graph) -> set[str]:
    """Whether inference quantization would give this model a single-sign matrix with odd mantissas (which
    LearningDense's mixed sign mode would truncate: the quantizer rounds learning matrices to even ones)."""
    from neuroport.quantization.loihi import sign_mode

    from neuroport.pipeline import quantize

    for d in quantize(graph, HW, allow_lossy=True).dense().values():
        if d.n_synapses and sign_mode(d.weights) != "mixed" and np.any(d.weights % 2):
            return {"odd single-sign mantissas"}
    return set()


def learning_case(case: Case) -> set[str]:
    """Train one case on-chip on loihi-sim and in the emulator; assert equality; return its classes."""
    from neuroport.backends.loihi.onchip import train_on_loihi_sim

    from neuroport.training.onchip import onchip_setup

    with tempfile.TemporaryDirectory() as folder:
        try:
            graph = load_model(case.write(folder))
            # exactness is the chip's arithmetic, lossy quantization or not (the lossy gate: test_faults_quantization)
            chip = onchip_setup(graph, rates=case.rates, allow_lossy=True)
        except NeuroportError as err:
            return refusal(err)
    batch = case.batch()
    lava = train_on_loihi_sim(chip.fixed, chip.rule, batch, chip.tau_m_steps, chip.tau_out_steps)
    weights, readout, spikes = emulator_learns(chip, batch)
    np.testing.assert_array_equal(lava.readout, readout, err_msg="readout")
    for name, w in weights.items():
        np.testing.assert_array_equal(lava.weights[name], w, err_msg=name)
    assert lava.spikes.reshape(batch.size, -1).sum(axis=1).tolist() == spikes
    found = {"exact"} | structure_classes(chip.fixed) | odd_single_sign(graph)
    found |= {"spiking"} if sum(spikes) else set()
    found |= {"learned"} if any(np.any(w != chip.fixed.dense()[k].weights) for k, w in weights.items()) else set()
    return found


def assert_classes_hit(seen: Counter, kind: str) -> None:
    print(f"\n{kind}: {dict(seen)}")
    short = {name: (seen[name], least) for name, least in MINIMUM[kind].items() if seen[name] < least}
    assert not short, f"the draw no longer covers these classes (found, needed): {short}"


def test_loihi_sim_equals_the_emulator_on_random_models():
    seen: Counter = Counter()

    @seed(SEED)
    @property_settings(INFERENCE_EXAMPLES)
    @given(case=cases(learning=False))
    def check(case: Case) -> None:
        seen.update(inference_case(case))

    check()
    assert sum(seen[k] for k in ("exact", "refused")) == INFERENCE_EXAMPLES
    assert_classes_hit(seen, "inference")


def test_loihi_sim_learns_the_emulators_weights_on_random_models():
    seen: Counter = Counter()

    @seed(SEED)
    @property_settings(LEARNING_EXAMPLES)
    @given(case=cases(learning=True))
    def check(case: Case) -> None:
        seen.update(learning_case(case))

    check()
    assert sum(seen[k] for k in ("exact", "refused")) == LEARNING_EXAMPLES
    assert_classes_hit(seen, "learning")
