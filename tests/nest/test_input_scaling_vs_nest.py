"""NEST's ``regular_spike_arrival: false`` (input factor ζ = 1 − α on the recurrent neurons, 1 − κ on the readout,
``eprop_iaf_bsshslm_2020`` / ``eprop_readout_bsshslm_2020``): numpy e-prop trains exactly as NEST 3.10 does —
per-iteration losses to 1e-9 relative and final weights to 1e-9 of their change — on the readout only, on the
recurrent neurons only and on both, and the factor really changes the numbers (a run with ζ = 1 differs)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from neuroport.backends.nest.engine import nest_train_on_batches

from neuroport.ir.learning_rule import EpropRule, Optimizer
from neuroport.training.eprop import train_on_batches
from tests.nest.test_eprop_vs_nest import BATCH, batches, network

pytestmark = pytest.mark.nest


def scaled(net, *, rec: bool, out: bool):
    """``net`` with NEST's regular_spike_arrival False on the recurrent neurons and/or the readout; the weights
    enlarged so that the scaled network still spikes (ζ ≈ 0.05)."""
    zeta_rec, zeta_out = 1.0 - net.alpha, 1.0 - net.kappa
    return replace(net, w_in=net.w_in * (8.0 if rec else 1.0), w_rec=net.w_rec * (8.0 if rec else 1.0),
                   w_out=net.w_out * (8.0 if out else 1.0),
                   input_scale_rec=zeta_rec if rec else None, input_scale_out=zeta_out if out else None)


CASES = [  # loss, ALIF, optimizer, scaled recurrent neurons, scaled readout
    ("mse", False, "sgd", False, True),
    ("mse", True, "adam", True, True),
    ("cross_entropy", True, "adam", False, True),
    ("cross_entropy", False, "sgd", True, False),
]


@pytest.mark.parametrize("loss,adaptive,optimizer,rec,out", CASES)
def test_regular_spike_arrival_false_trains_as_nest(loss, adaptive, optimizer, rec, out):
    base, feedback = network(loss, adaptive)
    net = scaled(base, rec=rec, out=out)
    rule = EpropRule(feedback="random", feedback_weights=feedback, c_reg=300.0 if adaptive else 0.0, batch_size=BATCH,
                     optimizer=Optimizer(name=optimizer, learning_rate=0.01 if optimizer == "adam" else 0.002))
    data = batches(loss)
    ours, nest = train_on_batches(net, rule, data), nest_train_on_batches(net, rule, data)
    our_losses, nest_losses = (np.array([h.loss for h in r.history]) for r in (ours, nest))
    assert np.ptp(our_losses) > 0.005 * np.abs(our_losses).max(), "the losses must move"
    np.testing.assert_allclose(our_losses, nest_losses, rtol=1e-9)
    for name in ("w_in", "w_rec", "w_out"):
        change = np.abs(ours.weights[name] - getattr(net, name)).max()
        assert change > 1e-4, f"{name} must learn"
        np.testing.assert_allclose(ours.weights[name], nest.weights[name], rtol=0, atol=1e-9 * change)
    assert np.mean([h.rate_hz for h in ours.history]) > 1.0, "the scaled network must spike"
    unscaled = train_on_batches(replace(net, input_scale_rec=None, input_scale_out=None), rule, data)
    assert abs(unscaled.history[0].loss - ours.history[0].loss) > 1e-3 * abs(ours.history[0].loss), \
        "ζ must change the forward pass"


def test_gradient_carries_the_factor():
    """One SGD step: the stored weights move by η ζ_j g̃ — the gradient of the folded weights ζ W times ζ (the
    chain rule), not g̃ itself; checked against the unscaled trainer run on the folded network."""
    base, feedback = network("mse", False)
    net = scaled(base, rec=True, out=True)
    rule = EpropRule(feedback="random", feedback_weights=feedback, batch_size=BATCH,
                     optimizer=Optimizer(name="sgd", learning_rate=0.002))
    data = batches("mse")[:1]
    ours = train_on_batches(net, rule, data)
    folded = net.folded()
    step = train_on_batches(folded, rule, data)
    zeta = {"w_in": net.input_scale_rec, "w_rec": net.input_scale_rec, "w_out": net.input_scale_out}
    for name in ("w_in", "w_rec", "w_out"):
        folded_step = step.weights[name] - getattr(folded, name)  # −η g̃
        np.testing.assert_allclose(ours.weights[name] - getattr(net, name), zeta[name][:, None] * folded_step,
                                   rtol=1e-12, atol=1e-15)
