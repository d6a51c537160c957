"""Izhikevich neurons: the float forward against hand-computed steps and NEST's ``izhikevich``; the online e-prop
gradient against torch autograd of the same loss (exact without recurrent weights); YAML load/write; training;
the refusals of the stages and targets that do not support them (Loihi runs them: tests/test_fixed_izhikevich.py,
tests/lava/test_izhikevich_lava.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from neuroport.emulator.izhikevich import assemble_izhikevich, simulate_izhikevich
from neuroport.errors import ModelError, UnsupportedError
from neuroport.ir.loader import load_model
from neuroport.ir.writer import write_model
from neuroport.tasks import Batch
from neuroport.training.izhikevich import izhikevich_gradients
from tests.conftest import write_yaml

HERE = Path(__file__).parent
ROOT = HERE.parent

IZH = {
    "neuroport": 1, "name": "izh", "dt_ms": 1.0, "seed": 5,
    "input": {"name": "in", "size": 4},
    "populations": [{"name": "izh", "model": "izhikevich", "size": 5, "a": 0.02, "b": 0.2, "c_mv": -65.0,
                     "d": {"uniform": [2.0, 8.0]}, "v_init_mv": -65.0, "u_init": -13.0, "i_offset": 4.0,
                     "psi_width_mv": 20.0, "surrogate": {"function": "piecewise_linear", "gamma": 0.3}}],
    "readout": {"name": "out", "size": 2, "tau_out_ms": 20.0, "loss": "cross_entropy"},
    "projections": [
        {"name": "input", "source": "in", "target": "izh", "init": {"distribution": "normal", "gain": 30.0}},
        {"name": "rec", "source": "izh", "target": "izh", "init": {"distribution": "normal", "gain": 5.0},
         "zero_diagonal": True},
        {"name": "output", "source": "izh", "target": "out", "init": {"distribution": "normal", "gain": 1.0}},
    ],
    "learning": {"feedback": "symmetric", "optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 4},
    "task": {"name": "evidence_accumulation",
             "params": {"n_cues": 3, "cue_ms": 20, "gap_ms": 10, "delay_ms": 30, "recall_ms": 20}},
}


@pytest.fixture
def izh_graph(tmp_path):
    return load_model(write_yaml(tmp_path, IZH))


def test_forward_matches_hand_computed_steps(izh_graph):
    """v=−70, u=−14, I=10, a=0.02, b=0.2, dt=1: v' = −70 + (196 − 350 + 140 + 14 + 10) = −60, u' = −14 + 0.02·0;
    then v' = −60 + (144 − 300 + 140 + 14 + 10) = −52, u' = −14 + 0.02 (−12 + 14) = −13.96."""
    net = assemble_izhikevich(izh_graph)
    one = lambda v: np.array([float(v)])  # noqa: E731
    net = replace(net, n_in=1, n_rec=1, n_out=1, a=one(0.02), b=one(0.2), c_mv=one(-65.0), d=one(2.0),
                  v_init_mv=one(-70.0), u_init=one(-14.0), i_offset=one(10.0), psi_height=one(0.1),
                  psi_scale=one(0.1), tau_out_ms=one(20.0), w_in=np.zeros((1, 1)), w_rec=np.zeros((1, 1)),
                  w_out=np.ones((1, 1)))
    run = simulate_izhikevich(net, np.zeros((1, 2, 1)))
    np.testing.assert_allclose(run.v[0, :, 0], [-60.0, -52.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(run.u[0, :, 0], [-14.0, -13.96], rtol=0, atol=1e-12)
    # ψ = 0.1 · max(0, 1 − 0.1 |v' − 30|) is 0 far below the peak; a spike resets v to c and adds d to u
    assert run.psi[0].tolist() == [[0.0], [0.0]]
    spiking = replace(net, v_init_mv=one(29.0), u_init=one(0.0), i_offset=one(0.0))
    run = simulate_izhikevich(spiking, np.zeros((1, 1, 1)))
    # v' = 29 + 0.04·841 + 145 + 140 = 347.64 ≥ 30 → z = 1, v = −65, u = 0 + 0.02·5.8 + 2 = 2.116
    assert (run.z[0, 0, 0], run.v[0, 0, 0]) == (1.0, -65.0)
    np.testing.assert_allclose(run.u[0, 0, 0], 2.116, rtol=0, atol=1e-12)


@pytest.mark.nest
@pytest.mark.parametrize("dt_ms", [1.0, 0.5])
def test_forward_matches_nest_izhikevich(izh_graph, tmp_path, dt_ms):
    """NEST's ``izhikevich`` (consistent_integration: forward Euler) with a spike of weight dt·w added to V_m after
    the Euler step, a generator spike at time t·dt feeding step t, recurrent delay dt: every V_m, U_m and spike."""
    pytest.importorskip("nest")
    net = replace(assemble_izhikevich(izh_graph), dt_ms=dt_ms)
    rng = np.random.default_rng(11)
    x = (rng.random((1, round(120 / dt_ms), net.n_in)) < 0.2).astype(np.uint8)
    x[:, 0] = 0  # a generator spike at t = 0 would be stamped before the first step
    run = simulate_izhikevich(net, x)
    spec = tmp_path / "spec.npz"
    np.savez(spec, x=x[0], w_in=net.w_in * dt_ms, w_rec=net.w_rec * dt_ms, dt_ms=dt_ms,
             **{k: getattr(net, k) for k in ("a", "b", "c_mv", "d", "v_init_mv", "u_init", "i_offset")})
    subprocess.run([sys.executable, str(HERE / "nest" / "run_nest_izhikevich.py"), str(spec), str(tmp_path / "out.npz")],
                   check=True, capture_output=True, text=True, timeout=120)
    with np.load(tmp_path / "out.npz") as nest_out:
        np.testing.assert_allclose(nest_out["v"], run.v[0], rtol=0, atol=1e-9)
        np.testing.assert_allclose(nest_out["u"], run.u[0], rtol=0, atol=1e-9)
        assert np.array_equal(nest_out["z"], run.z[0])
    assert run.z.sum() > 10  # the comparison covers spikes and resets


def euler_step(torch, t64, net):
    """One forward-Euler step of NEST's ``izhikevich`` as a function of (v, u, z, input current, recurrent current,
    carry): v' = v + dt (0.04 v² + 5 v + 140 − u + I), u' = u + dt a (b v − u), I = i_offset + input + recurrent."""
    a, b, dt, i_offset = t64(net.a), t64(net.b), net.dt_ms, t64(net.i_offset)

    def step(v, u, z, i_in, i_rec, carry):
        current = i_offset + i_in + i_rec
        return v + dt * (0.04 * v * v + 5 * v + 140 - u + current), u + dt * a * (b * v - u), carry

    return step


def torch_gradients(net, x: np.ndarray, batch: Batch, c_reg: float, f_target_hz: float, make_step=euler_step):
    """Autograd (BPTT) of the same forward, written independently: H with the surrogate ψ as its derivative, the
    spike in the reset detached; ``make_step(torch, t64, net)`` gives the integration step (:func:`euler_step`).
    Returns d/dW_in and d/dW_rec of (1 − κ)·loss + ½ c_reg Σ (rate − f)², and d/dW_out of loss."""
    torch = pytest.importorskip("torch")
    t64 = lambda a: torch.tensor(np.asarray(a, dtype=np.float64))  # noqa: E731

    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, v_pre):
            ctx.save_for_backward(v_pre)
            return (v_pre >= 30.0).double()

        @staticmethod
        def backward(ctx, grad):
            (v_pre,) = ctx.saved_tensors
            psi = t64(net.psi_height) * torch.clamp(1.0 - t64(net.psi_scale) * torch.abs(v_pre - 30.0), min=0.0)
            return grad * psi

    w_in, w_rec, w_out = (t64(w).requires_grad_() for w in (net.w_in, net.w_rec, net.w_out))
    c, d, dt, step = t64(net.c_mv), t64(net.d), net.dt_ms, make_step(torch, t64, net)
    v, u = t64(net.v_init_mv).expand(x.shape[0], -1), t64(net.u_init).expand(x.shape[0], -1)
    z = torch.zeros(x.shape[0], net.n_rec, dtype=torch.float64)
    carry, kappa, y, zs, ys = 0.0 * z, float(net.kappa[0]), 0.0, [], []
    for t in range(x.shape[1]):
        v_pre, u_pre, carry = step(v, u, z, t64(x[:, t]) @ w_in.T, z @ w_rec.T, carry)
        z = Spike.apply(v_pre)
        v, u = v_pre * (1 - z.detach()) + c * z.detach(), u_pre + d * z.detach()
        y = kappa * y + z @ w_out.T
        zs.append(z)
        ys.append(y)
    y_all, mask = torch.stack(ys, 1), t64(batch.loss_mask)[..., None]
    loss = -(mask * t64(batch.targets) * torch.log_softmax(y_all, -1)).sum()
    rate = torch.stack(zs, 1).mean(1)
    reg = 0.5 * c_reg * ((rate - f_target_hz * dt * 1e-3) ** 2).sum()
    g_out = torch.autograd.grad(loss, w_out, retain_graph=True)[0]
    g_in, g_rec = torch.autograd.grad((1 - kappa) * loss + reg, (w_in, w_rec))
    return g_in.numpy(), g_rec.numpy(), g_out.numpy()


def random_batch(rng, n, steps, n_in, window=40):
    """Bernoulli(0.3) inputs, a random class per sample, the loss counted from step ``window`` on."""
    x = (rng.random((n, steps, n_in)) < 0.3).astype(np.float64)
    labels = rng.integers(0, 2, n)
    targets = np.zeros((n, steps, 2))
    targets[np.arange(n), :, labels] = 1.0
    mask = np.zeros((n, steps), dtype=bool)
    mask[:, window:] = True
    return Batch(inputs=x, targets=targets, loss_mask=mask, labels=labels)


@pytest.mark.parametrize("c_reg", [0.0, 3.0])
def test_eprop_equals_autograd_without_recurrence(izh_graph, c_reg):
    net = assemble_izhikevich(izh_graph)
    width_mv = 100.0  # ψ > 0 for v' within 100 mV of the peak: most steps carry gradient
    net = replace(net, w_rec=np.zeros_like(net.w_rec), psi_scale=np.full(net.n_rec, 1.0 / width_mv))
    batch = random_batch(np.random.default_rng(2), 3, 60, net.n_in)
    x = batch.inputs
    run = simulate_izhikevich(net, x)
    assert run.z.sum() > 20 and np.count_nonzero(run.psi) > 100  # spikes, resets and ψ inside the window
    grads = izhikevich_gradients(net, x, run, batch, feedback="symmetric", b_random=None, c_reg=c_reg, f_target_hz=10.0)
    g_in, _, g_out = torch_gradients(net, x, batch, c_reg, 10.0)
    assert np.abs(g_in).max() > 1e-3
    np.testing.assert_allclose(grads.w_in, g_in * net.w_in_plastic, rtol=0, atol=1e-10)
    np.testing.assert_allclose(grads.w_out, g_out, rtol=0, atol=1e-10)


def test_eprop_equals_autograd_on_a_feedforward_recurrent_block(izh_graph):
    """W_rec with only neurons 0, 1 → 2, 3, 4 (a second layer): the spikes of 2–4 reach nothing but the readout, so
    e-prop's gradient of their input and recurrent weights (eligibility from z[t−1]) is the exact one; neurons 0 and
    1 also act through 2–4, which e-prop leaves out, so their gradient differs."""
    net = assemble_izhikevich(izh_graph)
    w_rec = np.zeros_like(net.w_rec)
    w_rec[2:, :2] = np.random.default_rng(8).normal(0.0, 20.0, (3, 2))
    net = replace(net, w_rec=w_rec, w_rec_plastic=w_rec != 0, psi_scale=np.full(net.n_rec, 0.01))
    rng = np.random.default_rng(3)
    x = (rng.random((2, 60, net.n_in)) < 0.3).astype(np.float64)
    labels = np.array([0, 1])
    targets = np.zeros((2, 60, 2))
    targets[np.arange(2), :, labels] = 1.0
    batch = Batch(inputs=x, targets=targets, loss_mask=np.ones((2, 60), dtype=bool), labels=labels)
    run = simulate_izhikevich(net, x)
    assert run.z[:, :, :2].sum() > 10  # the first layer spikes into the second
    grads = izhikevich_gradients(net, x, run, batch, feedback="symmetric", b_random=None, c_reg=1.0)
    g_in, g_rec, _ = torch_gradients(net, x, batch, 1.0, 10.0)
    assert np.abs(g_rec[2:, :2]).max() > 1e-3
    np.testing.assert_allclose(grads.w_rec[2:, :2], g_rec[2:, :2], rtol=0, atol=1e-10)
    np.testing.assert_allclose(grads.w_in[2:], g_in[2:], rtol=0, atol=1e-10)
    assert np.abs(grads.w_in[:2] - g_in[:2]).max() > 1e-3


def test_yaml_round_trip_and_defaults(izh_graph, tmp_path):
    pop = izh_graph.populations[0]
    assert pop.kind == "izhikevich" and pop.c_mv.tolist() == [-65.0] * 5
    assert np.all((pop.d >= 2.0) & (pop.d <= 8.0)) and np.unique(pop.d).size == 5
    assert load_model(write_model(izh_graph, tmp_path / "out" / "m.yaml")) == izh_graph
    doc = {**IZH, "populations": [{"name": "izh", "model": "izhikevich", "size": 2}]}
    defaults = load_model(write_yaml(tmp_path, doc, "d.yaml")).populations[0]  # PyNN's Izhikevich defaults
    assert [float(getattr(defaults, k)[0]) for k in ("a", "b", "c_mv", "d", "v_init_mv", "u_init", "i_offset")] == \
        [0.02, 0.2, -65.0, 2.0, -70.0, -14.0, 0.0]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("c_mv", 30.0, "populations[0].c_mv: the reset voltage must be below the spike peak (30.0 mV)"),
    ("psi_width_mv", 0.0, "populations[0].psi_width_mv: expected a positive surrogate width in mV"),
    ("tau_m_ms", 20.0, "populations[0].tau_m_ms: unknown field; known fields here: a, b, c_mv, d, i_offset,"),
])
def test_yaml_errors(tmp_path, key, value, message):
    doc = {**IZH, "populations": [{**IZH["populations"][0], key: value}]}
    with pytest.raises(ModelError, match=re.escape(message)):
        load_model(write_yaml(tmp_path, doc))


def test_training_lowers_the_loss(tmp_path):
    """`train_eprop` dispatches Izhikevich networks to the online trainer (NEURON_TRAINERS); on a small pattern
    generation task (frozen clock input, one target), 15 iterations of e-prop lower the loss."""
    from neuroport.training.eprop import NEURON_TRAINERS, train_eprop

    assert NEURON_TRAINERS["izhikevich"] == "neuroport.training.izhikevich:train_izhikevich"
    doc = {**IZH, "readout": {"name": "out", "size": 1, "tau_out_ms": 20.0, "loss": "mse"},
           "learning": {"feedback": "random", "optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 1},
           "task": {"name": "pattern_generation", "params": {"duration_ms": 300, "frequencies_hz": [5.0, 10.0],
                                                              "n_groups": 2, "rate_hz": 100.0}}}
    history = train_eprop(load_model(write_yaml(tmp_path, doc)), 15).history
    assert len(history) == 15 and all(np.isfinite(h.loss) for h in history)
    assert np.mean([h.loss for h in history[-3:]]) < 0.7 * np.mean([h.loss for h in history[:3]])


def test_adaptive_feedback_and_sgd(izh_graph):
    """The rest of the LIF trainer carries over: Kolen-Pollack feedback is updated, SGD steps, masks hold."""
    from neuroport.training.eprop import train_eprop

    b_before = np.random.default_rng(0).normal(size=(izh_graph.n_recurrent, 2))
    rule = replace(izh_graph.learning, feedback="adaptive", feedback_weights=b_before,
                   optimizer=replace(izh_graph.learning.optimizer, name="sgd", learning_rate=0.01), batch_size=2)
    trained = train_eprop(replace(izh_graph, learning=rule), 2).graph
    assert not np.array_equal(trained.learning.feedback_weights, b_before)
    rec = next(p for p in trained.projections if p.name == "rec")
    assert np.all(np.diag(rec.weights) == 0.0)  # zero_diagonal: absent synapses stay absent
    assert not np.array_equal(rec.weights, next(p for p in izh_graph.projections if p.name == "rec").weights)


def test_mixed_and_variant_refusals(izh_graph):
    from neuroport.training.eprop import train_eprop

    lif = {"name": "lif", "model": "lif", "size": 3, "tau_m_ms": 20.0, "v_th": 0.6}
    mixed = {**IZH, "populations": [*IZH["populations"], lif],
             "projections": [{**p, "target": ["izh", "lif"]} if p["name"] == "input" else
                             {**p, "source": ["izh", "lif"]} if p["name"] == "output" else p
                             for p in IZH["projections"]]}
    with pytest.raises(UnsupportedError, match=re.escape(
            "populations[1].model: population 'lif' is lif: networks mixing Izhikevich and lif populations are not "
            "supported; make every population izhikevich")):
        train_eprop(load_model(write_yaml(Path(pytest.importorskip("tempfile").mkdtemp()), mixed)), 1)
    plus = replace(izh_graph, learning=replace(izh_graph.learning, variant="eprop_plus"))
    with pytest.raises(UnsupportedError, match=re.escape(
            "learning.variant: e-prop variant 'eprop_plus' is not available for Izhikevich neurons; supported: bsshslm_2020")):
        train_eprop(plus, 1)
    delayed = replace(izh_graph, projections=tuple(replace(p, delay_steps=3) if p.name == "rec" else p
                                                   for p in izh_graph.projections))
    with pytest.raises(UnsupportedError, match=re.escape(
            "projections[1].delay_steps: delay_steps 3: Izhikevich networks support synaptic delays of 1 step only")):
        train_eprop(delayed, 1)
    rewired = replace(izh_graph, learning=replace(izh_graph.learning, rewiring=object()))
    with pytest.raises(UnsupportedError, match=re.escape(
            "learning.rewiring: rewiring (DEEP R) is not available for Izhikevich networks; remove `rewiring`")):
        train_eprop(rewired, 1)


LIF_ONLY = ("populations[0].model: population 'izh' has neuron model 'izhikevich', but this stage works on LIF/ALIF "
            "networks only (NEST e-prop, BPTT, NIR export, on-chip learning, the fixed-point profiles); train it with "
            "`neuroport train --engine numpy`")
SPINNAKER = ("populations[0].integration: spinnaker1: population 'izh' is Izhikevich with integration 'euler': "
             "sPyNNaker's only Izhikevich cells (IZK_curr_exp, IZK_cond_exp) have exponential synapses and integrate "
             "with an RK2 midpoint step (0.040008544921875 v², a 1.85·h step after each spike), not the forward-Euler, "
             "one-step-input model this population is trained with; set `integration: spinnaker_rk2` (and "
             "`tau_syn_ms`) on the population to train sPyNNaker's IZK_curr_exp itself, which compile and verify lower "
             "to SpiNNaker")


def _cli(*args):
    from click.testing import CliRunner

    from neuroport.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize(("args", "message"), [
    (("compile", "{model}", "--target", "spinnaker"), SPINNAKER),
    (("verify", "{model}", "--target", "spinnaker"), SPINNAKER),
    (("train", "{model}", "--engine", "nest", "-i", "1"), LIF_ONLY),
    (("train", "{model}", "--engine", "bptt", "-i", "1"), LIF_ONLY),
    (("train", "{model}", "--on-chip", "-i", "1"), LIF_ONLY),
    (("convert", "{model}", "{tmp}/m.nir"), LIF_ONLY),
])
def test_cli_refusals(tmp_path, capsys, args, message):
    """Every stage that cannot run an Izhikevich network says so in one line, with exit status 2."""
    assert_cli_refuses(tmp_path, capsys, IZH, args, message)


def assert_cli_refuses(tmp_path, capsys, doc: dict, args: tuple[str, ...], message: str) -> None:
    """`neuroport ARGS` on the model ``doc`` ({model}, {tmp} filled in; -o for train and compile) exits with status 2
    and prints ``error: MESSAGE`` without a traceback."""
    from neuroport.cli import main

    model = write_yaml(tmp_path, doc)
    extra = ("-o", str(tmp_path / "out")) if args[0] in ("train", "compile") else ()
    with pytest.raises(SystemExit) as exit_info:
        main([a.format(model=model, tmp=tmp_path) for a in args] + list(extra))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {message}" in err and "Traceback" not in err


def test_cli_check_and_train(tmp_path):
    model = write_yaml(tmp_path, IZH)
    check = _cli("check", model)
    assert check.exit_code == 0, check.output
    assert "izhikevich izh: 5 neurons, a 0.02, b 0.2, c_mv -65.0, d [" in check.output
    out = tmp_path / "trained"
    result = _cli("train", model, "-i", "2", "--batch-size", "2", "-o", out)
    assert result.exit_code == 0, result.output
    assert {"model.yaml", "curve.json", "curve.png", "sample.png"} <= {p.name for p in out.iterdir()}
    assert load_model(out / "model.yaml").populations[0].kind == "izhikevich"
