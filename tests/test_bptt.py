"""BPTT (torch) against the float reference and against e-prop where both are exact."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuroport.emulator.reference import simulate  # noqa: E402
from neuroport.ir.learning_rule import EpropRule  # noqa: E402
from neuroport.ir.network import Network  # noqa: E402
from neuroport.tasks import Batch  # noqa: E402
from neuroport.training.bptt import TorchNetwork, bptt_gradients, loss_of  # noqa: E402
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


# ---- two layers in sequence (tests/conftest.py TWO_LAYER: clock → l1 ↔ l1 → l2 ↔ l2 → readout) -------------------

L1, L2 = slice(0, 6), slice(6, 11)  # the layers' neurons in the assembled network


def two_layer(tmp_path, doc: dict, *, within_layer: bool = True, l2_model: str = "lif"):
    """(graph, assembled Network, a batch of the model's task) for the two-layer doc; ``within_layer=False`` drops
    the l1 → l1 and l2 → l2 projections (w_rec then holds the l1 → l2 block only)."""
    from neuroport.ir import load_model
    from neuroport.ir.network import assemble
    from neuroport.training.eprop import draw_batches
    from tests.conftest import write_yaml

    if not within_layer:
        doc["projections"] = [p for p in doc["projections"] if p["name"] not in ("l1_recurrent", "l2_recurrent")]
    if l2_model == "alif":
        doc["populations"][1].update(model="alif", tau_a_ms=40.0, beta=0.3)
    graph = load_model(write_yaml(tmp_path, doc))
    net = assemble(graph)
    return graph, net, draw_batches(graph, 1, batch_size=3, seed=5)[0]


def test_two_layer_forward_equals_float_reference_and_the_layers_run_one_after_the_other(tmp_path, two_layer_doc):
    """BPTT's forward pass on the assembled block matrices is the float reference's, spike for spike; and it is two
    single-layer networks in sequence, l2 driven by l1's spikes one step late (l1 at t reaches l2 at t + 1)."""
    from dataclasses import replace

    _, net, data = two_layer(tmp_path, two_layer_doc)
    assert np.all(net.w_rec[L1, L2] == 0) and not net.w_rec_mask[L1, L2].any()  # no l2 → l1 block
    assert np.all(net.w_in[L2] == 0) and np.all(net.w_out[:, L1] == 0)
    tnet = TorchNetwork(net)
    weights = {k: torch.tensor(getattr(net, k)) for k in ("w_in", "w_rec", "w_out")}
    z, y = (a.numpy() for a in tnet.run(weights, data.inputs))
    run = simulate(net, data.inputs)
    assert run.z[..., L1].sum() > 20 and run.z[..., L2].sum() > 20
    np.testing.assert_array_equal(z, run.z)
    np.testing.assert_allclose(y, run.y, rtol=0, atol=1e-12)
    loss = 0.5 * np.sum(((run.y - data.targets) * data.loss_mask[..., None]) ** 2)
    assert bptt_gradients(net, EpropRule(feedback="symmetric", c_reg=0.0), data).loss == pytest.approx(loss, rel=1e-12)

    def layer(rows: slice, w_in: np.ndarray) -> Network:
        pick = lambda a: np.asarray(a)[rows]  # noqa: E731
        return replace(net, n_in=w_in.shape[1], n_rec=rows.stop - rows.start, **{k: pick(getattr(net, k)) for k in (
            "tau_m_ms", "v_th", "t_ref_ms", "beta", "tau_a_ms", "surrogate_gamma", "surrogate_beta")},
            w_in=w_in, w_rec=net.w_rec[rows, rows], w_out=net.w_out[:, rows], w_in_mask=w_in != 0,
            w_rec_mask=net.w_rec_mask[rows, rows], w_out_mask=net.w_out_mask[:, rows], w_in_plastic=w_in != 0,
            w_rec_plastic=net.w_rec_plastic[rows, rows], w_out_plastic=net.w_out_plastic[:, rows])

    first = simulate(layer(L1, net.w_in[L1]), data.inputs)
    late = np.zeros_like(first.z)
    late[:, 1:] = first.z[:, :-1]  # l1's spikes of step t − 1 are l2's input at t
    second = simulate(layer(L2, net.w_rec[L2, L1]), late)
    np.testing.assert_array_equal(first.z, z[..., L1])
    np.testing.assert_array_equal(second.z, z[..., L2])
    np.testing.assert_allclose(second.y, y, rtol=0, atol=1e-12)  # only l2 is read out


@pytest.mark.parametrize("l2_model", ["lif", "alif"])
@pytest.mark.parametrize("c_reg", [0.0, 50.0])
def test_two_layer_eprop_is_exact_for_the_readout_and_the_l1_to_l2_block_only(tmp_path, two_layer_doc, l2_model, c_reg):
    """Two layers WITHOUT within-layer recurrence, symmetric feedback, reset without gradient.

    This network is not feed-forward for e-prop: l1 → l2 lives in w_rec, and e-prop drops every gradient path
    through another neuron.  What stays exact:
      * w_out: the readout gradient Σ err z̄^κ is exact in both (same forward pass);
      * the l1 → l2 block of w_rec: an l2 neuron influences the loss only through its own readout synapses and its
        own rate (no l2 → l2, no l2 → l1 synapses), and its presynaptic l1 spikes are inputs to it whatever the
        weights upstream — the feed-forward case for that neuron, so e-prop is BPTT up to NEST's (1 − κ) on the
        task part (as test_feedforward_bptt_equals_eprop), ALIF adaptation included.
    Not exact: l1's input weights.  With B = W_outᵀ an l1 neuron (no readout synapses) gets no learning signal,
    so e-prop's task gradient for w_in is 0 (and its rate term is only l1's own rate), while BPTT's flows through
    l1 → l2 → readout (and through l2's rates)."""
    _, net, data = two_layer(tmp_path, two_layer_doc, within_layer=False, l2_model=l2_model)
    assert not net.w_rec_mask[L1, L1].any() and not net.w_rec_mask[L2, L2].any() and net.w_rec_mask[L2, L1].all()
    rule = EpropRule(feedback="symmetric", c_reg=c_reg, f_target_hz=10.0)
    bptt = bptt_gradients(net, rule, data, detach_reset=True)
    run = simulate(net, data.inputs)
    assert run.z[..., L1].sum() > 20 and run.z[..., L2].sum() > 20
    assert np.all(net.beta[L2] > 0) == (l2_model == "alif") and np.all(net.beta[L1] == 0)
    eprop = sequence_gradients(net, data.inputs.astype(float), run, data, feedback="symmetric", b_random=None,
                               c_reg=c_reg, f_target_hz=10.0)
    reg_only = sequence_gradients(net, data.inputs.astype(float), run, replace(data, loss_mask=data.loss_mask & False),
                                  feedback="symmetric", b_random=None, c_reg=c_reg, f_target_hz=10.0)
    assert bptt.loss == pytest.approx(eprop.loss, rel=1e-12)
    np.testing.assert_allclose(bptt.w_out, eprop.w_out, rtol=1e-10, atol=1e-12)
    assert np.abs(bptt.w_out).max() > 1e-2
    want = (eprop.w_rec - reg_only.w_rec) / (1 - net.kappa[0]) + reg_only.w_rec
    assert np.abs(want[L2, L1]).max() > 1e-3
    np.testing.assert_allclose(bptt.w_rec[L2, L1], want[L2, L1], rtol=1e-9, atol=1e-9 * np.abs(want[L2, L1]).max())
    for grads in (bptt, eprop):  # absent blocks: no gradient in either
        assert np.all(grads.w_rec[~net.w_rec_mask] == 0) and np.all(grads.w_in[L2] == 0) and np.all(grads.w_out[:, L1] == 0)
    # layer 1's input weights: e-prop has its own-rate term only, BPTT also the paths through layer 2
    np.testing.assert_array_equal(eprop.w_in - reg_only.w_in, 0.0)
    assert np.abs(bptt.w_in[L1] - reg_only.w_in[L1]).max() > 1e-3 * np.abs(bptt.w_in[L1]).max() > 0


def test_two_layer_bptt_training_keeps_absent_synapses_at_zero(tmp_path, two_layer_doc):
    """Three BPTT optimizer steps on the two-layer network: every block learns (l1's through l2, since BPTT
    follows l1 → l2), and entries outside the block masks (l2 → l1, input → l2, l1 → readout, the diagonals) stay
    exactly 0, although autograd's raw gradient there is not 0."""
    from neuroport.training.bptt import bptt_train_on_batches
    from neuroport.training.eprop import draw_batches, rule_of

    graph, net, _ = two_layer(tmp_path, two_layer_doc)
    rule = rule_of(graph)
    batches = draw_batches(graph, 3, batch_size=2, seed=7)
    tnet = TorchNetwork(net)
    raw = {k: torch.tensor(getattr(net, k), requires_grad=True) for k in ("w_in", "w_rec", "w_out")}
    z, y = tnet.run(raw, batches[0].inputs)
    loss_of(tnet, rule, z, y, batches[0])[0].backward()
    assert np.abs(raw["w_rec"].grad.numpy()[L1, L2]).max() > 0  # a leak to mask out: l2 → l1 would learn
    trained = bptt_train_on_batches(net, rule, batches, dtype=torch.float64).weights
    for name in ("w_in", "w_rec", "w_out"):
        mask = getattr(net, f"{name}_mask")
        assert np.all(trained[name][~mask] == 0), name
        moved = trained[name][mask] != getattr(net, name)[mask]
        assert moved.mean() > 0.5, f"{name} must learn"
    for block in ((L1, L1), (L2, L1), (L2, L2)):
        assert np.any(trained["w_rec"][block] != net.w_rec[block])


def test_two_layer_eprop_is_not_exact_for_l1_to_l2_with_l2_recurrence(tmp_path, two_layer_doc):
    """The contrast: with l2 → l2 synapses an l2 neuron also reaches the loss through the other l2 neurons, a path
    e-prop drops, so the l1 → l2 block is no longer exact (the readout gradient still is)."""
    two_layer_doc["projections"] = [p for p in two_layer_doc["projections"] if p["name"] != "l1_recurrent"]
    _, net, data = two_layer(tmp_path, two_layer_doc)
    assert net.w_rec_mask[L2, L2].any() and not net.w_rec_mask[L1, L1].any()
    rule = EpropRule(feedback="symmetric", c_reg=0.0)
    bptt = bptt_gradients(net, rule, data, detach_reset=True)
    run = simulate(net, data.inputs)
    eprop = sequence_gradients(net, data.inputs.astype(float), run, data, feedback="symmetric", b_random=None)
    np.testing.assert_allclose(bptt.w_out, eprop.w_out, rtol=1e-10, atol=1e-12)
    scaled = eprop.w_rec[L2, L1] / (1 - net.kappa[0])
    assert np.abs(bptt.w_rec[L2, L1] - scaled).max() > 1e-3 * np.abs(scaled).max() > 0
