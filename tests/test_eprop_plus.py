"""e-prop+ (variant eprop_plus) without NEST installed: the float trainer reproduces the reference losses in NEST
3.10's own test file (``testsuite/pytests/synapses/test_eprop_plasticity.py``, ``test_eprop_regression``), and
the YAML section, the refusals and the SpiNNaker fixed-point refusal are exact.  The comparison with a live NEST run is in
tests/nest/test_eprop_plus_vs_nest.py."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from neuroport.errors import ModelError, UnsupportedError
from neuroport.hw import load_hw
from neuroport.ir.learning_rule import EpropPlus, EpropRule, Optimizer
from neuroport.ir.loader import load_model
from neuroport.ir.network import Network
from neuroport.ir.writer import write_model
from neuroport.tasks import Batch
from neuroport.training.eprop import train_eprop
from neuroport.training.eprop_plus import PlusConstants, initial_state, run_sequences

EXAMPLE = "examples/pattern_generation_eprop_plus.yaml"

# NEST 3.10, test_eprop_plasticity.py::test_eprop_regression (losses of 5 iterations of 100 steps)
NEST_REFERENCE = {
    ("eprop_iaf", "adam"): [0.14000491891386, 0.28735818029752, 0.22263713699860, 0.23015072431384, 0.17565248170694],
    ("eprop_iaf_adapt", "gradient_descent"): [0.02242584487453, 0.01916753791522, 0.00571493935652,
                                              0.00037875376195, 0.00037823157578],
}


def nest_test_network(model: str) -> tuple[Network, np.ndarray, np.ndarray]:
    """The network, feedback and frozen input of NEST's test, drawn exactly as it draws them."""
    np.random.seed(1)
    n, scale = 100, 1.0 - 0.97
    f32 = np.float32
    w_in = np.array(np.random.randn(n, n).T / np.sqrt(n), dtype=f32)
    w_rec = np.array(np.random.randn(n, n).T / np.sqrt(n), dtype=f32)
    np.fill_diagonal(w_rec, 0.0)
    w_out = np.array(np.random.randn(n, 1).T / np.sqrt(n), dtype=f32) * scale
    feedback = np.array(np.random.randn(n, 1) / np.sqrt(n), dtype=f32)
    w_in, w_rec, feedback = (w * scale for w in (w_in, w_rec, feedback))  # NEST's eprop_iaf(_adapt) rescaling
    spikes = (np.random.rand(100, n) < 0.05).astype(np.uint8)  # (step, input): the frozen sequence
    adaptive = model == "eprop_iaf_adapt"
    full = lambda v: np.full(n, float(v))  # noqa: E731
    ones = lambda w: np.ones(w.shape, bool)  # noqa: E731
    net = Network(
        dt_ms=1.0, n_in=n, n_rec=n, n_out=1, tau_m_ms=full(30.0), v_th=full(0.03), t_ref_ms=full(0.0),
        beta=full(0.0174 if adaptive else 0.0), tau_a_ms=full(2000.0 if adaptive else np.inf),
        surrogate_gamma=full(10.0 * 0.03), surrogate_beta=full(1.0), surrogate_function="piecewise_linear",
        tau_out_ms=np.full(1, 30.0), loss="mse", w_in=w_in.astype(float), w_rec=w_rec.astype(float),
        w_out=w_out.astype(float), w_in_mask=ones(w_in), w_rec_mask=w_rec != 0, w_out_mask=ones(w_out),
        w_in_plastic=ones(w_in), w_rec_plastic=w_rec != 0, w_out_plastic=ones(w_out))
    return net, feedback.astype(float), spikes


@pytest.mark.parametrize("model,optimizer", list(NEST_REFERENCE))
def test_reproduces_nest_reference_losses(model, optimizer):
    """NEST's test: 5 × 100 steps of frozen noise, target 0 (its sines have less than one period in 100 steps and
    are shifted to start at 0), NEST's default optimize_each_step, trace cutoff 100 ms.  Its loss of iteration k
    sums (y[s − 1] − y*[s])² over the iteration's steps s (its target reaches the readout one step before the
    spikes of the same step do)."""
    net, feedback, spikes = nest_test_network(model)
    opt = Optimizer(name="adam" if optimizer == "adam" else "sgd", learning_rate=1e-4 * 0.03**2, epsilon=1e-7)
    rule = EpropRule(variant="eprop_plus", feedback="random", feedback_weights=feedback, optimizer=opt,
                     c_reg=300.0 / 100, f_target_hz=10.0,
                     plus=EpropPlus(kappa=0.97, kappa_reg=0.97, isi_trace_cutoff_steps=100, optimize_each_step=True))
    stream = np.tile(spikes, (5, 1))[None]
    batch = Batch(stream, np.zeros((1, 500, 1)), np.ones((1, 500), bool))
    err, _ = run_sequences(initial_state(net), PlusConstants.of(net, rule), batch, np.zeros(net.n_in))
    y_shifted = np.concatenate([[0.0], err[:-1, 0]])  # y[s − 1] (target 0: err = y)
    losses = 0.5 * np.sum(y_shifted.reshape(5, 100) ** 2, axis=1)
    np.testing.assert_allclose(losses, NEST_REFERENCE[(model, optimizer)], rtol=1e-8)


def test_example_loads_with_its_eprop_plus_settings_and_round_trips(tmp_path):
    graph = load_model(EXAMPLE)
    assert graph.learning.variant == "eprop_plus"
    assert graph.learning.plus == EpropPlus(kappa=0.97, kappa_reg=0.97, isi_trace_cutoff_steps=100,
                                            optimize_each_step=False)
    assert load_model(write_model(graph, tmp_path / "m.yaml")) == graph


def _model_text(learning_extra: str, loss: str = "mse", variant: str = "eprop_plus") -> str:
    text = open(EXAMPLE).read()
    text = text.replace("  variant: eprop_plus\n", f"  variant: {variant}\n")
    text = text.replace("  loss: mse\n", f"  loss: {loss}\n")
    return text.replace(
        "  eprop_plus: {kappa: 0.97, kappa_reg: 0.97, isi_trace_cutoff_ms: 100.0, optimize_each_step: false}\n",
        learning_extra)


@pytest.mark.parametrize("extra,variant,path,message", [
    ("  eprop_plus: {kappa: 1.0}\n", "eprop_plus", "learning.eprop_plus.kappa", "expected a number in [0, 1), got 1.0"),
    ("  eprop_plus: {isi_trace_cutoff_ms: 1.0}\n", "eprop_plus", "learning.eprop_plus.isi_trace_cutoff_ms",
     "expected at least 2 steps"),
    ("  eprop_plus: {kappa: 0.9}\n", "bsshslm_2020", "learning.eprop_plus",
     "`eprop_plus` is read only with `variant: eprop_plus`, not 'bsshslm_2020'"),
    ("  eprop_plus: {kapa: 0.9}\n", "eprop_plus", "learning.eprop_plus.kapa", "unknown field"),
])
def test_yaml_errors_name_the_path(tmp_path, extra, variant, path, message):
    model = tmp_path / "m.yaml"
    model.write_text(_model_text(extra, variant=variant))
    with pytest.raises(ModelError) as info:
        load_model(model)
    assert info.value.path == path and message in str(info.value)


def test_defaults_without_a_section(tmp_path):
    model = tmp_path / "m.yaml"
    model.write_text(_model_text(""))
    assert load_model(model).learning.plus == EpropPlus()


@pytest.mark.parametrize("change,path,message", [
    ({"loss": "cross_entropy"}, "readout.loss",
     "e-prop+ (variant eprop_plus) does not support loss 'cross_entropy': NEST 3.10's eprop_readout computes the "
     "mean-squared error only"),
    ({"feedback": "symmetric"}, "learning.feedback",
     "e-prop+ (variant eprop_plus) does not support feedback 'symmetric': e-prop+ learning-signal connections have "
     "fixed weights; use random feedback"),
    ({"weight_decay": 1e-4}, "learning.weight_decay",
     "e-prop+ (variant eprop_plus) does not support weight_decay: NEST's e-prop optimizers have no weight decay"),
    ({"optimizer": Optimizer(decay_factor=0.5, decay_every=10)}, "learning.optimizer.decay",
     "e-prop+ (variant eprop_plus) does not support a learning-rate decay: NEST's e-prop optimizers keep the "
     "learning rate constant"),
    ({"average_gradient": True}, "learning.average_gradient",
     "e-prop+ (variant eprop_plus) does not support average_gradient: e-prop+ has no update interval to average over"),
    ({"learning_window_steps": 10}, "learning.learning_window_ms",
     "e-prop+ (variant eprop_plus) does not support learning_window_ms: e-prop+ has no update interval; the task's "
     "loss mask is the learning window"),
    ({"delay_steps": 2}, "projections",
     "e-prop+ (variant eprop_plus) does not support synaptic delays other than 1 step: NEST's eprop_synapse requires "
     "a delay of one step"),
])
def test_refusals_are_clear_model_errors(change, path, message):
    graph = load_model(EXAMPLE)
    if "loss" in change:
        graph = replace(graph, readout=replace(graph.readout, loss=change["loss"]))
    elif "delay_steps" in change:
        graph = replace(graph, projections=(replace(graph.projections[0], delay_steps=2), *graph.projections[1:]))
    else:
        graph = replace(graph, learning=replace(graph.learning, **change))
    with pytest.raises(ModelError) as info:
        train_eprop(graph, 1)
    assert info.value.path == path and message in str(info.value)


def test_train_eprop_dispatches_to_eprop_plus_and_learns():
    """A shortened example (200 ms sequences): the loss falls over 15 iterations, the rate follows f_target."""
    graph = load_model(EXAMPLE)
    graph = replace(graph, task=replace(graph.task, params={**graph.task.params, "duration_ms": 200}),
                    learning=replace(graph.learning, optimizer=Optimizer(name="adam", learning_rate=2e-3)))
    result = train_eprop(graph, 15)
    losses = [h.loss for h in result.history]
    assert len(losses) == 15 and np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3])
    trained = {p.name: p.weights for p in result.graph.projections}
    assert all(not np.array_equal(trained[p.name], p.weights) for p in graph.projections)


def test_spinnaker_refuses_eprop_plus():
    """SpiNNaker's fixed-point neurons reset a step after the spike (Loihi runs e-prop+ neurons:
    tests/test_eprop_plus_loihi.py)."""
    from neuroport.quantization.spinnaker import quantize_spinnaker

    hw = load_hw("spinnaker1")
    with pytest.raises(UnsupportedError) as info:
        quantize_spinnaker(load_model(EXAMPLE), hw)
    assert info.value.path == "learning.variant"
    assert info.value.message.startswith(f"{hw.name} does not support learning.variant 'eprop_plus': e-prop+ neurons "
                                      "reset in the spike step")


def test_simulate_plus_resets_in_the_spike_step():
    """One LIF neuron driven by a constant input spike train (weight 0.7 v_th per step): the spike train of
    e-prop+ dynamics, v ← α v + w, spike if v ≥ v_th, v ← v − v_th in the same step, computed here by hand,
    differs from bsshslm_2020's (reset one step later), which the reference simulator reproduces."""
    from neuroport.emulator.reference import simulate
    from neuroport.training.eprop_plus import simulate_plus

    graph = load_model(EXAMPLE)
    net = replace(nest_test_network("eprop_iaf")[0], n_in=1, n_rec=1, tau_m_ms=np.array([20.0]),
                  v_th=np.array([1.0]), t_ref_ms=np.array([0.0]), beta=np.zeros(1), tau_a_ms=np.full(1, np.inf),
                  surrogate_gamma=np.full(1, 0.3), surrogate_beta=np.ones(1), tau_out_ms=np.full(1, 30.0),
                  w_in=np.array([[0.7]]), w_rec=np.zeros((1, 1)), w_out=np.ones((1, 1)))
    alpha, steps = np.exp(-1 / 20), 30
    v, plus_spikes, bss_spikes, v_b, z_b = 0.0, [], [], 0.0, 0.0
    for _ in range(steps):
        v = alpha * v + 0.7
        plus_spikes.append(float(v >= 1.0))
        v -= plus_spikes[-1]
        v_b = alpha * v_b + 0.7 - z_b
        z_b = float(v_b >= 1.0)
        bss_spikes.append(z_b)
    assert plus_spikes != bss_spikes
    x = np.ones((1, steps, 1), np.uint8)
    graph_1 = replace(graph, input=replace(graph.input, size=1),
                      populations=(replace(graph.populations[0], size=1, tau_m_ms=net.tau_m_ms, v_th=net.v_th,
                                           t_ref_ms=net.t_ref_ms),),
                      projections=tuple(replace(p, weights=w) for p, w in
                                        zip(graph.projections, (net.w_in, net.w_rec, net.w_out), strict=True)))
    assert simulate_plus(graph_1, x).z[0, :, 0].tolist() == plus_spikes
    assert simulate(net, x).z[0, :, 0].tolist() == bss_spikes


def test_check_shows_the_eprop_plus_settings():
    from click.testing import CliRunner

    from neuroport.cli import cli

    result = CliRunner().invoke(cli, ["check", EXAMPLE])
    assert result.exit_code == 0, result.output
    assert "  e-prop+  κ 0.97, κ_reg 0.97, trace cutoff 100 steps, updates per spike" in result.output.splitlines()


def test_train_command_plots_the_sample_with_eprop_plus_dynamics():
    """`neuroport train`'s sample run of an e-prop+ model uses e-prop+ dynamics (reset in the spike step), not the
    bsshslm_2020 reference's, which resets one step later and so spikes differently."""
    from neuroport.commands.train import float_run
    from neuroport.emulator.reference import simulate
    from neuroport.ir.loader import load_model
    from neuroport.ir.network import assemble
    from neuroport.pipeline import task_batch
    from neuroport.training.eprop_plus import simulate_plus

    graph = load_model("examples/pattern_generation_eprop_plus.yaml")
    inputs = task_batch(graph, 1, seed=3).inputs
    run = float_run(graph, inputs)
    assert np.array_equal(run.z, simulate_plus(graph, inputs).z)
    assert not np.array_equal(run.z, simulate(assemble(graph), inputs).z)
