"""e-prop of a two-layer recurrent network (input → L1, L1 ↔ L1, L1 → L2, L2 ↔ L2, L2 → readout) equals NEST 3.10's
own e-prop models: losses and trained weights of every block after 4 iterations.

Both layers step once per time step: L1's spikes of step t reach L2 at step t + 1 (the one-step recurrent block),
and each layer gets its learning signal through its own rows of the random feedback matrix B (L1 has no readout
synapses, so symmetric feedback would give it none).  NEST builds the same connections from the masks, so the
equality checks the block structure, the layer timing and the per-layer learning signal at once.
"""

from __future__ import annotations

import numpy as np
import pytest
from neuroport.backends.nest.engine import nest_train_on_batches

from neuroport.emulator.reference import simulate
from neuroport.ir.learning_rule import EpropRule, Optimizer
from neuroport.ir.network import Network
from neuroport.tasks import Batch
from neuroport.training.eprop import train_on_batches

pytestmark = pytest.mark.nest
N_IN, N1, N2, N_OUT, T, ITERATIONS, BATCH = 4, 5, 4, 2, 40, 4, 2
N = N1 + N2


def two_layers(adaptive: bool, seed: int = 7) -> tuple[Network, np.ndarray]:
    rng = np.random.default_rng(seed)
    layer1, layer2 = np.arange(N) < N1, np.arange(N) >= N1
    in_mask = np.repeat(layer1[:, None], N_IN, axis=1)
    rec_mask = (np.outer(layer1, layer1) | np.outer(layer2, layer2) | np.outer(layer2, layer1)) & ~np.eye(N, dtype=bool)
    out_mask = np.repeat(layer2[None, :], N_OUT, axis=0)
    w_in = rng.normal(0, 1.2, (N, N_IN)) * in_mask
    w_rec = rng.normal(0, 0.5, (N, N)) * rec_mask
    w_rec[np.ix_(layer2, layer1)] += 0.6 * rec_mask[np.ix_(layer2, layer1)]  # L1 drives L2
    w_out = rng.normal(0, 0.5, (N_OUT, N)) * out_mask
    full = lambda v: np.full(N, float(v))  # noqa: E731
    alif = layer2 if adaptive else np.zeros(N, bool)
    net = Network(
        dt_ms=1.0, n_in=N_IN, n_rec=N, n_out=N_OUT, tau_m_ms=np.where(layer1, 20.0, 15.0), v_th=full(0.6), t_ref_ms=full(2.0),
        beta=np.where(alif, 0.2, 0.0), tau_a_ms=np.where(alif, 40.0, np.inf), surrogate_gamma=full(0.3),
        surrogate_beta=full(1.0), surrogate_function="piecewise_linear", tau_out_ms=np.full(N_OUT, 20.0), loss="mse",
        w_in=w_in, w_rec=w_rec, w_out=w_out, w_in_mask=in_mask, w_rec_mask=rec_mask, w_out_mask=out_mask,
        w_in_plastic=in_mask, w_rec_plastic=rec_mask, w_out_plastic=out_mask)
    return net, rng.normal(0, 1, (N, N_OUT))


def batches(seed: int = 8) -> list[Batch]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(ITERATIONS):
        x = (rng.random((BATCH, T, N_IN)) < 0.3).astype(np.uint8)
        x[:, :2] = 0  # NEST's update-interval convention (tests/nest/test_eprop_vs_nest.py)
        targets = np.sin(np.linspace(0, 2 * np.pi, T))[None, :, None] * rng.uniform(0.5, 1.5, (BATCH, 1, N_OUT))
        out.append(Batch(x, targets, np.ones((BATCH, T), bool)))
    return out


def test_layer_two_sees_layer_one_a_step_later():
    """The first spike of L1 changes L2's voltage exactly one step later, never in the same step."""
    net, _ = two_layers(False)
    x = batches()[0].inputs[:1].astype(np.float64)
    run = simulate(net, x)
    first = int(np.flatnonzero(run.z[0, :, :N1].any(axis=1))[0])
    silent_l2 = simulate(net.__class__(**{**net.__dict__, "w_rec": np.where(np.arange(N)[:, None] >= N1, 0.0, net.w_rec)}), x)
    assert np.array_equal(run.v[0, :first + 1, N1:], silent_l2.v[0, :first + 1, N1:])
    assert not np.array_equal(run.v[0, first + 1, N1:], silent_l2.v[0, first + 1, N1:])


@pytest.mark.parametrize("adaptive", [False, True])
def test_multilayer_eprop_equals_nest(adaptive):
    net, feedback = two_layers(adaptive)
    rule = EpropRule(feedback="random", feedback_weights=feedback, batch_size=BATCH, c_reg=100.0,
                     optimizer=Optimizer(name="adam", learning_rate=0.01))
    data = batches()
    ours, nest = train_on_batches(net, rule, data), nest_train_on_batches(net, rule, data)
    our_losses = np.array([h.loss for h in ours.history])
    np.testing.assert_allclose(our_losses, [h.loss for h in nest.history], rtol=1e-9)
    assert np.ptp(our_losses) > 0.01 * np.abs(our_losses).max(), "the losses must move"
    layer1 = np.arange(N) < N1
    blocks = {"w_in L1": ("w_in", np.s_[layer1]), "w_rec L1": ("w_rec", np.ix_(layer1, layer1)),
              "w_rec L1→L2": ("w_rec", np.ix_(~layer1, layer1)), "w_rec L2": ("w_rec", np.ix_(~layer1, ~layer1)),
              "w_out L2": ("w_out", np.s_[:, ~layer1])}
    for label, (name, block) in blocks.items():
        change = np.abs(ours.weights[name][block] - getattr(net, name)[block]).max()
        assert change > 1e-3, f"{label} must learn"
        np.testing.assert_allclose(ours.weights[name][block], nest.weights[name][block], rtol=0, atol=1e-9 * change, err_msg=label)
    for name in ("w_in", "w_rec", "w_out"):  # absent synapses stay absent in both
        absent = ~getattr(net, f"{name}_mask")
        assert not ours.weights[name][absent].any() and not nest.weights[name][absent].any()
