"""BPTT (torch) against the float reference and against e-prop where both are exact."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuroport.emulator.reference import simulate  # noqa: E402
from neuroport.ir.float_graph import EpropRule  # noqa: E402
from neuroport.ir.network import Network  # noqa: E402
from neuroport.tasks import Batch  # noqa: E402
from neuroport.training.bptt import TorchNetwork, bptt_gradients  # noqa: E402
from neuroport.training.gradients import sequence_gradients  # noqa: E402

N_IN, N, N_OUT, T = 5, 6, 2, 60


def network(loss: str, recurrent: bool, seed: int = 0) -> Network:
    rng = np.random.default_rng(seed)
    full = lambda v: np.full(N, float(v))  # noqa: E731
    alif = np.arange(N) >= N // 2
    w_in = rng.normal(0, 1.0, (N, N_IN))
    w_rec = rng.normal(0, 0.4, (N, N)) * recurrent
    np.fill_diagonal(w_rec, 0)
    w_out = rng.normal(0, 0.5, (N_OUT, N))
    rec_mask = ~np.eye(N, dtype=bool)
    return Network(
        dt_ms=1.0, n_in=N_IN, n_rec=N, n_out=N_OUT, tau_m_ms=full(20.0), v_th=full(0.6), t_ref_ms=full(2.0),
        beta=np.where(alif, 0.3, 0.0), tau_a_ms=np.where(alif, 40.0, np.inf), surrogate_gamma=full(0.3),
        surrogate_beta=full(1.0), surrogate_function="piecewise_linear", tau_out_ms=np.full(N_OUT, 20.0), loss=loss,
        w_in=w_in, w_rec=w_rec, w_out=w_out, w_in_mask=np.ones(w_in.shape, bool), w_rec_mask=rec_mask,
        w_out_mask=np.ones(w_out.shape, bool), w_in_plastic=np.ones(w_in.shape, bool), w_rec_plastic=rec_mask,
        w_out_plastic=np.ones(w_out.shape, bool))


def batch(loss: str, seed: int = 1) -> Batch:
    rng = np.random.default_rng(seed)
    x = (rng.random((3, T, N_IN)) < 0.25).astype(np.uint8)
    mask = np.zeros((3, T), bool)
    mask[:, T // 2:] = True
    if loss == "mse":
        return Batch(x, rng.normal(0, 1, (3, T, N_OUT)), mask)
    labels = rng.integers(0, 2, 3)
    targets = np.zeros((3, T, N_OUT))
    targets[np.arange(3), :, labels] = 1.0
    return Batch(x, targets, mask, labels)


def test_forward_equals_float_reference():
    net, data = network("mse", recurrent=True), batch("mse")
    tnet = TorchNetwork(net)
    weights = {k: torch.tensor(getattr(net, k)) for k in ("w_in", "w_rec", "w_out")}
    z, y = tnet.run(weights, data.inputs)
    run = simulate(net, data.inputs)
    assert run.z.sum() > 20
    np.testing.assert_array_equal(z.numpy(), run.z)
    np.testing.assert_allclose(y.numpy(), run.y, rtol=0, atol=1e-12)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize("c_reg", [0.0, 50.0])
def test_feedforward_bptt_equals_eprop(loss, c_reg):
    """No recurrent weights, symmetric feedback, reset without gradient: e-prop is the exact gradient (up to
    NEST's (1 − κ) on the input and recurrent gradients), for LIF and ALIF neurons, with rate regularization."""
    net, data = network(loss, recurrent=False), batch(loss)
    rule = EpropRule(feedback="symmetric", c_reg=c_reg, f_target_hz=10.0)
    bptt = bptt_gradients(net, rule, data, detach_reset=True)
    grads, loss_value = {k: getattr(bptt, k) for k in ("w_in", "w_rec", "w_out")}, bptt.loss
    run = simulate(net, data.inputs)
    eprop = sequence_gradients(net, data.inputs.astype(float), run, data, feedback="symmetric", b_random=None,
                               c_reg=c_reg, f_target_hz=10.0)
    one_minus_kappa = 1 - net.kappa[0]
    assert loss_value == pytest.approx(eprop.loss, rel=1e-8)  # e-prop's cross-entropy takes log(π + 1e-12)
    np.testing.assert_allclose(grads["w_out"], eprop.w_out, rtol=1e-10, atol=1e-12)
    for name in ("w_in", "w_rec"):
        assert np.abs(getattr(eprop, name)).max() > 1e-4
    # split off the regularization part, which has no κ filter
    reg_only = sequence_gradients(net, data.inputs.astype(float), run, replace(data, loss_mask=data.loss_mask & False),
                                  feedback="symmetric", b_random=None, c_reg=c_reg, f_target_hz=10.0)
    for name in ("w_in", "w_rec"):
        task_part = (getattr(eprop, name) - getattr(reg_only, name)) / one_minus_kappa
        np.testing.assert_allclose(grads[name], task_part + getattr(reg_only, name), rtol=1e-9,
                                   atol=1e-9 * np.abs(grads[name]).max())


def test_recurrent_bptt_differs_from_eprop():
    """With recurrent weights e-prop drops the gradient paths through other neurons: the two must differ."""
    net, data = network("mse", recurrent=True), batch("mse")
    rule = EpropRule(feedback="symmetric")
    bptt = bptt_gradients(net, rule, data, detach_reset=True)
    grads = {k: getattr(bptt, k) for k in ("w_in", "w_rec", "w_out")}
    run = simulate(net, data.inputs)
    eprop = sequence_gradients(net, data.inputs.astype(float), run, data, feedback="symmetric", b_random=None)
    scaled = eprop.w_in / (1 - net.kappa[0])
    assert np.abs(grads["w_in"] - scaled).max() > 1e-3 * np.abs(scaled).max()
    np.testing.assert_allclose(grads["w_out"], eprop.w_out, rtol=1e-10)  # the readout gradient is exact in both
