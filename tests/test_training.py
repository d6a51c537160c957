"""Float reference and e-prop: online and sequence-batched gradients are the same numbers; the readout gradient is
the exact gradient; training reduces the loss."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neuroport.emulator.reference import simulate
from neuroport.ir import assemble, load_model
from neuroport.tasks import make_task
from neuroport.training.eprop import train_eprop
from neuroport.training.gradients import online_gradients, output_error, sequence_gradients


@pytest.fixture
def setup(tiny_model):
    graph = load_model(tiny_model)
    net = assemble(graph)
    task = make_task(graph.task.name, graph.task.params, n_in=8, n_out=2, dt_ms=1.0)
    batch = task.batch(np.random.default_rng(5), 3)
    return graph, net, batch


@pytest.mark.parametrize("feedback", ["random", "symmetric"])
def test_online_equals_sequence(setup, feedback):
    graph, net, batch = setup
    run = simulate(net, batch.inputs)
    assert run.z.sum() > 20, "the case must spike"
    args = dict(feedback=feedback, b_random=graph.learning.feedback_weights, c_reg=3.0, f_target_hz=10.0)
    seq = sequence_gradients(net, batch.inputs.astype(float), run, batch, **args)
    onl = online_gradients(net, batch.inputs.astype(float), run, batch, **args)
    for name in ("w_in", "w_rec", "w_out"):
        a, b = getattr(seq, name), getattr(onl, name)
        assert np.abs(a).max() > 0
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_readout_gradient_is_exact(setup):
    """∂loss/∂W_out by finite differences equals the e-prop readout gradient (the readout has no approximation)."""
    graph, net, batch = setup
    run = simulate(net, batch.inputs)
    grads = sequence_gradients(net, batch.inputs.astype(float), run, batch, feedback="symmetric", b_random=None)
    k, j, h = 1, 3, 1e-6
    def loss(delta):
        w = net.w_out.copy()
        w[k, j] += delta
        n2 = dataclasses.replace(net, w_out=w)
        return output_error(n2, simulate(n2, batch.inputs), batch)[1]
    numeric = (loss(h) - loss(-h)) / (2 * h)
    np.testing.assert_allclose(grads.w_out[k, j], numeric, rtol=1e-5)


def test_simulation_semantics_by_hand():
    """One neuron, one input of weight 1 > v_th: spikes, subtractive reset one step later, refractory."""
    from neuroport.ir.network import Network

    one = np.ones((1, 1))
    net = Network(dt_ms=1.0, n_in=1, n_rec=1, n_out=1, tau_m_ms=np.array([np.inf]), v_th=np.array([0.5]),
                  t_ref_ms=np.array([2.0]), beta=np.zeros(1), tau_a_ms=np.array([np.inf]), surrogate_gamma=np.array([0.3]),
                  surrogate_beta=np.ones(1), surrogate_function="piecewise_linear", tau_out_ms=np.array([np.inf]), loss="mse",
                  w_in=one * 0.6, w_rec=np.zeros((1, 1)), w_out=one, w_in_mask=one > 0, w_rec_mask=one < 0, w_out_mask=one > 0,
                  w_in_plastic=one > 0, w_rec_plastic=one < 0, w_out_plastic=one > 0)
    x = np.array([[[1], [0], [0], [1], [0]]])
    run = simulate(net, x)
    # τ = ∞: v integrates 0.6 → spike at t0 (r = 2); t1: v = 0.6 − 0.5 = 0.1, refractory; t2: r = 0, v = 0.1;
    # t3: v = 0.7 → spike; t4: v = 0.2
    np.testing.assert_allclose(run.v[0, :, 0], [0.6, 0.1, 0.1, 0.7, 0.2])
    np.testing.assert_array_equal(run.z[0, :, 0], [1, 0, 0, 1, 0])
    # ψ = 0 while refractory (t1, t4), else γ/v_th·max(0, 1 − |v − v_th|/v_th)
    np.testing.assert_allclose(run.psi[0, :, 0], [0.6 * 0.8, 0.0, 0.6 * 0.2, 0.6 * 0.6, 0.0])
    # readout of this step's spikes (NEST's readout_signal): y = cumulative spikes up to t
    np.testing.assert_array_equal(run.y[0, :, 0], [1, 1, 1, 2, 2])


def test_training_reduces_loss(tmp_path, tiny_doc):
    from tests.conftest import write_yaml

    tiny_doc["readout"]["loss"] = "mse"
    tiny_doc["task"] = {"name": "pattern_generation", "params": {"duration_ms": 100, "n_groups": 4, "frequencies_hz": [10, 20]}}
    tiny_doc["learning"]["optimizer"]["learning_rate"] = 0.003
    graph = load_model(write_yaml(tmp_path, tiny_doc))
    result = train_eprop(graph, 20, batch_size=4)
    first = np.mean([h.loss for h in result.history[:5]])
    last = np.mean([h.loss for h in result.history[-5:]])
    assert last < 0.8 * first
    assert result.graph.projections[0].weights is not graph.projections[0].weights


def test_learning_window_keeps_only_the_last_steps(setup):
    from neuroport.training.eprop import within_learning_window

    _, _, batch = setup
    windowed = within_learning_window(batch, 5)
    assert windowed.loss_mask[:, :-5].sum() == 0
    np.testing.assert_array_equal(windowed.loss_mask[:, -5:], batch.loss_mask[:, -5:])
    assert within_learning_window(batch, None) is batch


def test_every_surrogate_shape_in_the_simulation():
    """ψ of the compiled simulation for each of NEST's surrogate shapes, against the formulas written out here."""
    from dataclasses import replace as dc_replace

    from neuroport.ir.network import Network

    formulas = {"piecewise_linear": lambda d: np.maximum(0.0, 1.0 - d), "exponential": lambda d: np.exp(-d),
                "fast_sigmoid_derivative": lambda d: (1.0 + d) ** -2, "arctan": lambda d: 1.0 / (1.0 + d**2)}
    one = np.ones((1, 1))
    base = Network(dt_ms=1.0, n_in=1, n_rec=1, n_out=1, tau_m_ms=np.array([10.0]), v_th=np.array([0.5]),
                   t_ref_ms=np.array([0.0]), beta=np.zeros(1), tau_a_ms=np.array([np.inf]), surrogate_gamma=np.array([0.3]),
                   surrogate_beta=np.array([2.0]), surrogate_function="piecewise_linear", tau_out_ms=np.array([20.0]),
                   loss="mse", w_in=one * 0.2, w_rec=np.zeros((1, 1)), w_out=one, w_in_mask=one > 0, w_rec_mask=one < 0,
                   w_out_mask=one > 0, w_in_plastic=one > 0, w_rec_plastic=one < 0, w_out_plastic=one > 0)
    x = (np.random.default_rng(0).random((1, 60, 1)) < 0.5).astype(np.uint8)
    for name, shape in formulas.items():
        run = simulate(dc_replace(base, surrogate_function=name), x)
        expected = 0.3 / 0.5 * shape(2.0 * np.abs(run.v[0, :, 0] - 0.5) / 0.5)
        np.testing.assert_allclose(run.psi[0, :, 0], expected, rtol=1e-12, atol=1e-15)


def test_learning_rate_decay_schedule_by_hand(tmp_path, tiny_doc):
    """optimizer.decay: η_k = η · factor^⌊k / every⌋ in SGD and Adam steps by hand; the model file round-trips it."""
    from neuroport.ir.learning_rule import Optimizer
    from neuroport.ir.writer import write_model
    from neuroport.training.eprop import AdamState, optimizer_step
    from tests.conftest import write_yaml

    sgd = Optimizer(name="sgd", learning_rate=0.1, decay_factor=0.5, decay_every=2)
    assert [sgd.learning_rate_at(k) for k in range(5)] == [0.1, 0.1, 0.05, 0.05, 0.025]
    state, w = AdamState(np.zeros(1), np.zeros(1)), np.zeros(1)
    for _ in range(5):
        w = optimizer_step(sgd, w, np.ones(1), state)
    assert w[0] == pytest.approx(-(0.1 + 0.1 + 0.05 + 0.05 + 0.025), abs=1e-15)
    adam = Optimizer(learning_rate=0.1, decay_factor=0.5, decay_every=1, epsilon=0.0)
    state, g = AdamState(np.zeros(2), np.zeros(2), step=3), np.array([2.0, -3.0])  # the 4th step: η_3 = 0.1 · 0.5³
    new = optimizer_step(adam, np.zeros(2), g, state)
    b1, b2 = adam.beta1, adam.beta2
    expected = -0.0125 * np.sqrt(1 - b2**4) / (1 - b1**4) * (1 - b1) / np.sqrt(1 - b2) * np.sign(g)
    np.testing.assert_allclose(new, expected, rtol=1e-12)

    tiny_doc["learning"]["optimizer"]["decay"] = {"factor": 0.5, "every_iterations": 100}
    graph = load_model(write_yaml(tmp_path, tiny_doc))
    assert (graph.learning.optimizer.decay_factor, graph.learning.optimizer.decay_every) == (0.5, 100)
    write_model(graph, tmp_path / "again.yaml")
    assert load_model(tmp_path / "again.yaml").learning.optimizer == graph.learning.optimizer
    tiny_doc["learning"]["optimizer"]["decay"] = None  # null: a constant η, as if absent
    assert not load_model(write_yaml(tmp_path, tiny_doc)).learning.optimizer.decays


@pytest.mark.parametrize("reward_based", [False, True])
def test_trainers_take_the_decayed_step(tmp_path, tiny_doc, reward_based):
    """With SGD, the second step of a run decayed ×0.25 after one iteration is exactly 0.25 × the undecayed one
    (same weights and batch before it): the supervised and the reward-based trainers both follow the schedule."""
    from neuroport.ir.learning_rule import Optimizer
    from tests.conftest import write_yaml

    if reward_based:
        tiny_doc["learning"].update(variant="reward_based", reward={"gamma": 0.5, "reward_wrong": -1.0})
    graph = load_model(write_yaml(tmp_path, tiny_doc))

    def w_rec_after(iterations: int, decay_factor: float):
        optimizer = Optimizer(name="sgd", learning_rate=1e-4, decay_factor=decay_factor, decay_every=1)
        trained = train_eprop(dataclasses.replace(graph, learning=dataclasses.replace(graph.learning, optimizer=optimizer)),
                              iterations, batch_size=2).graph
        return assemble(trained).w_rec

    first = w_rec_after(1, 0.25)
    np.testing.assert_array_equal(first, w_rec_after(1, 1.0))
    plain, decayed = w_rec_after(2, 1.0) - first, w_rec_after(2, 0.25) - first
    assert np.abs(plain).max() > 1e-6
    np.testing.assert_allclose(decayed, 0.25 * plain, rtol=1e-9, atol=1e-15)


def test_onchip_training_refuses_a_decay(tmp_path, tiny_doc):
    from neuroport.errors import UnsupportedError
    from neuroport.training.onchip import train_onchip
    from tests.conftest import write_yaml

    tiny_doc["learning"]["optimizer"]["decay"] = {"factor": 0.5, "every_iterations": 10}
    with pytest.raises(UnsupportedError, match="on-chip training does not read learning.optimizer.decay: .*--schedule"):
        train_onchip(load_model(write_yaml(tmp_path, tiny_doc)), 1, chips=1)
