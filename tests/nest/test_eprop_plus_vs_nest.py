"""numpy e-prop+ (variant eprop_plus) equals NEST 3.10's e-prop+ models (``eprop_iaf``, ``eprop_iaf_adapt``,
``eprop_readout``, ``eprop_synapse``) run on identical weights, inputs and parameters: per-iteration losses, firing
rates and final weights after 5 iterations of 2 sequences of 50 steps (one continuous stream), for LIF and
LIF+ALIF networks with refractoriness, gradient descent and Adam, per-spike and per-step optimization, with and
without a trace cutoff, the four surrogate shapes, with rate regularization.  Measured agreement: the error
streams are equal to the last bit or ~1e-15, weights to ~1e-12 relative (NEST decays a synapse's traces across a
cutoff gap with one pow(), the numpy kernel step by step); the tests assert 1e-9.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from neuroport.backends.nest.engine_plus import nest_plus_train_on_batches, plus_refusals

from neuroport.ir.learning_rule import EpropPlus, EpropRule, Optimizer
from neuroport.training.eprop_plus import train_plus_on_batches
from tests.nest.test_eprop_vs_nest import assert_cli_engines_agree, batches, network

pytestmark = pytest.mark.nest

CASES = [  # ALIF, optimizer, optimize_each_step, cutoff (steps, None: none), surrogate
    (False, "sgd", False, 10, "piecewise_linear"),
    (True, "adam", False, 4, "exponential"),
    (True, "adam", True, 10, "fast_sigmoid_derivative"),
    (True, "sgd", False, None, "arctan"),
]


def rule_for(feedback, optimizer: str, each_step: bool, cutoff: int | None) -> EpropRule:
    return EpropRule(variant="eprop_plus", feedback="random", feedback_weights=feedback, c_reg=0.3, batch_size=2,
                     optimizer=Optimizer(name=optimizer, learning_rate=0.002 if optimizer == "sgd" else 0.01),
                     plus=EpropPlus(kappa=0.97, kappa_reg=0.95, isi_trace_cutoff_steps=cutoff,
                                    optimize_each_step=each_step))


@pytest.mark.parametrize("adaptive,optimizer,each_step,cutoff,surrogate", CASES)
def test_numpy_eprop_plus_equals_nest(adaptive, optimizer, each_step, cutoff, surrogate):
    net, feedback = network("mse", adaptive)
    net = replace(net, surrogate_function=surrogate)
    rule = rule_for(feedback, optimizer, each_step, cutoff)
    data = batches("mse", silent_steps=0)
    ours, nest = train_plus_on_batches(net, rule, data), nest_plus_train_on_batches(net, rule, data)
    our_losses, nest_losses = (np.array([h.loss for h in r.history]) for r in (ours, nest))
    assert np.ptp(our_losses) > 0.05 * our_losses.max(), "the losses must move"
    np.testing.assert_allclose(our_losses, nest_losses, rtol=1e-9)
    np.testing.assert_allclose([h.rate_hz for h in ours.history], [h.rate_hz for h in nest.history], rtol=1e-12)
    for name in ("w_in", "w_rec", "w_out"):
        change = np.abs(ours.weights[name] - getattr(net, name)).max()
        assert change > 1e-2, f"{name} must learn"
        np.testing.assert_allclose(ours.weights[name], nest.weights[name], rtol=0, atol=1e-9 * change)


def test_cutoff_and_optimizer_mode_change_the_result():
    """The options the test above matches are not no-ops: each changes the trained weights."""
    net, feedback = network("mse", True)
    data = batches("mse", silent_steps=0)
    base = train_plus_on_batches(net, rule_for(feedback, "adam", False, 4), data).weights["w_in"]
    change = np.abs(base - net.w_in).max()
    for variant in (rule_for(feedback, "adam", False, None), rule_for(feedback, "adam", True, 4)):
        other = train_plus_on_batches(net, variant, data).weights["w_in"]
        assert np.abs(other - base).max() > 1e-3 * change


def test_nest_refusals_name_what_nest_eprop_plus_cannot_express():
    net, feedback = network("cross_entropy", False)
    reasons = plus_refusals(net, EpropRule(variant="eprop_plus", feedback="symmetric"))
    assert any("computes the mean-squared error only" in r for r in reasons)
    assert any("fixed weights" in r for r in reasons)


def test_train_cli_engines_agree_on_eprop_plus(tmp_path):
    """`neuroport train --engine nest` and `--engine numpy` on an e-prop+ model file: same curve and weights."""
    text = open("examples/pattern_generation_eprop_plus.yaml").read()
    text = text.replace("size: 100\n", "size: 10\n").replace("duration_ms: 1000", "duration_ms: 100")
    text = text.replace("learning_rate: 9.0e-7", "learning_rate: 1.0e-4")
    model = tmp_path / "tiny_plus.yaml"
    model.write_text(text)
    assert_cli_engines_agree(model, tmp_path)
