"""On-chip e-prop on loihi-sim: Lava's learning engine (LearningDense / LearningSparse with Loihi3FLearningRule),
driven by neuroport's learning ALIF and error readout, ends with exactly the weights of the emulator's
OnChipTrainer after several sequences — and every readout value on the way is equal too.

Lava is the independent reference for the learning arithmetic; the emulator streams the same sequences through
one chip."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace

import numpy as np
import pytest

from neuroport.emulator.onchip import OnChipTrainer
from neuroport.errors import UnsupportedError
from neuroport.ir import load_model
from neuroport.tasks import Batch
from neuroport.training.eprop import draw_batches
from neuroport.training.onchip import onchip_setup

pytestmark = pytest.mark.lava
SEQUENCES = 3


def setup(model, **rates):
    graph = load_model(model)
    chip = onchip_setup(graph, rates={"w_exponent": -5, "out_exponent": -5, **rates})
    batch = draw_batches(graph, 1, batch_size=SEQUENCES, seed=11)[0]
    return chip.fixed, chip.rule, batch, chip.tau_m_steps, chip.tau_out_steps


def emulator_run(fixed, rule, batch, tau_m, tau_out):
    trainer = OnChipTrainer(fixed, rule, 1, tau_m, tau_out)
    readout = [trainer.run(Batch(batch.inputs[k:k + 1], batch.targets[k:k + 1], batch.loss_mask[k:k + 1])).readout[0]
               for k in range(batch.size)]
    return {name: trainer.weights(name)[0] for name in ("w_in", "w_rec", "w_out")}, np.stack(readout)


def assert_lava_equals_emulator(fixed, rule, batch, tau_m, tau_out):
    """Lava and the emulator stream ``batch``: equal readout at every step, equal learned weights, all moved."""
    from neuroport.backends.loihi.onchip import train_on_loihi_sim

    lava = train_on_loihi_sim(fixed, rule, batch, tau_m, tau_out)
    weights, readout = emulator_run(fixed, rule, batch, tau_m, tau_out)
    np.testing.assert_array_equal(lava.readout, readout)
    for name, w in weights.items():
        np.testing.assert_array_equal(lava.weights[name], w, err_msg=name)
        assert np.count_nonzero(w != fixed.dense()[name].weights) >= 5, f"{name} must have learned"
    return lava


@pytest.mark.parametrize("autapses", [False, True], ids=["sparse-no-autapses", "dense"])
def test_lava_learns_exactly_the_emulators_weights(tiny_doc, tmp_path, autapses):
    from neuroport.quantization.loihi import lava_dense_weights

    from tests.conftest import write_yaml

    tiny_doc["projections"][1]["zero_diagonal"] = not autapses
    fixed, rule, batch, tau_m, tau_out = setup(write_yaml(tmp_path, tiny_doc))
    w_rec = fixed.w_rec.weights.copy()
    w_rec[0, 1], w_rec[1, 0] = 0, 1  # present synapses of weight 0 (Lava's sparse structure drops them) still learn
    fixed = replace(fixed, w_rec=replace(fixed.w_rec, weights=lava_dense_weights(w_rec)))
    lava = assert_lava_equals_emulator(fixed, rule, batch, tau_m, tau_out)
    assert np.all(lava.weights["w_rec"][~fixed.w_rec.mask] == 0)
    assert lava.spikes.sum() > 20
    assert multiprocessing.active_children() == []


OPTIONS = {"hidden_impulse": 48, "l_shift": 4, "error": "softmax", "decimate": 1, "tag_exponent": -4, "tag_decay": (-3, -2),
           "out_impulse": 8, "out_err_shift": 1, "out_decimate": 1, "reg_target": 328, "reg_shift": 4, "reg_window": True,
           "alif_impulse": 2, "alif_tau": 2000, "alif_scale": (-1, -6)}


def test_lava_learns_exactly_with_every_rule_option(tiny_model):
    """Decimation, the ALIF eligibility term (x2, y3 = ψ on ALIF neurons), the hard-softmax error and windowed rate
    regularization — the options of the best evidence-accumulation rule — in Lava as in the emulator."""

    assert_lava_equals_emulator(*setup(tiny_model, **OPTIONS))


def test_odd_feedback_is_refused(tiny_model):
    from neuroport.backends.loihi.onchip import train_on_loihi_sim

    fixed, rule, batch, tau_m, tau_out = setup(tiny_model)
    odd = replace(rule, feedback=rule.feedback | 1)
    with pytest.raises(UnsupportedError, match="even"):
        train_on_loihi_sim(fixed, odd, batch, tau_m, tau_out)


L1, L2 = slice(0, 6), slice(6, 11)  # tests/conftest.py TWO_LAYER: the layers' neurons in the assembled network


@pytest.mark.parametrize("options", [{}, {**OPTIONS, "error": "mse"}], ids=["plain", "every-option-alif-l2"])
def test_lava_learns_exactly_the_emulators_weights_on_two_layers(two_layer_doc, tmp_path, options):
    """The two-layer network (clock → l1 ↔ l1 → l2 ↔ l2 → readout): every matrix has absent synapses, so all three
    are LearningSparse (input → l2, l2 → l1 and l1 → readout absent).  Lava and the emulator agree at every readout
    step and on every learned weight; every block learns — l1 from its own rows of the random feedback — and the
    absent synapses stay 0.  ``every-option-alif-l2``: layer 2 adaptive, with the rule options of
    test_lava_learns_exactly_with_every_rule_option (MSE error: one readout)."""
    from neuroport.backends.loihi.onchip import train_on_loihi_sim

    from tests.conftest import write_yaml

    if options:
        two_layer_doc["populations"][1].update(model="alif", tau_a_ms=200.0, beta=0.2)
    fixed, rule, batch, tau_m, tau_out = setup(write_yaml(tmp_path, two_layer_doc), **options)
    start = fixed.dense()
    assert not any(d.mask.all() for d in start.values())
    assert (options != {}) == bool(np.any(fixed.neurons.a_inc[L2] > 0)) and not np.any(fixed.neurons.a_inc[L1] > 0)
    lava = train_on_loihi_sim(fixed, rule, batch, tau_m, tau_out)
    weights, readout = emulator_run(fixed, rule, batch, tau_m, tau_out)
    assert lava.spikes[..., L1].sum() > 20 and lava.spikes[..., L2].sum() > 20
    np.testing.assert_array_equal(lava.readout, readout)
    for name, w in weights.items():
        np.testing.assert_array_equal(lava.weights[name], w, err_msg=name)
        assert np.all(w[~start[name].mask] == 0), name
        assert np.count_nonzero(w != start[name].weights) >= 3, f"{name} must have learned"
    for block in ((L1, L1), (L2, L1), (L2, L2)):
        assert np.count_nonzero(weights["w_rec"][block] != start["w_rec"].weights[block]) >= 2, block
    assert multiprocessing.active_children() == []
