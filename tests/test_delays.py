"""Synaptic delays in the float reference and in e-prop.

Semantics (neuroport.ir.network): a synapse of delay d carries x[t − d + 1] (input), z[t − d] (recurrent) or
z[t − d + 1] (readout) to step t.  The forward pass is checked by hand on single spikes; the e-prop gradients
against torch autograd BPTT of the same loss and surrogate (e-prop is exact without recurrent weights once the
reset is left out of the gradient, as e-prop leaves it out), against the same network with the input delay realized
explicitly (input channels shifted by d − 1 steps), and sequence mode against online mode.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from neuroport.emulator.reference import simulate
from neuroport.ir.network import Network
from neuroport.tasks import Batch
from neuroport.training.gradients import online_gradients, sequence_gradients

V_TH, GAMMA, WIDTH = 0.5, 0.3, 1.0


def network(w_in, w_rec, w_out, *, beta=0.0, t_ref_ms=2.0, delays=None) -> Network:
    n, n_in = w_in.shape
    full = lambda v: np.full(n, float(v))  # noqa: E731
    return Network(
        dt_ms=1.0, n_in=n_in, n_rec=n, n_out=w_out.shape[0], tau_m_ms=full(10.0), v_th=full(V_TH), t_ref_ms=full(t_ref_ms),
        beta=full(beta), tau_a_ms=full(30.0 if beta else np.inf), surrogate_gamma=full(GAMMA), surrogate_beta=full(WIDTH),
        surrogate_function="piecewise_linear", tau_out_ms=np.full(w_out.shape[0], 15.0), loss="mse",
        w_in=w_in, w_rec=w_rec, w_out=w_out, w_in_mask=np.ones(w_in.shape, bool), w_rec_mask=w_rec != 0,
        w_out_mask=np.ones(w_out.shape, bool), w_in_plastic=np.ones(w_in.shape, bool), w_rec_plastic=w_rec != 0,
        w_out_plastic=np.ones(w_out.shape, bool), delays=delays)


def ones_delays(net_shapes, **given):
    out = {k: np.ones(s, dtype=np.int64) for k, s in net_shapes.items()}
    out.update(given)
    return out


def test_single_spike_arrives_after_its_delay():
    """Input delay 3: x[2] reaches v[4]; recurrent delay 4: the spike of neuron 0 at step 4 reaches neuron 1 at 8;
    readout delay 2: the spike of step 4 enters y[5] (τ = ∞ everywhere, so every arrival is a visible jump)."""
    w_in, w_rec, w_out = np.array([[0.7], [0.0]]), np.array([[0.0, 0.0], [0.2, 0.0]]), np.array([[1.0, 0.0]])
    shapes = {"w_in": (2, 1), "w_rec": (2, 2), "w_out": (1, 2)}
    net = replace(network(w_in, w_rec, w_out, delays=ones_delays(shapes, w_in=np.full((2, 1), 3),
                                                                 w_rec=np.array([[1, 1], [4, 1]]), w_out=np.array([[2, 1]]))),
                  tau_m_ms=np.full(2, np.inf), tau_out_ms=np.array([np.inf]))
    x = np.zeros((1, 12, 1))
    x[0, 2, 0] = 1
    run = simulate(net, x)
    np.testing.assert_array_equal(np.flatnonzero(run.z[0, :, 0]), [4])
    np.testing.assert_allclose(run.v[0, :, 0], [0, 0, 0, 0, 0.7] + [0.2] * 7)  # reset one step after the spike
    np.testing.assert_allclose(run.v[0, :, 1], [0.0] * 8 + [0.2] * 4)
    np.testing.assert_array_equal(run.y[0, :, 0], [0] * 5 + [1] * 7)


def explicit_input_delay(x: np.ndarray, delays: np.ndarray) -> np.ndarray:
    """One input channel per (channel, delay) pair, shifted by d − 1 steps: the delay realized in the data."""
    columns = []
    for i in range(x.shape[2]):
        for d in np.unique(delays[:, i]):
            shifted = np.zeros_like(x[:, :, i])
            shifted[:, d - 1:] = x[:, :x.shape[1] - d + 1, i]
            columns.append((i, d, shifted))
    return columns


def random_case(seed: int, n_in=4, n=6, n_out=2, steps=60):
    rng = np.random.default_rng(seed)
    w_in, w_rec, w_out = rng.normal(0, 0.8, (n, n_in)), rng.normal(0, 0.3, (n, n)), rng.normal(0, 0.5, (n_out, n))
    np.fill_diagonal(w_rec, 0)
    x = (rng.random((3, steps, n_in)) < 0.25).astype(np.float64)
    batch = Batch(inputs=x, targets=rng.normal(0, 1, (3, steps, n_out)), loss_mask=np.ones((3, steps), bool))
    delays = {"w_in": rng.integers(1, 5, (n, n_in)), "w_rec": rng.integers(1, 4, (n, n)), "w_out": rng.integers(1, 4, (n_out, n))}
    return w_in, w_rec, w_out, x, batch, delays


@pytest.mark.parametrize("beta", [0.0, 0.3])
def test_input_delay_equals_shifted_input_channels(beta):
    """Forward and e-prop gradients of input delays equal those of an undelayed net whose inputs are the delayed
    copies: one channel per (input, delay), carrying the synapses of that delay."""
    w_in, w_rec, w_out, x, batch, delays = random_case(1)
    shapes = {"w_in": w_in.shape, "w_rec": w_rec.shape, "w_out": w_out.shape}
    net = network(w_in, w_rec, w_out, beta=beta, delays=ones_delays(shapes, w_in=delays["w_in"]))
    columns = explicit_input_delay(x, delays["w_in"])
    x_wide = np.stack([c for _, _, c in columns], axis=2)
    w_wide = np.stack([np.where(delays["w_in"][:, i] == d, w_in[:, i], 0.0) for i, d, _ in columns], axis=1)
    wide = network(w_wide, w_rec, w_out, beta=beta)
    run, run_wide = simulate(net, x), simulate(wide, x_wide)
    assert run.z.sum() > 20
    np.testing.assert_array_equal(run.z, run_wide.z)
    np.testing.assert_allclose(run.v, run_wide.v, atol=1e-12)
    g = sequence_gradients(net, x, run, batch, feedback="symmetric", b_random=None)
    g_wide = sequence_gradients(wide, x_wide, run_wide, replace(batch, inputs=x_wide), feedback="symmetric", b_random=None)
    folded = np.zeros_like(w_in)
    for k, (i, d, _) in enumerate(columns):
        folded[:, i] += np.where(delays["w_in"][:, i] == d, g_wide.w_in[:, k], 0.0)
    np.testing.assert_allclose(g.w_in, folded, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(g.w_rec, g_wide.w_rec, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("beta", [0.0, 0.3])
def test_sequence_equals_online_with_every_kind_of_delay(beta):
    w_in, w_rec, w_out, x, batch, delays = random_case(2)
    net = network(w_in, w_rec, w_out, beta=beta, delays=delays)
    run = simulate(net, x)
    assert run.z.sum() > 20
    b_random = np.random.default_rng(5).normal(0, 1, (w_in.shape[0], w_out.shape[0]))
    for feedback in ("symmetric", "random"):
        seq = sequence_gradients(net, x, run, batch, feedback=feedback, b_random=b_random, c_reg=0.5)
        onl = online_gradients(net, x, run, batch, feedback=feedback, b_random=b_random, c_reg=0.5)
        for name in ("w_in", "w_rec", "w_out"):
            np.testing.assert_allclose(getattr(seq, name), getattr(onl, name), rtol=1e-9, atol=1e-12, err_msg=name)


def test_recurrent_delays_change_the_dynamics():
    """Different recurrent delays give different spike trains (the delay is not ignored) and delay 1 given
    explicitly is the undelayed network."""
    w_in, w_rec, w_out, x, _, delays = random_case(3)
    shapes = {"w_in": w_in.shape, "w_rec": w_rec.shape, "w_out": w_out.shape}
    plain = simulate(network(w_in, w_rec * 3, w_out), x)
    slow = simulate(network(w_in, w_rec * 3, w_out, delays=ones_delays(shapes, w_rec=delays["w_rec"])), x)
    assert not np.array_equal(plain.z, slow.z)
    one = network(w_in, w_rec * 3, w_out, delays=ones_delays(shapes))
    np.testing.assert_array_equal(simulate(one, x).z, plain.z)


def torch_bptt(net: Network, x: np.ndarray, targets: np.ndarray):
    """Gradients of ½ Σ (y − y*)² by torch autograd for a net without recurrent weights, delays as in the module
    docstring; the reset's dependence on z is detached (what e-prop leaves out), ψ is the surrogate derivative."""
    torch = pytest.importorskip("torch")

    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, d):
            ctx.save_for_backward(d)
            return (d >= 0).to(d.dtype)

        @staticmethod
        def backward(ctx, grad):
            (d,) = ctx.saved_tensors
            return grad * GAMMA / V_TH * torch.clamp(1 - WIDTH * d.abs() / V_TH, min=0)

    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    w_in, w_out = t(net.w_in).requires_grad_(), t(net.w_out).requires_grad_()
    xs, alpha, rho, beta, kappa = t(x), t(net.alpha), t(net.rho), t(net.beta), t(net.kappa)
    batch, steps, _ = x.shape
    d_in, d_out = net.delays["w_in"], net.delays["w_out"]
    v = torch.zeros(batch, net.n_rec, dtype=torch.float64)
    a, z, y = torch.zeros_like(v), torch.zeros_like(v), torch.zeros(batch, net.n_out, dtype=torch.float64)
    last = np.full((batch, net.n_rec), -(10**6))
    zs, loss = [], 0.0
    for step in range(steps):
        drive = sum((xs[:, step - d + 1] @ (w_in * t(d_in == d)).T) for d in np.unique(d_in) if step - d + 1 >= 0)
        v = alpha * v + drive - V_TH * z.detach()
        a = rho * a + z
        free = t(step - last >= net.n_ref_steps)
        z = Spike.apply(v - (V_TH + beta * a)) * free
        last = np.where(z.detach().numpy() > 0, step, last)
        zs.append(z)
        arriving = sum((zs[step - d + 1] @ (w_out * t(d_out == d)).T) for d in np.unique(d_out) if step - d + 1 >= 0)
        y = kappa * y + arriving
        loss = loss + 0.5 * ((y - t(targets[:, step])) ** 2).sum()
    loss.backward()
    return w_in.grad.numpy(), w_out.grad.numpy(), torch.stack(zs, 1).detach().numpy()


@pytest.mark.parametrize("beta", [0.0, 0.3])
def test_eprop_with_delays_equals_torch_bptt_without_recurrence(beta):
    """e-prop is exact without recurrent weights: with input delays 1–4 and readout delays 1–3 it equals torch
    autograd BPTT (NEST's (1 − κ) factor on the eligibility filter aside, divided out here) — so the eligibility
    traces are aligned with the input delays and the learning signal with the readout delays."""
    w_in, _, w_out, x, batch, delays = random_case(4)
    n = w_in.shape[0]
    delays["w_rec"] = np.ones((n, n), dtype=np.int64)
    net = network(w_in * 1.5, np.zeros((n, n)), w_out, beta=beta, delays=delays)
    run = simulate(net, x)
    g_in, g_out, z_torch = torch_bptt(net, x, batch.targets)
    np.testing.assert_array_equal(run.z, z_torch)
    assert run.z.sum() > 20
    kappa = net.kappa[0]
    for grads in (sequence_gradients(net, x, run, batch, feedback="symmetric", b_random=None),
                  online_gradients(net, x, run, batch, feedback="symmetric", b_random=None)):
        np.testing.assert_allclose(grads.w_in / (1 - kappa), g_in, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(grads.w_out, g_out, rtol=1e-9, atol=1e-11)


# ---------------------------------------------------------------- fixed point: ring buffer, kernel, artifact, refusals

@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("kind", ["alif", "lava_lif"])
def test_kernel_equals_reference_with_delays(seed, kind):
    """The compiled emulator equals the numpy specification with delays 1–6 on every Dense (wraps included:
    random_graph draws exponents that wrap the activations)."""
    from tests.test_fixed_kernel import assert_same_run, random_run

    graph, x = random_run(seed, kind, batch=3)
    rng = np.random.default_rng(100 + seed)
    delayed = {name: replace(d, delays=rng.integers(1, 7, d.weights.shape)) for name, d in graph.dense().items()}
    assert_same_run(replace(graph, **delayed), x)
    assert_same_run(replace(graph, **delayed), x[:1], probe_states=False)


def test_ring_buffer_by_hand():
    """One neuron without decay, input weight 3 with delay 4, exponent −1: each spike adds shift(3, −1) = 1 to
    the ring slot 3 steps ahead; two spikes of one step in two delay groups are shifted separately (1 + 1, not
    shift(6, −1) = 3)."""
    from neuroport.emulator.fixed import emulate, emulate_reference
    from tests.test_fixed_kernel import one_layer

    graph = one_layer("alif", [[3, 3]], -1, vth=2**16)
    graph = replace(graph, w_in=replace(graph.w_in, delays=np.array([[4, 2]])))
    x = np.zeros((1, 8, 2), dtype=np.int64)
    x[0, 1] = 1
    for run in (emulate, emulate_reference):
        v = run(graph, x)[0].states["v"][0, :, 0]
        np.testing.assert_array_equal(v >> 6, [0, 0, 1, 1, 2, 2, 2, 2])  # delay 2 at step 2, delay 4 at step 4
    plain = one_layer("alif", [[3, 3]], -1, vth=2**16)
    assert emulate(plain, x)[0].states["v"][0, -1, 0] >> 6 == 3  # shift(6, −1) without delays


def delayed_model(tmp_path, tiny_doc, delays=(3, 2, 4)):
    from neuroport.ir.loader import load_model
    from tests.conftest import write_yaml

    for proj, delay in zip(tiny_doc["projections"], delays, strict=True):
        proj["delay_steps"] = delay
    return load_model(write_yaml(tmp_path, tiny_doc))


def test_fixed_point_follows_the_float_reference_with_delays(tmp_path, tiny_doc):
    """Quantized with delays, the emulator's spikes follow the float reference's step by step (and do not when
    the delays are dropped); the delays survive the artifact round trip."""
    from neuroport.emulator.fixed import emulate
    from neuroport.hw import load_hw
    from neuroport.ir.artifact import load_artifact, save_artifact
    from neuroport.ir.network import assemble
    from neuroport.pipeline import quantize, task_batch

    graph = delayed_model(tmp_path, tiny_doc)
    fixed = quantize(graph, load_hw("loihi2"))
    np.testing.assert_array_equal(fixed.w_rec.delays[fixed.w_rec.mask], 2)
    x = task_batch(graph, 4, 0).inputs.astype(np.int64)
    run = simulate(assemble(graph), x)
    trace, _ = emulate(fixed, x)
    matched = float((trace.spikes * run.z).sum() / run.z.sum())  # float spikes the emulator makes in the same step
    assert run.z.sum() > 50 and matched > 0.8, (run.z.sum(), matched)
    plain, _ = emulate(replace(fixed, **{k: replace(d, delays=None) for k, d in fixed.dense().items()}), x)
    assert float((plain.spikes * run.z).sum() / run.z.sum()) < matched - 0.2  # without the delays it does not
    loaded = load_artifact(save_artifact(fixed, tmp_path / "artifact"))
    for name, dense in fixed.dense().items():
        np.testing.assert_array_equal(getattr(loaded, name).delays, dense.delays)
    np.testing.assert_array_equal(emulate(loaded, x)[0].readout, trace.readout)


def test_loihi_refuses_delays_beyond_delay_dense(tmp_path, tiny_doc):
    from neuroport.quantization.loihi import quantize_loihi

    from neuroport.errors import UnsupportedError
    from neuroport.hw import load_hw

    graph = delayed_model(tmp_path, tiny_doc, (1, 65, 1))
    with pytest.raises(UnsupportedError, match=r"projection\(s\) rec: delay_steps above 64, the longest delay of "
                                                r"Loihi 2's DelayDense \(6-bit delays\)"):
        quantize_loihi(graph, load_hw("loihi2"))


def test_onchip_learning_refuses_delays(tmp_path, tiny_doc):
    from neuroport.emulator.onchip import DELAYS_REFUSAL, OnChipTrainer
    from neuroport.errors import UnsupportedError
    from neuroport.hw import load_hw
    from neuroport.pipeline import quantize

    fixed = quantize(delayed_model(tmp_path, tiny_doc), load_hw("loihi2"), calibrate=False)
    assert DELAYS_REFUSAL.startswith("on-chip learning with synaptic delays is not supported")
    with pytest.raises(UnsupportedError, match="on-chip learning with synaptic delays is not supported"):
        OnChipTrainer(fixed, None, 2, 20.0, 20.0)  # refused before the rule is looked at


def test_delays_train_and_reduce_the_loss(tmp_path, tiny_doc):
    from neuroport.training.eprop import train_eprop

    tiny_doc["readout"]["loss"] = "mse"
    tiny_doc["task"] = {"name": "pattern_generation", "params": {"duration_ms": 100, "n_groups": 4, "frequencies_hz": [10, 20]}}
    tiny_doc["learning"]["optimizer"]["learning_rate"] = 0.003
    graph = delayed_model(tmp_path, tiny_doc)
    result = train_eprop(graph, 20, batch_size=4)
    assert np.mean([h.loss for h in result.history[-5:]]) < 0.8 * np.mean([h.loss for h in result.history[:5]])
    assert [p.delay_steps for p in result.graph.projections] == [3, 2, 4]


# ---------------------------------------------------------------- SpiNNaker: s16.15 emulator and design rules

def spinnaker_case(tmp_path, tiny_doc, delays):
    """The tiny model as one LIF population (SpiNNaker's model), quantized for spinnaker1; and task inputs."""
    from neuroport.quantization.spinnaker import quantize_spinnaker

    from neuroport.hw import load_hw
    from neuroport.pipeline import task_batch

    tiny_doc["populations"] = tiny_doc["populations"][:1]
    tiny_doc["projections"][0]["target"] = tiny_doc["projections"][1]["source"] = tiny_doc["projections"][1]["target"] = "lif"
    tiny_doc["projections"][2]["source"] = "lif"
    graph = delayed_model(tmp_path, tiny_doc, delays)
    x = task_batch(graph, 3, 0).inputs.astype(np.int64)
    return quantize_spinnaker(graph, load_hw("spinnaker1"), calibration_inputs=x), x


def undelayed(fixed):
    return replace(fixed, projections=tuple(replace(p, delay_steps=1) for p in fixed.projections))


def test_spinnaker_emulator_honours_delays(tmp_path, tiny_doc):
    """Each projection splits by delay (a PyNN projection has one delay); in the s16.15 emulator an input delay
    of 3 equals the undelayed graph fed inputs shifted by 2 steps, a readout delay of 4 the undelayed readout
    shifted by 3 steps (both exactly), and a recurrent delay of 2 leaves the targets untouched one step longer."""
    from neuroport.emulator.spinnaker import emulate_spinnaker

    fixed, x = spinnaker_case(tmp_path, tiny_doc, (3, 2, 4))
    assert {p.name: p.delay_steps for p in fixed.projections} == {
        "w_in_exc_d3": 3, "w_in_inh_d3": 3, "w_rec_exc_d2": 2, "w_rec_inh_d2": 2, "w_out_exc_d4": 4, "w_out_inh_d4": 4}
    only = lambda dense, d: replace(fixed, projections=tuple(  # noqa: E731
        replace(p, delay_steps=d if p.dense == dense else 1) for p in fixed.projections))
    shifted = np.zeros_like(x)
    shifted[:, 2:] = x[:, :-2]
    a, b = emulate_spinnaker(only("w_in", 3), x)[0], emulate_spinnaker(undelayed(fixed), shifted)[0]
    assert a.spikes.sum() > 20
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_array_equal(a.readout, b.readout)
    a, b = emulate_spinnaker(only("w_out", 4), x)[0], emulate_spinnaker(undelayed(fixed), x)[0]
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_array_equal(a.readout[:, 3:], b.readout[:, :-3])
    assert not a.readout[:, :3].any() and b.readout.any()
    no_rec = replace(fixed, projections=tuple(p for p in fixed.projections if p.dense != "w_rec"))
    a, c = emulate_spinnaker(only("w_rec", 2), x)[0], emulate_spinnaker(undelayed(no_rec), x)[0]
    first = int(np.flatnonzero(a.spikes[0].any(axis=1))[0])
    np.testing.assert_array_equal(a.states["v"][0, :first + 2], c.states["v"][0, :first + 2])
    assert not np.array_equal(a.states["v"][0, first + 2], c.states["v"][0, first + 2])


def test_spinnaker_design_rule_names_the_delay_limit(tmp_path, tiny_doc):
    from neuroport.backends.spinnaker.backend import SpiNNakerBackend

    from neuroport.hw import load_hw

    fixed, _ = spinnaker_case(tmp_path, tiny_doc, (1, 300, 1))
    hw = load_hw("spinnaker1")
    errors = [d for d in SpiNNakerBackend().check(fixed, hw) if d.severity == "error"]
    assert {d.message for d in errors} == {"delay of 300 steps outside [1, 288] (resources.max_delay_steps)"}
    assert {d.where for d in errors} == {"w_rec_exc_d300", "w_rec_inh_d300"}


# ---------------------------------------------------------------- multilayer: the example, its blocks and its timing

def test_multilayer_example_blocks_timing_and_learning_signal():
    """examples/multilayer.yaml assembles to input → l1, l1 ↔ l1, l1 → l2, l2 ↔ l2, l2 → readout (nothing else);
    l1's first spike reaches l2 one step later; with random feedback both layers get a gradient, with symmetric
    feedback (B = W_outᵀ) layer 1, which has no readout synapses, gets none."""
    from neuroport.ir.loader import load_model
    from neuroport.ir.network import assemble
    from neuroport.training.eprop import draw_batches, rule_of
    from tests.conftest import ROOT

    graph = load_model(ROOT / "examples" / "multilayer.yaml")
    net = assemble(graph)
    l1 = np.arange(net.n_rec) < 200
    assert net.w_in_mask[l1].all() and not net.w_in_mask[~l1].any()
    assert not net.w_rec_mask[np.ix_(l1, ~l1)].any() and net.w_rec_mask[np.ix_(~l1, l1)].all()
    assert net.w_out_mask[:, ~l1].all() and not net.w_out_mask[:, l1].any()
    batch = draw_batches(graph, 1, seed=0)[0]
    x = batch.inputs.astype(np.float64)
    run = simulate(net, x)
    cut = replace(net, w_rec=np.where(np.outer(~l1, l1), 0.0, net.w_rec))
    first = int(np.flatnonzero(run.z[0][:, l1].any(axis=1))[0])
    v2, alone = run.v[0][:, ~l1], simulate(cut, x).v[0][:, ~l1]
    np.testing.assert_array_equal(v2[:first + 1], alone[:first + 1])
    assert not np.array_equal(v2[first + 1], alone[first + 1])
    rule = rule_of(graph)
    random = sequence_gradients(net, x, run, batch, feedback="random", b_random=rule.feedback_weights)
    symmetric = sequence_gradients(net, x, run, batch, feedback="symmetric", b_random=None)
    assert np.abs(random.w_in[l1]).sum() > 0 and np.abs(random.w_rec[np.ix_(~l1, ~l1)]).sum() > 0
    assert not symmetric.w_in.any() and not symmetric.w_rec[l1].any() and symmetric.w_rec[~l1].any()


@pytest.mark.parametrize("value,expected", [(0, "expected an integer ≥ 1, got 0"), (2.5, "expected an integer")])
def test_loader_rejects_bad_delays_with_the_yaml_path(tmp_path, tiny_doc, value, expected):
    from neuroport.errors import ModelError
    from neuroport.ir.loader import load_model
    from tests.conftest import write_yaml

    tiny_doc["projections"][1]["delay_steps"] = value
    with pytest.raises(ModelError, match=r"projections\[1\]\.delay_steps: " + expected):
        load_model(write_yaml(tmp_path, tiny_doc))


def test_delays_longer_than_the_sequence_deliver_nothing():
    """A delay beyond the last step: its synapses never deliver, forward and gradients (no index wrap-around)."""
    w_in, w_rec, w_out, x, batch, _ = random_case(6, steps=20)
    shapes = {"w_in": w_in.shape, "w_rec": w_rec.shape, "w_out": w_out.shape}
    far = network(w_in, w_rec, w_out, delays={k: np.full(s, 40) for k, s in shapes.items()})
    run = simulate(far, x)
    assert not run.z.any() and not run.y.any()
    for gradients in (sequence_gradients, online_gradients):
        g = gradients(far, x, run, batch, feedback="symmetric", b_random=None)
        assert not g.w_in.any() and not g.w_rec.any() and not g.w_out.any()


def test_bptt_and_nest_engines_refuse_delays(tmp_path, tiny_doc):
    """The BPTT baseline and NEST's e-prop synapses have one-step synapses: a delayed model is refused, not trained
    as if undelayed."""
    pytest.importorskip("torch")
    from neuroport.backends.nest.engine import refusals

    from neuroport.errors import UnsupportedError
    from neuroport.ir.network import assemble
    from neuroport.training.bptt import train_bptt

    graph = delayed_model(tmp_path, tiny_doc)
    with pytest.raises(UnsupportedError, match=r"--engine bptt cannot train this model: projections\[\]\.delay_steps: "
                                               "the BPTT baseline has one-step synapses only"):
        train_bptt(graph, 1)
    assert "projections[].delay_steps: NEST's e-prop synapses need a delay of exactly one step" in refusals(
        assemble(graph), graph.learning)


def test_check_shows_the_delays(capsys):
    from neuroport.cli import main

    try:
        main(["check", "examples/pattern_generation_delays.yaml"])
    except SystemExit as stop:
        assert stop.code in (0, None)
    out = capsys.readouterr().out
    assert "fast_to_slow: fast → slow  200×200, 40,000 synapses (100%), delay 8 steps" in out
    assert "fast_recurrent: fast → fast  200×200, 39,800 synapses (100%)\n" in out
