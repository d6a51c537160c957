"""Reward-based e-prop (actor-critic): gradients against torch autograd, TD errors, action sampling, YAML refusals."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from neuroport.cli import main
from neuroport.emulator.reference import simulate
from neuroport.errors import ModelError, UnsupportedError
from neuroport.ir.learning_rule import RewardSpec
from neuroport.ir.loader import load_model
from neuroport.ir.network import assemble
from neuroport.ir.writer import write_model
from neuroport.tasks import task_of
from neuroport.training.eprop import train_eprop
from neuroport.training.gradients import backward_filter
from neuroport.training.onchip import train_onchip
from neuroport.training.reward_episodes import decision_mask, rewards_of, sample_actions, td_errors
from neuroport.training.reward_eprop import reward_gradients
from neuroport.training.reward_online import online_reward_gradients

EXAMPLE = Path(__file__).parents[1] / "examples" / "evidence_accumulation_reward.yaml"
ONE_DECISION = EXAMPLE.with_name("evidence_accumulation_reward_one_decision.yaml")


def tiny_doc(**reward) -> dict:
    """3 LIF + 3 ALIF neurons on a short evidence-accumulation task (65 steps), no recurrent weights."""
    sur = {"function": "piecewise_linear", "gamma": 0.3, "beta": 1.0}
    return {
        "neuroport": 1, "name": "tiny_reward", "seed": 3, "dt_ms": 1.0,
        "input": {"name": "x", "size": 8},
        "populations": [
            {"name": "lif", "model": "lif", "size": 3, "tau_m_ms": 20.0, "v_th": 0.6, "t_ref_ms": 2.0, "surrogate": sur},
            {"name": "alif", "model": "alif", "size": 3, "tau_m_ms": 20.0, "v_th": 0.6, "t_ref_ms": 2.0,
             "tau_a_ms": 200.0, "beta": 0.3, "surrogate": sur}],
        "readout": {"name": "out", "size": 2, "tau_out_ms": 10.0, "loss": "cross_entropy"},
        "projections": [
            {"name": "inp", "source": "x", "target": ["lif", "alif"], "init": {"distribution": "normal", "gain": 5.0}},
            {"name": "outp", "source": ["lif", "alif"], "target": "out", "init": {"distribution": "normal", "gain": 2.0}}],
        "learning": {"variant": "reward_based", "feedback": "symmetric", "batch_size": 3,
                     "reward": {"gamma": 0.8, "c_value": 0.5, "c_entropy": 0.1, "reward_wrong": -1.0,
                                "value_tau_ms": 15.0, "value_init": {"distribution": "normal", "gain": 1.0}, **reward}},
        "task": {"name": "evidence_accumulation",
                 "params": {"n_cues": 3, "cue_ms": 10, "gap_ms": 5, "delay_ms": 10, "recall_ms": 10,
                            "cue_rate_hz": 200, "background_rate_hz": 50}},
    }


def load_doc(tmp_path: Path, doc: dict):
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_model(path)


def torch_objective_gradients(net, spec: RewardSpec, w_value, batch, run, actions):
    """Autograd of E = Σ_t D[t] (−m log π_a − c_V V) − c_H Σ_t m H, with D = R − V from returns computed here,
    through the same dynamics (straight-through spikes with the simulator's ψ, reset detached: e-prop's model).
    window_mean: π = softmax of the readout averaged over the task's loss mask, taken at the last masked step."""
    torch = pytest.importorskip("torch")
    t64 = lambda a: torch.tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    w_in, w_out, w_v = (t64(w).requires_grad_(True) for w in (net.w_in, net.w_out, w_value))
    alpha, rho, beta, v_th, kappa = (t64(p) for p in (net.alpha, net.rho, net.beta, net.v_th, net.kappa))
    kappa_v = float(np.exp(-net.dt_ms / spec.value_tau_ms))
    x, z_np, psi = t64(batch.inputs), t64(run.z), t64(run.psi)
    n_b, n_t, _ = x.shape
    v = a = z_prev = torch.zeros(n_b, net.n_rec, dtype=torch.float64)
    y, value = torch.zeros(n_b, net.n_out, dtype=torch.float64), torch.zeros(n_b, dtype=torch.float64)
    ys, values, vs = [], [], []
    for t in range(n_t):
        v = alpha * v + x[:, t] @ w_in.T - v_th * z_prev.detach()
        a = rho * a + z_prev
        h = v - (v_th + beta * a)
        z = z_np[:, t] + psi[:, t] * (h - h.detach())
        y, value = kappa * y + z @ w_out.T, kappa_v * value + z @ w_v
        ys.append(y), values.append(value), vs.append(v)
        z_prev = z
    y, value = torch.stack(ys, 1), torch.stack(values, 1)
    np.testing.assert_allclose(torch.stack(vs, 1).detach().numpy(), run.v, rtol=0, atol=1e-12)  # same forward pass
    m = decision_mask(batch, spec.decision)
    r = np.where(m, np.where(actions == batch.labels[:, None], spec.reward_correct, spec.reward_wrong), 0.0)
    returns = np.zeros_like(r)
    for t in range(n_t - 1, -1, -1):
        returns[:, t] = r[:, t] + (spec.gamma * returns[:, t + 1] if t + 1 < n_t else 0.0)
    advantage = t64(returns) - value.detach()
    log_pi = torch.log_softmax(y, dim=-1)
    if spec.decision == "window_mean":
        window = t64(batch.loss_mask)
        y_bar = (y * window[..., None]).sum(1) / window.sum(1, keepdim=True)
        log_pi = torch.log_softmax(y_bar, dim=-1)[:, None, :].expand(-1, n_t, -1)
    chosen = torch.gather(log_pi, 2, t64(np.maximum(actions, 0)).long()[..., None])[..., 0]
    entropy = -(log_pi.exp() * log_pi).sum(-1)
    mt = t64(m)
    objective = (advantage * (-mt * chosen - spec.c_value * value)).sum() - spec.c_entropy * (mt * entropy).sum()
    objective.backward()
    return w_in.grad.numpy(), w_out.grad.numpy(), w_v.grad.numpy()


@pytest.mark.parametrize("decision", ["every_step", "last_step", "window_mean"])
def test_gradients_equal_autograd_without_recurrence(tmp_path, decision):
    graph = load_doc(tmp_path, tiny_doc(decision=decision))
    net, rule, spec = assemble(graph), graph.learning, graph.learning.reward
    batch = task_of(graph).batch(np.random.default_rng(5), 8)
    grads = reward_gradients(net, rule, spec.value_weights, batch, np.random.default_rng(9))
    run = simulate(net, batch.inputs)
    assert run.z.sum() > 50 and np.count_nonzero(run.psi) > 100  # the check is not vacuous
    taken = grads.episodes.actions[grads.episodes.decisions]
    assert taken.size == (80 if decision == "every_step" else 8) and np.all(taken >= 0)
    if decision == "window_mean":  # the policy signal reaches every step of the window, not only the last
        assert np.count_nonzero(grads.episodes.spread) == 80
        np.testing.assert_allclose(grads.episodes.spread.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert decision != "every_step" or set(np.unique(taken)) == {0, 1}
    g_in, g_out, g_v = torch_objective_gradients(net, spec, spec.value_weights, batch, run, grads.episodes.actions)
    assert np.abs(g_in).max() > 1e-3
    np.testing.assert_allclose(grads.w_in, g_in, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(grads.w_out, g_out, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(grads.w_value, g_v, rtol=1e-9, atol=1e-11)


def test_td_error_and_advantage_on_a_hand_made_episode():
    rewards = np.array([[0.0, 0.0, 1.0, 0.0]])
    value = np.array([[0.5, 0.2, 0.4, 0.1]])
    delta = td_errors(rewards, value, 0.5)  # r + γ V[t+1] − V[t], V[4] = 0
    np.testing.assert_allclose(delta, [[-0.4, 0.0, 0.65, -0.1]], rtol=0, atol=1e-15)
    advantage = backward_filter(delta[..., None], np.array([0.5]))[..., 0]
    returns = np.array([[0.25, 0.5, 1.0, 0.0]])  # Σ γ^k r[t+k]
    np.testing.assert_allclose(advantage, returns - value, rtol=0, atol=1e-15)  # D = R − V


def test_rewards_and_decision_steps():
    spec = RewardSpec(reward_correct=2.0, reward_wrong=-1.0)
    mask = np.array([[False, True, True], [False, True, True]])
    batch = type("B", (), {"loss_mask": mask, "n_steps": 3, "size": 2})()
    np.testing.assert_array_equal(decision_mask(batch, "last_step"), [[False, False, True], [False, False, True]])
    actions = np.array([[-1, 0, 1], [-1, 1, 1]])
    np.testing.assert_array_equal(rewards_of(actions, np.array([1, 1]), mask, spec), [[0, -1, 2], [0, 2, 2]])


def test_action_sampling_is_seeded_inverse_cdf():
    pi = np.broadcast_to([0.3, 0.7], (4, 50_000, 2))
    decisions = np.ones((4, 50_000), dtype=bool)
    decisions[:, 0] = False
    actions = sample_actions(pi, decisions, np.random.default_rng(11))
    u = np.random.default_rng(11).random((4, 50_000))
    np.testing.assert_array_equal(actions[:, 1:], (u[:, 1:] >= 0.3).astype(int))
    assert np.all(actions[:, 0] == -1)
    assert abs(np.mean(actions[:, 1:] == 0) - 0.3) < 0.01


def test_training_is_seeded_and_writes_back(tmp_path):
    graph = load_doc(tmp_path, tiny_doc())
    first, second = (train_eprop(graph, 3, seed=4) for _ in range(2))
    assert [h.error for h in first.history] == [h.error for h in second.history]
    assert first.graph == second.graph
    assert not np.array_equal(first.graph.learning.reward.value_weights, graph.learning.reward.value_weights)
    reloaded = load_model(write_model(first.graph, tmp_path / "out" / "model.yaml"))
    assert reloaded == first.graph


def test_nir_round_trip_keeps_the_critic(tmp_path):
    pytest.importorskip("nir")
    from neuroport.ir.nir_io import read_nir, write_nir

    doc = tiny_doc()
    doc["learning"].update(feedback="random")
    graph = load_doc(tmp_path, doc)
    assert graph.learning.reward.value_feedback.shape == (6,)
    back = read_nir(write_nir(graph, tmp_path / "m.nir"))
    assert back == graph and back.learning.reward == graph.learning.reward


@pytest.mark.parametrize(("edit", "path", "message"), [
    (lambda d: d["learning"].update(variant="bsshslm_2020"), "learning.reward",
     "`reward` is read only with `variant: reward_based`, not 'bsshslm_2020'"),
    (lambda d: d["learning"].update(feedback="adaptive"), "learning.feedback",
     "reward-based e-prop supports feedback 'symmetric' or 'random', not 'adaptive'"),
    (lambda d: d["readout"].update(loss="mse"), "readout.loss",
     "reward-based e-prop needs the readout to be a policy over actions, loss 'cross_entropy', got 'mse'"),
    (lambda d: d.pop("task"), "task", "reward-based e-prop needs a `task:` with labels"),
    (lambda d: d["learning"]["reward"].update(gamma=1.0), "learning.reward.gamma",
     "expected a discount 0 ≤ gamma < 1, got 1.0"),
    (lambda d: d["learning"]["reward"].update(decision="sometimes"), "learning.reward.decision",
     "unknown value 'sometimes'"),
    (lambda d: d["learning"]["reward"].update(reward_wrong=1.0), "learning.reward.reward_correct",
     "reward_correct (1.0) must exceed reward_wrong (1.0)"),
    (lambda d: d["learning"]["reward"].update(c_valeu=1.0), "learning.reward.c_valeu", "unknown field"),
    (lambda d: d["learning"]["reward"].update(value_init={"values": [0.0] * 5}), "learning.reward.value_init.values",
     "expected a list of 6 numbers (one per recurrent neuron)"),
    (lambda d: d["projections"][0].update(delay_steps=2), "projections[0].delay_steps",
     "reward-based e-prop supports synaptic delays of 1 step only, got 2"),
])
def test_yaml_refusals(tmp_path, edit, path, message):
    doc = tiny_doc()
    edit(doc)
    with pytest.raises(ModelError) as err:
        load_doc(tmp_path, doc)
    assert err.value.path == path and message in err.value.message
    assert str(tmp_path / "model.yaml") in str(err.value)


def test_unknown_mode_and_on_chip_are_refused(tmp_path, capsys):
    graph = load_doc(tmp_path, tiny_doc())
    with pytest.raises(UnsupportedError, match="reward-based e-prop has modes 'sequence' and 'online', not 'batch'"):
        train_eprop(graph, 1, mode="batch")
    with pytest.raises(UnsupportedError, match="on-chip training does not support learning.variant 'reward_based'"):
        train_onchip(graph, 1, chips=1)
    with pytest.raises(SystemExit) as stop:
        main(["train", str(EXAMPLE), "--on-chip", "-i", "1", "--chips", "1", "-o", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    assert "error: on-chip training does not support learning.variant 'reward_based': the on-chip e-prop engine" in err


def test_example_loads_with_random_critic_feedback(capsys):
    graph = load_model(EXAMPLE)
    spec = graph.learning.reward
    assert graph.learning.variant == "reward_based" and graph.readout.size == 2
    assert spec.value_feedback.shape == (100,) and np.all(spec.value_weights == 0.0)
    assert replace(spec, value_feedback=None).decision == "every_step"
    main(["check", str(EXAMPLE)])
    assert ("reward   actor-critic: γ=0.0, c_value=1.0, c_entropy=0.0, reward 1.0/0.0, actions every_step, "
            "critic τ 20.0 ms") in capsys.readouterr().out


def test_one_decision_example_differs_only_in_the_decision(capsys):
    """The one-decision example is the every-step one with ``decision: window_mean``, reward_wrong −1, an entropy
    bonus 0.5 and a learning rate decayed ×0.7 every 100 iterations."""
    graph, every_step = load_model(ONE_DECISION), load_model(EXAMPLE)
    assert graph.learning.reward == replace(every_step.learning.reward, decision="window_mean", reward_wrong=-1.0,
                                            c_entropy=0.5)
    assert graph.learning.optimizer == replace(every_step.learning.optimizer, decay_factor=0.7, decay_every=100)
    np.testing.assert_array_equal(assemble(graph).w_rec, assemble(every_step).w_rec)
    main(["check", str(ONE_DECISION)])
    out = capsys.readouterr().out
    assert "adam η=0.005 (×0.7 every 100 iterations), batch 64" in out
    assert "c_entropy=0.5, reward 1.0/-1.0, actions window_mean, critic τ 20.0 ms" in out


@pytest.mark.parametrize(("engine", "message"), [
    ("bptt", "error: --engine bptt cannot train this model: learning.variant 'reward_based': the BPTT baseline "
             "simulates the bsshslm_2020 network only"),
    ("nest", "error: learning.variant: --engine nest trains variants bsshslm_2020, eprop_plus, not 'reward_based'"),
])
def test_supervised_engines_refuse_reward_based(tmp_path, capsys, engine, message):
    """BPTT and NEST train supervised e-prop: a reward-based model is refused, never trained with its labels."""
    pytest.importorskip({"bptt": "torch", "nest": "nest"}[engine])
    with pytest.raises(SystemExit) as stop:
        main(["train", str(EXAMPLE), "--engine", engine, "-i", "1", "-o", str(tmp_path / engine)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err and message in err


def recurrent_doc(decision: str, gamma: float, feedback: str) -> dict:
    """:func:`tiny_doc` with recurrent weights, firing-rate regularization and the given decision, γ and feedback."""
    doc = tiny_doc(decision=decision, gamma=gamma)
    doc["learning"].update(feedback=feedback, regularization={"c_reg": 0.5, "f_target_hz": 5.0})
    doc["projections"].append({"name": "rec", "source": ["lif", "alif"], "target": ["lif", "alif"],
                               "init": {"distribution": "normal", "gain": 1.0}})
    return doc


@pytest.mark.parametrize("feedback", ["symmetric", "random"])
@pytest.mark.parametrize("gamma", [0.0, 0.8])
@pytest.mark.parametrize("decision", ["every_step", "last_step", "window_mean"])
def test_online_gradients_equal_sequence_gradients(tmp_path, decision, gamma, feedback):
    """Per-synapse F_γ traces times δ[t] one step late (online) = D[t] L[t] ē[t] summed backwards (sequence), for all
    four matrices, with recurrence, LIF and ALIF neurons, c_entropy 0.1 and c_reg 0.5, for the same actions."""
    graph = load_doc(tmp_path, recurrent_doc(decision, gamma, feedback))
    net, rule, spec = assemble(graph), graph.learning, graph.learning.reward
    assert rule.c_reg == 0.5 and spec.c_entropy == 0.1 and spec.gamma == gamma and np.any(net.w_rec != 0)
    assert np.any(net.beta > 0) and np.any(net.beta == 0)  # ALIF and LIF neurons
    batch = task_of(graph).batch(np.random.default_rng(5), 4)
    seq = reward_gradients(net, rule, spec.value_weights, batch, np.random.default_rng(9))
    run = simulate(net, batch.inputs)
    assert run.z.sum() > 30 and np.count_nonzero(run.psi) > 100  # not vacuous
    on = online_reward_gradients(net, rule, spec.value_weights, batch, np.random.default_rng(1), seq.episodes.actions)
    drawn = online_reward_gradients(net, rule, spec.value_weights, batch, np.random.default_rng(9))
    np.testing.assert_array_equal(drawn.episodes.actions, seq.episodes.actions)  # same draws from the same generator
    for name in ("w_in", "w_rec", "w_out", "w_value"):
        expected = getattr(seq, name)
        assert np.abs(expected).max() > 1e-6, name
        np.testing.assert_allclose(getattr(on, name), expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())
        np.testing.assert_array_equal(getattr(drawn, name), getattr(on, name))
    np.testing.assert_array_equal(on.episodes.delta, seq.episodes.delta)
    assert on.rate_hz == seq.rate_hz


def test_online_training_equals_sequence_training(tmp_path):
    graph = load_doc(tmp_path, recurrent_doc("every_step", 0.8, "random"))
    online, sequence = (train_eprop(graph, 3, mode=mode) for mode in ("online", "sequence"))
    for name in ("w_in", "w_rec", "w_out"):
        a, b = getattr(assemble(online.graph), name), getattr(assemble(sequence.graph), name)
        assert np.abs(a - getattr(assemble(graph), name)).max() > 1e-4, name  # training moved it
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(online.graph.learning.reward.value_weights, sequence.graph.learning.reward.value_weights,
                               rtol=0, atol=1e-10)
    assert [h.train_error for h in online.history] == [h.train_error for h in sequence.history]
    np.testing.assert_allclose([h.loss for h in online.history], [h.loss for h in sequence.history], rtol=1e-12)


def test_cli_trains_a_reward_model_online(tmp_path, capsys):
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(tiny_doc(decision="window_mean")))
    main(["train", str(path), "--mode", "online", "-i", "2", "-o", str(tmp_path / "online")])
    main(["train", str(path), "--mode", "sequence", "-i", "2", "-o", str(tmp_path / "sequence")])
    capsys.readouterr()
    online, sequence = (load_model(tmp_path / d / "model.yaml") for d in ("online", "sequence"))
    assert len(json.loads((tmp_path / "online" / "curve.json").read_text())["history"]) == 2
    np.testing.assert_allclose(assemble(online).w_in, assemble(sequence).w_in, rtol=0, atol=1e-10)
    np.testing.assert_allclose(online.learning.reward.value_weights, sequence.learning.reward.value_weights,
                               rtol=0, atol=1e-10)
