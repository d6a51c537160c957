"""EventProp (neuroport/training/eventprop.py): its gradient against two independent references on small recurrent
networks without threshold grazing — central finite differences of the loss, and torch autograd through the
spike-response form of the model with the exact (implicit-function) derivative of every spike time — plus the
model's claims (the kernel samples the discrete float reference exactly, no crossing is missed) and refusals."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from neuroport.cli import cli, main
from neuroport.emulator.reference import simulate
from neuroport.ir import load_model
from neuroport.ir.network import assemble
from neuroport.training.eventprop import RatePenalty, constants_of, readout_loss, run_events, sample_gradients
from tests.conftest import ROOT, TINY, write_yaml
from tests.test_bptt import network

torch = pytest.importorskip("torch")

N_IN, N, N_OUT, T = 5, 6, 2, 60


def lif_network(seed: int = 0):
    """tests/test_bptt.py's recurrent network with every neuron LIF."""
    return replace(network("cross_entropy", recurrent=True, seed=seed), beta=np.zeros(N), tau_a_ms=np.full(N, np.inf))


def sample(seed: int):
    rng = np.random.default_rng(seed)
    x = (rng.random((T, N_IN)) < 0.25).astype(np.float64)
    mask = np.zeros(T, bool)
    mask[T // 2:] = True
    return x, mask, np.eye(N_OUT)[seed % N_OUT]


def weights_of(net) -> dict[str, np.ndarray]:
    return {"w_in": net.w_in.copy(), "w_rec": net.w_rec.copy(), "w_out": net.w_out.copy()}


def kernel(u, alpha):
    """The box synapse's voltage response K(u): (1 − α^u)/(1 − α) on (0, 1], α^{u−1} after, 0 before."""
    u = np.asarray(u, dtype=np.float64)
    return np.where(u <= 0, 0.0, np.where(u <= 1, (1 - alpha**u) / (1 - alpha), alpha ** (u - 1)))


PENALTY = RatePenalty(c=50.0, target_per_step=0.01)  # the time-weighted rate penalty, as learning.regularization


@pytest.mark.parametrize("seed, penalty", [(0, RatePenalty()), (1, PENALTY)])
def test_gradient_equals_finite_differences(seed, penalty):
    net, (x, mask, target) = lif_network(seed), sample(seed + 3)
    k, w = constants_of(net), weights_of(net)
    events = run_events(w, k, x)
    assert events.times.size >= 20 and (events.prev >= 0).any() and (events.prev < 0).any()  # crossings and releases
    _, _, grads, _ = sample_gradients(w, k, x, mask, target, penalty)
    eps = 1e-6
    for name in ("w_in", "w_rec", "w_out"):
        fd = np.zeros_like(w[name])
        for idx in np.ndindex(w[name].shape):
            losses = []
            for sign in (1, -1):
                moved = copy.deepcopy(w)
                moved[name][idx] += sign * eps
                moved_events = run_events(moved, k, x)
                assert moved_events.times.size == events.times.size  # no spike appears or vanishes
                np.testing.assert_array_equal(moved_events.prev, events.prev)
                losses.append(readout_loss(moved_events, moved["w_out"], k, mask, target, N)[0]
                              + penalty.time_gradient(moved_events, N, T)[0])
            fd[idx] = (losses[0] - losses[1]) / (2 * eps)
        assert np.abs(fd).max() > 1e-3
        np.testing.assert_allclose(grads[name], fd, rtol=1e-6, atol=2e-8)


def torch_loss(w, events, k, x, mask, target, penalty):
    """The loss rebuilt in torch from the spike-response form v_j(t) = Σ w K(t − box start): each crossing time as
    t0 − (v(t0) − θ)/v̇(t0) (value t0, derivative −∂v/v̇: the implicit-function theorem), each release as the
    previous spike + n_ref; the window integrals of the readout summed step by step."""
    alpha, c, tau = (torch.tensor(a) for a in (k.alpha, k.c, k.tau))
    theta = torch.tensor(k.theta)
    x_t = torch.tensor(x)
    input_steps, input_ids = np.nonzero(x)
    wt = w["w_rec"] - torch.diag(theta)  # (target, source), the reset on the diagonal
    times = []
    for n, (t0, j, prev) in enumerate(zip(events.times, events.neurons, events.prev, strict=True)):
        if prev >= 0:
            times.append(times[prev] + float(k.n_ref[j]))
            continue
        starts = torch.cat([torch.tensor(input_steps, dtype=torch.float64), torch.stack(times[:n]) if n else torch.zeros(0)])
        weights = torch.cat([w["w_in"][j, input_ids] * x_t[input_steps, input_ids],
                             wt[j, torch.tensor(events.neurons[:n], dtype=torch.long)]])
        u = torch.tensor(t0) - starts
        a = alpha[j]
        response = torch.where(u <= 0, 0.0, torch.where(u <= 1, (1 - a**u) / (1 - a), a ** (u - 1)))
        slope = torch.where(u <= 0, 0.0, torch.where(u <= 1, c[j] * a**u, -(a ** (u - 1)) / tau[j]))
        v, vdot = (weights * response).sum(), (weights * slope).sum().detach()
        assert abs(float(v.detach()) - k.theta[j]) < 1e-9 and float(vdot) > 0
        times.append(t0 - (v - v.detach()) / vdot)
    t = torch.stack(times)[:, None]
    kappa, tau_out = torch.tensor(k.kappa), torch.tensor(k.tau_out)
    g = torch.zeros(t.shape[0], N_OUT, dtype=torch.float64)
    for s in np.flatnonzero(mask):  # y held over [s+1, s+2)
        full = kappa ** (s + 1 - t) * tau_out * (1 - kappa)
        part = tau_out * (1 - kappa ** (s + 2 - t))
        g = g + torch.where(t <= s + 1, full, torch.where(t < s + 2, part, 0.0))
    per_out = (w["w_out"][:, torch.tensor(events.neurons, dtype=torch.long)] * g.T).sum(dim=1)
    evidence = per_out / (mask.sum() * tau_out * (1 - kappa))
    weighted = torch.zeros(N, dtype=torch.float64).index_add(0, torch.tensor(events.neurons), T - t[:, 0])
    rate_term = 0.5 * penalty.c * ((2 * weighted / T**2 - penalty.target_per_step) ** 2).sum()
    return -(torch.tensor(target) * torch.log_softmax(evidence, dim=0)).sum() + rate_term


@pytest.mark.parametrize("seed, penalty", [(0, RatePenalty()), (2, PENALTY)])
def test_gradient_equals_torch_autograd_with_exact_spike_time_derivatives(seed, penalty):
    net, (x, mask, target) = lif_network(seed), sample(seed + 7)
    k, w = constants_of(net), weights_of(net)
    events = run_events(w, k, x)
    loss, _, grads, _ = sample_gradients(w, k, x, mask, target, penalty)
    w_t = {name: torch.tensor(a, requires_grad=True) for name, a in w.items()}
    reference = torch_loss(w_t, events, k, x, mask, target, penalty)
    reference.backward()
    total = loss + penalty.time_gradient(events, N, T)[0]
    assert float(reference.detach()) == pytest.approx(total, rel=1e-12)
    for name in w:
        assert np.abs(w_t[name].grad.numpy()).max() > 0.1
        np.testing.assert_allclose(grads[name], w_t[name].grad.numpy(), rtol=1e-9, atol=1e-11)


def test_kernel_samples_the_discrete_float_reference():
    """With spikes on the grid (the discrete run's, step s at time s + 1), v and y of the box model at the step ends
    are the float reference's v[s] and y[s]."""
    net = lif_network(0)
    x, _, _ = sample(3)
    run = simulate(net, x[None])
    assert run.z.sum() > 20
    k = constants_of(net)
    spike_steps, spike_ids = np.nonzero(run.z[0])
    input_steps, input_ids = np.nonzero(x)
    ends = np.arange(T) + 1.0
    w_box = net.w_rec - np.diag(net.v_th)
    v = np.zeros((T, N))
    for j in range(N):
        v[:, j] = (kernel(ends[:, None] - input_steps[None], k.alpha[j]) * net.w_in[j, input_ids]).sum(axis=1)
        v[:, j] += (kernel(ends[:, None] - (spike_steps + 1.0)[None], k.alpha[j]) * w_box[j, spike_ids]).sum(axis=1)
    np.testing.assert_allclose(v, run.v[0], rtol=0, atol=1e-12)
    y = (k.kappa[None, None] ** (ends[:, None] - (spike_steps + 1.0)[None])[..., None]
         * (ends[:, None] >= spike_steps[None] + 1.0)[..., None] * net.w_out[:, spike_ids].T[None]).sum(axis=1)
    np.testing.assert_allclose(y, run.y[0], rtol=0, atol=1e-12)


def test_no_threshold_crossing_is_missed():
    """The spike-response v of every neuron, sampled every 1/200 step, stays below θ outside its refractory
    periods, and is θ at each crossing the event loop reports."""
    net = lif_network(1)
    x, _, _ = sample(4)
    k = constants_of(net)
    events = run_events(weights_of(net), k, x)
    grid = np.arange(0, T * 200 + 1) / 200.0
    input_steps, input_ids = np.nonzero(x)
    w_box = net.w_rec - np.diag(net.v_th)
    for j in range(N):
        v = (kernel(grid[:, None] - input_steps[None], k.alpha[j]) * net.w_in[j, input_ids]).sum(axis=1)
        v += (kernel(grid[:, None] - events.times[None], k.alpha[j]) * w_box[j, events.neurons]).sum(axis=1)
        own = events.times[events.neurons == j]
        refractory = ((grid[:, None] >= own[None]) & (grid[:, None] < own[None] + k.n_ref[j])).any(axis=1)
        assert np.all(v[~refractory] < k.theta[j] + 1e-9), j
    crossings = events.prev < 0
    assert crossings.sum() > 10


def lif_tiny() -> dict:
    doc = copy.deepcopy(TINY)
    doc["populations"] = [{"name": "lif", "model": "lif", "size": 10, "tau_m_ms": 20.0, "v_th": 0.6, "t_ref_ms": 2.0}]
    for proj in doc["projections"]:
        proj["source"] = "lif" if proj["source"] != "in" else "in"
        proj["target"] = "lif" if proj["target"] != "out" else "out"
    return doc


def test_cli_trains_a_model_that_runs_bit_exact_on_loihi_sim(tmp_path):
    model = write_yaml(tmp_path, lif_tiny())
    out = CliRunner().invoke(cli, ["train", str(model), "--engine", "eventprop", "-i", "3", "--batch-size", "4",
                                   "-o", str(tmp_path / "out"), "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["engine"] == "eventprop" and payload["iterations"] == 3
    history = json.loads((tmp_path / "out" / "curve.json").read_text())["history"]
    assert len(history) == 3 and all(h["loss"] > 0 and 0 <= h["error"] <= 1 for h in history)
    before, after = assemble(load_model(model)), assemble(load_model(tmp_path / "out" / "model.yaml"))
    for name in ("w_in", "w_rec", "w_out"):  # every matrix learned; absent synapses stay absent
        assert not np.allclose(getattr(before, name), getattr(after, name)), name
        np.testing.assert_array_equal(getattr(after, name)[~getattr(before, f"{name}_mask")], 0.0)
    verify = CliRunner().invoke(cli, ["verify", str(tmp_path / "out" / "model.yaml"), "--target", "loihi-sim", "-n", "4",
                                      "--backend-samples", "2", "--json"], catch_exceptions=False)
    assert verify.exit_code == 0, verify.output
    report = json.loads(verify.output)
    assert report["bit_exact"] and report["backend"]["values_compared"] > 0  # Lava = the emulator, bit for bit


@pytest.mark.parametrize("model, path", [
    ("tiny_alif", "populations[1].model"),
    ("examples/pattern_generation_izhikevich.yaml", "populations[0].model"),
    ("examples/pattern_generation_delays.yaml", "projections[0].delay_steps"),
    ("tiny_mse", "readout.loss"),
])
def test_refuses_what_it_cannot_train(tmp_path, capsys, model, path):
    if model.startswith("tiny"):
        doc = copy.deepcopy(TINY) if model == "tiny_alif" else lif_tiny()
        if model == "tiny_mse":
            doc["readout"]["loss"] = "mse"
            doc["task"] = {"name": "pattern_generation", "params": {"duration_ms": 40, "n_groups": 2}}
        target = write_yaml(tmp_path, doc)
    else:
        target = ROOT / model
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(target), "--engine", "eventprop", "-i", "1", "-o", str(tmp_path / "out"), "--json"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and path in err[0], err
