"""NEST 3.10's ``eprop_iaf_psc_delta`` and ``eprop_iaf_psc_delta_adapt`` (reset to V_reset, clamped and deaf while
refractory; e-prop+): numpy e-prop+ equals NEST run on identical weights, inputs and parameters — per-iteration
losses to 1e-9 relative, firing rates, final weights to 1e-9 of their change — with refractoriness (t_ref 3 ms) and
without (NEST's testsuite uses t_ref 0), mixed with eprop_iaf neurons, gradient descent and Adam."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from neuroport.backends.nest.engine_plus import nest_plus_train_on_batches

from neuroport.ir.learning_rule import EpropPlus, EpropRule, Optimizer
from neuroport.training.eprop_plus import train_plus_on_batches
from tests.nest.test_eprop_vs_nest import N, batches, network

pytestmark = pytest.mark.nest

CASES = [  # ALIF, optimizer, optimize_each_step, t_ref (ms), psc_delta neurons (the rest eprop_iaf)
    (False, "sgd", False, 3.0, N),
    (True, "adam", True, 3.0, N),
    (True, "sgd", True, 0.0, N),
    (True, "adam", False, 2.0, N // 2),
]


def psc_delta_network(adaptive: bool, t_ref_ms: float, n_psc: int):
    net, feedback = network("mse", adaptive)
    v_reset = np.where(np.arange(N) < n_psc, -0.3, np.nan)  # NaN: eprop_iaf(_adapt), reset by subtraction
    return replace(net, v_reset=v_reset, t_ref_ms=np.full(N, t_ref_ms), w_in=1.5 * net.w_in), feedback


@pytest.mark.parametrize("adaptive,optimizer,each_step,t_ref_ms,n_psc", CASES)
def test_psc_delta_trains_as_nest(adaptive, optimizer, each_step, t_ref_ms, n_psc):
    net, feedback = psc_delta_network(adaptive, t_ref_ms, n_psc)
    rule = EpropRule(variant="eprop_plus", feedback="random", feedback_weights=feedback, c_reg=0.3, batch_size=2,
                     optimizer=Optimizer(name=optimizer, learning_rate=0.002 if optimizer == "sgd" else 0.01),
                     plus=EpropPlus(kappa=0.97, kappa_reg=0.95, optimize_each_step=each_step))
    data = batches("mse", silent_steps=0)
    ours, nest = train_plus_on_batches(net, rule, data), nest_plus_train_on_batches(net, rule, data)
    our_losses, nest_losses = (np.array([h.loss for h in r.history]) for r in (ours, nest))
    assert np.ptp(our_losses) > 0.02 * our_losses.max(), "the losses must move"
    np.testing.assert_allclose(our_losses, nest_losses, rtol=1e-9)
    np.testing.assert_allclose([h.rate_hz for h in ours.history], [h.rate_hz for h in nest.history], rtol=1e-12)
    assert min(h.rate_hz for h in ours.history) > 5.0, "the neurons must spike"
    for name in ("w_in", "w_rec", "w_out"):
        change = np.abs(ours.weights[name] - getattr(net, name)).max()
        assert change > 1e-3, f"{name} must learn"
        np.testing.assert_allclose(ours.weights[name], nest.weights[name], rtol=0, atol=1e-9 * change)
    subtract = train_plus_on_batches(replace(net, v_reset=None), rule, data)
    assert abs(subtract.history[0].loss - ours.history[0].loss) > 1e-6 * ours.history[0].loss, \
        "reset to v_reset must differ from reset by subtraction"
