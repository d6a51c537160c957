"""sPyNNaker's IF_curr_delta_ca2_adaptive as the float kind ``lif_ca2_adaptive``: the forward against hand-computed
steps, the e-prop gradients (adjoint and online traces) against torch autograd of the same loss, YAML round trip,
training, and the refusals of the stages that do not run it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from neuroport.emulator.ca2_adaptive import assemble_ca2, simulate_ca2
from neuroport.errors import UnsupportedError
from neuroport.ir.loader import load_model
from neuroport.ir.writer import write_model
from neuroport.tasks import Batch
from neuroport.training.ca2_adaptive import ca2_gradients, online_gradients
from tests.conftest import write_yaml

CA2 = {
    "neuroport": 1, "name": "ca2", "dt_ms": 1.0, "seed": 5,
    "input": {"name": "in", "size": 4},
    "populations": [{"name": "ca", "model": "lif_ca2_adaptive", "size": 5, "tau_m_ms": 20.0, "v_th": 0.6,
                     "t_ref_ms": 2.0, "tau_ca2_ms": {"uniform": [50.0, 200.0]}, "i_alpha": -0.05,
                     "surrogate": {"function": "piecewise_linear", "gamma": 0.3}}],
    "readout": {"name": "out", "size": 2, "tau_out_ms": 20.0, "loss": "mse"},
    "projections": [
        {"name": "input", "source": "in", "target": "ca", "init": {"distribution": "normal", "gain": 4.0}},
        {"name": "rec", "source": "ca", "target": "ca", "init": {"distribution": "normal", "gain": 1.0},
         "zero_diagonal": True},
        {"name": "output", "source": "ca", "target": "out", "init": {"distribution": "normal", "gain": 1.0}},
    ],
    "learning": {"feedback": "symmetric", "optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 4},
    "task": {"name": "evidence_accumulation",
             "params": {"n_cues": 3, "cue_ms": 20, "gap_ms": 10, "delay_ms": 30, "recall_ms": 20}},
}


@pytest.fixture
def ca2_graph(tmp_path):
    return load_model(write_yaml(tmp_path, CA2))


def test_forward_matches_hand_computed_steps(ca2_graph):
    """One neuron, α = e^(−1/20), ρ = e^(−1/100), input 1.0 at steps 0 and 1, i_alpha = −0.2, n_ref = 2:
    v'[0] = 1.0 (spike, reset), q[1] = q[2] = 1 (input of step 1 lost), c[1] = ρ(−0.2), c[2] = ρ² (−0.2),
    v'[3] = c[3] = −0.2 ρ³, v'[4] = α v'[3] + c[4]."""
    net = assemble_ca2(ca2_graph)
    one = lambda v: np.array([float(v)])  # noqa: E731
    net = replace(net, n_in=1, n_rec=1, n_out=1, tau_m_ms=one(20.0), v_th=one(0.6), t_ref_ms=one(2.0),
                  tau_ca2_ms=one(100.0), i_alpha=one(-0.2), psi_height=one(0.5), psi_scale=one(1 / 0.6),
                  tau_out_ms=one(20.0), w_in=np.ones((1, 1)), w_rec=np.zeros((1, 1)), w_out=np.ones((1, 1)))
    x = np.zeros((1, 5, 1))
    x[0, :2, 0] = 1.0
    run = simulate_ca2(net, x)
    alpha, rho = np.exp(-1 / 20), np.exp(-1 / 100)
    assert run.z[0, :, 0].tolist() == [1, 0, 0, 0, 0]
    assert run.q[0, :, 0].tolist() == [0, 1, 1, 0, 0]
    np.testing.assert_allclose(run.c[0, :, 0], [0.0, -0.2 * rho, -0.2 * rho**2, -0.2 * rho**3, -0.2 * rho**4])
    np.testing.assert_allclose(run.v[0, :, 0], [1.0, 0.0, 0.0, -0.2 * rho**3, alpha * -0.2 * rho**3 - 0.2 * rho**4])
    assert run.psi[0, 1, 0] == run.psi[0, 2, 0] == 0.0  # refractory


def _batch(graph, n=3, seed=0) -> Batch:
    rng = np.random.default_rng(seed)
    steps = 60
    x = (rng.random((n, steps, graph.input.size)) < 0.2).astype(np.uint8)
    targets = rng.normal(size=(n, steps, graph.readout.size))
    return Batch(inputs=x, targets=targets, loss_mask=np.ones((n, steps), dtype=bool))


def _torch_gradients(net, batch, q):
    """Autograd of the MSE loss through the forward of ca2_adaptive with the refractory flags q held, the reset's
    spike and the recurrent input's spikes detached, and ψ as the spike's derivative (the piecewise-linear shape)."""
    torch = pytest.importorskip("torch")
    t64 = lambda a: torch.tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    w_in, w_rec, w_out = (t64(getattr(net, k)).requires_grad_(True) for k in ("w_in", "w_rec", "w_out"))
    v_th, height, scale = t64(net.v_th), t64(net.psi_height), t64(net.psi_scale)

    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, v, refractory):
            ctx.save_for_backward(v, refractory)
            return ((v >= v_th) & (refractory == 0)).to(v.dtype)

        @staticmethod
        def backward(ctx, grad):
            v, refractory = ctx.saved_tensors
            psi = height * torch.clamp(1 - torch.abs(v - v_th) * scale, min=0) * (1 - refractory)
            return grad * psi, None

    x, qt = t64(batch.inputs), t64(q)
    alpha, rho, i_alpha, kappa = t64(net.alpha), t64(net.rho), t64(net.i_alpha), t64(net.kappa)
    shape = (x.shape[0], net.n_rec)
    v, c, z, y = torch.zeros(shape, dtype=torch.float64), torch.zeros(shape, dtype=torch.float64), \
        torch.zeros(shape, dtype=torch.float64), torch.zeros((x.shape[0], net.n_out), dtype=torch.float64)
    loss = 0
    for t in range(x.shape[1]):
        c = rho * (c + i_alpha * z)
        v_pre = (1 - qt[:, t]) * (alpha * v + x[:, t] @ w_in.T + z.detach() @ w_rec.T + c) + qt[:, t] * v
        z = Spike.apply(v_pre, qt[:, t])
        v = (1 - z.detach()) * v_pre
        y = kappa * y + z @ w_out.T
        loss = loss + 0.5 * ((y - t64(batch.targets[:, t])) ** 2).sum()
    loss.backward()
    return {k: w.grad.numpy() for k, w in (("w_in", w_in), ("w_rec", w_rec), ("w_out", w_out))}


@pytest.mark.parametrize("engine", [ca2_gradients, online_gradients])
def test_eprop_equals_autograd(ca2_graph, engine):
    """With the recurrent spikes detached in autograd (what e-prop's factorization leaves out), e-prop is exact:
    g_in, g_rec = (1 − κ) × autograd, g_out = autograd, and the calcium path through the neuron's own spikes counts."""
    net = assemble_ca2(ca2_graph)
    batch = _batch(ca2_graph)
    run = simulate_ca2(net, batch.inputs)
    assert run.z.sum() > 20 and (run.c < 0).any() and run.q.any()
    grads = engine(net, batch.inputs.astype(np.float64), run, batch, feedback="symmetric", b_random=None)
    ref = _torch_gradients(net, batch, run.q)
    kappa = float(net.kappa[0])
    np.testing.assert_allclose(grads.w_out, ref["w_out"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads.w_in, (1 - kappa) * ref["w_in"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grads.w_rec, (1 - kappa) * ref["w_rec"] * net.w_rec_mask, rtol=1e-9, atol=1e-12)
    assert np.abs(grads.w_in).max() > 1e-3


def test_adjoint_equals_online_with_regularizer_and_random_feedback(ca2_graph):
    net = assemble_ca2(ca2_graph)
    batch = _batch(ca2_graph, seed=1)
    run = simulate_ca2(net, batch.inputs)
    b = np.random.default_rng(2).normal(size=(net.n_rec, net.n_out))
    kw = dict(feedback="random", b_random=b, c_reg=3.0, f_target_hz=10.0)
    a = ca2_gradients(net, batch.inputs.astype(np.float64), run, batch, **kw)
    o = online_gradients(net, batch.inputs.astype(np.float64), run, batch, **kw)
    for k in ("w_in", "w_rec", "w_out"):
        np.testing.assert_allclose(getattr(a, k), getattr(o, k), rtol=1e-10, atol=1e-13)


def test_yaml_round_trip_and_training(tmp_path, ca2_graph):
    from neuroport.training.eprop import train_eprop

    out = tmp_path / "written"
    write_model(ca2_graph, out / "model.yaml")
    again = load_model(out / "model.yaml")
    assert again == ca2_graph and again.populations[0].kind == "lif_ca2_adaptive"
    result = train_eprop(ca2_graph, 3, seed=1)
    assert len(result.history) == 3 and result.graph.populations[0].i_alpha.tolist() == [-0.05] * 5
    assert not np.array_equal(result.graph.projections[0].weights, ca2_graph.projections[0].weights)


def test_default_i_alpha_and_refusals(tmp_path):
    doc = dict(CA2, populations=[{k: v for k, v in CA2["populations"][0].items() if k != "i_alpha"}])
    graph = load_model(write_yaml(tmp_path, doc))
    np.testing.assert_allclose(graph.populations[0].i_alpha, -0.06)  # −0.1 v_th
    from neuroport.ir.network import assemble

    with pytest.raises(UnsupportedError, match="lif_ca2_adaptive"):
        assemble(graph)  # the LIF/ALIF stages (Loihi, NEST, BPTT) refuse it by name
