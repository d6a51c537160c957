"""On-chip e-prop in the fixed-point emulator: its forward pass is the emulator's, bit for bit; learning is
deterministic, moves the weights and stays within the hardware's ranges."""

from __future__ import annotations

import numpy as np
import pytest

from neuroport.emulator.fixed import emulate
from neuroport.emulator.onchip import OnChipTrainer, default_rule
from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.ir.network import assemble
from neuroport.pipeline import quantize
from neuroport.tasks import Batch
from neuroport.training.eprop import draw_batches, rule_of
from tests.conftest import write_yaml


def setup(tiny_model, chips: int = 3):
    graph = load_model(tiny_model)
    net = assemble(graph)
    fixed = quantize(graph, load_hw("loihi2"))
    rule = default_rule(fixed, rule_of(graph).feedback_weights, net.surrogate_beta, w_exponent=-5, out_exponent=-5)
    trainer = OnChipTrainer(fixed, rule, chips, float(net.tau_m_ms[0]), float(net.tau_out_ms[0]))
    return graph, fixed, trainer


def test_forward_without_learning_is_the_emulator(tiny_model):
    graph, fixed, trainer = setup(tiny_model)
    batch = draw_batches(graph, 1, batch_size=3)[0]
    sample = trainer.run(batch, learn=False)
    trace, _ = emulate(fixed, batch.inputs)
    assert trace.spikes.sum() > 10
    np.testing.assert_array_equal(sample.readout, trace.readout)
    assert sample.spikes == int(trace.spikes.sum())


def test_learning_is_deterministic_and_bounded(tiny_model):
    runs = []
    for _ in range(2):
        graph, fixed, trainer = setup(tiny_model)
        for batch in draw_batches(graph, 3, batch_size=3):
            trainer.run(batch)
        runs.append({name: trainer.weights(name).copy() for name in ("w_in", "w_rec", "w_out")})
    for name, w in runs[0].items():
        np.testing.assert_array_equal(w, runs[1][name])
        assert w.min() >= -256 and w.max() <= 255
    start = fixed.dense()
    changed = sum(int(np.count_nonzero(runs[0][n][0] != start[n].weights)) for n in runs[0])
    assert changed > 20, "on-chip learning must move weights"
    for name, dense in start.items():  # absent synapses (the recurrent diagonal) stay absent
        assert np.all(runs[0][name][:, ~dense.mask] == 0)
    assert (~start["w_rec"].mask).sum() > 0


def test_train_on_chip_cli_writes_artifact_and_curve(tmp_path, tiny_model):
    import json

    from click.testing import CliRunner

    from neuroport.cli import cli
    from neuroport.ir.artifact import load_artifact

    out = tmp_path / "onchip"
    result = CliRunner().invoke(cli, ["train", str(tiny_model), "--on-chip", "--chips", "2", "-i", "2", "-o", str(out), "--json",
                                      "--schedule", '[[1, {"decimate": 1, "tag_exponent": -6}]]'])
    assert result.exit_code == 0, result.output
    curve = json.loads((out / "curve.json").read_text())
    assert curve["engine"] == "on-chip" and len(curve["history"]) == 2
    learned = load_artifact(out / "artifact")
    _, fixed, _ = setup(tiny_model)
    assert not np.array_equal(learned.w_rec.weights, fixed.w_rec.weights)
    assert (out / "curve.png").stat().st_size > 0


def _state(trainer):
    return {f"{name}.{var}": getattr(e.state, var).copy() for name, e in trainer.engines.items()
            for var in ("w", "d", "t", "x1", "x2")}


@pytest.mark.parametrize(("seed", "rates"), [
    (3, {"w_exponent": -5, "out_exponent": -5}),
    (11, {"w_exponent": -3, "out_exponent": -2, "out_err_shift": 2, "hidden_impulse": 5}),  # saturating weights
    (5, {"w_exponent": -5, "decimate": 2, "tag_exponent": -5, "tag_decay": (-3, -4), "out_decimate": 1}),
    (7, {"w_exponent": -5, "alif_impulse": 8, "alif_tau": 200, "alif_scale": (-1, -6)}),  # ALIF eligibility
    (9, {"w_exponent": -5, "out_exponent": -4, "error": "softmax", "reg_target": 328, "reg_shift": 6}),
    (13, {"hidden_impulse": 16, "l_shift": 4, "error": "softmax", "reg_target": 200, "reg_shift": 3, "reg_window": True}),
])
def test_fused_kernel_is_the_numpy_specification(tmp_path, tiny_doc, seed, rates):
    """The compiled sequence (onchip_kernel.run_fused) equals run_reference bit for bit: readouts, spikes,
    weights, tags, traces, the engines' clocks and counters — ALIF adaptation and stochastic rounding included."""
    _check_fused(tmp_path, tiny_doc, seed, rates)


@pytest.mark.parametrize(("seed", "rates", "switch"), [
    (5, {"w_exponent": -5, "decimate": 2, "tag_exponent": -5, "tag_decay": (-3, -4), "out_decimate": 1},
     {"decimate": 3, "out_decimate": 2, "hidden_impulse": 8, "l_shift": 6}),
    (13, {"hidden_impulse": 16, "l_shift": 4, "error": "softmax", "reg_target": 200, "reg_shift": 3, "reg_window": True},
     {"alif_impulse": 8, "alif_tau": 200, "alif_scale": (-1, -6), "reg_shift": 5, "out_impulse": 4}),
])
def test_fused_kernel_follows_a_rule_switch(tmp_path, tiny_doc, seed, rates, switch):
    """OnChipTrainer.set_rule between sequences (a schedule): fused and numpy paths still agree bit for bit."""
    _check_fused(tmp_path, tiny_doc, seed, rates, switch)


def _check_fused(tmp_path, tiny_doc, seed: int, rates: dict, switch: dict | None = None, alif: bool = True) -> None:
    """Three learning sequences on both paths (``switch``: the rule becomes rates ∪ switch after the first) and
    one frozen one; everything the engines hold must agree.  ``tiny_doc``: the model (any doc); ``alif``: the
    case must exercise ALIF adaptation."""
    tiny_doc["seed"] = seed
    model = write_yaml(tmp_path, tiny_doc)
    graph, fixed, net = load_model(model), quantize(load_model(model), load_hw("loihi2")), assemble(load_model(model))
    assert np.any(fixed.neurons.a_inc > 0) or not alif, "the case must exercise ALIF adaptation"
    rule = default_rule(fixed, rule_of(graph).feedback_weights, net.surrogate_beta, **rates)
    reference, fused = (OnChipTrainer(fixed, rule, 3, 20.0, 20.0) for _ in range(2))
    for k, batch in enumerate(draw_batches(graph, 3, batch_size=3, seed=seed)):
        if switch and k == 1:
            for trainer in (reference, fused):
                trainer.set_rule(default_rule(fixed, rule_of(graph).feedback_weights, net.surrogate_beta, **{**rates, **switch}))
        want, got = reference.run_reference(batch), fused.run(batch)
        np.testing.assert_array_equal(got.readout, want.readout)
        assert got.spikes == want.spikes
        for key, value in _state(reference).items():
            np.testing.assert_array_equal(_state(fused)[key], value, err_msg=key)
        for name, engine in reference.engines.items():
            other = fused.engines[name]
            assert (other.time_step, other.state.updates, other.state.saturations) == \
                   (engine.time_step, engine.state.updates, engine.state.saturations)
    assert sum(e.state.saturations.get("w", 0) for e in reference.engines.values()) > 0 or seed != 11
    for name, dense in fixed.dense().items():  # absent synapses stay absent on both paths
        assert np.all(reference.weights(name)[:, ~dense.mask] == 0) and np.all(fused.weights(name)[:, ~dense.mask] == 0)
    assert reference.stats.overflow == fused.stats.overflow
    frozen = draw_batches(graph, 1, batch_size=3, seed=seed + 1)[0]
    np.testing.assert_array_equal(fused.run(frozen, learn=False).readout, reference.run_reference(frozen, learn=False).readout)


def test_evaluate_scores_every_chip_on_every_sample(tiny_model):
    graph, fixed, trainer = setup(tiny_model)
    for batch in draw_batches(graph, 2, batch_size=3):
        trainer.run(batch)
    held_out = draw_batches(graph, 1, batch_size=2, seed=99)[0]
    readout = trainer.evaluate(held_out)
    assert readout.shape[:2] == (3, 2)
    for b in range(2):  # sample b on every chip = a batch of copies of sample b, one per chip
        copies = Batch(np.repeat(held_out.inputs[b:b + 1], 3, 0), np.repeat(held_out.targets[b:b + 1], 3, 0),
                       np.repeat(held_out.loss_mask[b:b + 1], 3, 0))
        np.testing.assert_array_equal(readout[:, b], trainer.run_reference(copies, learn=False).readout)


def test_train_onchip_scores_every_chip_on_held_out_samples(tiny_model):
    from neuroport.training.onchip import train_onchip

    seen = []
    result = train_onchip(load_model(tiny_model), 5, chips=2, held_out=3, eval_every=2, on_iteration=seen.append,
                          rates={"error": "softmax", "decimate": 1, "tag_exponent": -6, "tag_decay": (-3, -5)})
    assert [s.iteration for s in result.history] == [1, 3, 4] and seen == result.history
    assert all(0.0 <= s.error <= 1.0 and s.rate_hz > 0 for s in result.history)


def test_schedule_switches_the_rule_and_keeps_the_state(tiny_model):
    """A schedule entry with no changes is no switch at all; a real one changes only what follows it."""
    from neuroport.training.onchip import scheduled_rates, train_onchip

    assert scheduled_rates({"a": 1}, [(5, {"b": 2}), (2, {"a": 3})]) == {2: {"a": 3}, 5: {"a": 3, "b": 2}}
    graph, rates = load_model(tiny_model), {"w_exponent": -5, "out_exponent": -5}
    run = lambda schedule: [s.error for s in train_onchip(graph, 4, chips=2, held_out=2, rates=rates,  # noqa: E731
                                                            schedule=schedule).history]
    plain = run(None)
    assert run([(2, {})]) == plain
    switched = train_onchip(graph, 4, chips=2, held_out=2, rates=rates, schedule=[(2, {"w_exponent": -2, "out_exponent": -2})])
    assert [s.error for s in switched.history][:2] == plain[:2]
    reference = train_onchip(graph, 4, chips=2, held_out=2, rates=rates)
    assert not np.array_equal(switched.fixed.w_rec.weights, reference.fixed.w_rec.weights)


# ---- two layers in sequence (tests/conftest.py TWO_LAYER: clock → l1 ↔ l1 → l2 ↔ l2 → readout) -------------------

L1, L2 = slice(0, 6), slice(6, 11)  # the layers' neurons in the assembled network


@pytest.mark.parametrize(("l2_model", "seed", "rates"), [
    ("lif", 3, {"w_exponent": -5, "out_exponent": -5}),
    ("lif", 11, {"w_exponent": -3, "out_exponent": -2, "out_err_shift": 2, "hidden_impulse": 5}),  # saturating weights
    ("lif", 5, {"w_exponent": -5, "decimate": 2, "tag_exponent": -5, "tag_decay": (-3, -4), "out_decimate": 1,
                "reg_target": 328, "reg_shift": 6}),
    ("alif", 7, {"w_exponent": -5, "alif_impulse": 8, "alif_tau": 200, "alif_scale": (-1, -6), "reg_target": 200,
                 "reg_shift": 3, "reg_window": True}),  # ALIF eligibility in layer 2 only
])
def test_fused_kernel_is_the_numpy_specification_on_two_layers(tmp_path, two_layer_doc, l2_model, seed, rates):
    """The compiled sequence equals run_reference bit for bit on the two-layer network too (one w_rec with the
    l1 → l1, l1 → l2 and l2 → l2 blocks and absent l2 → l1 synapses)."""
    if l2_model == "alif":
        two_layer_doc["populations"][1].update(model="alif", tau_a_ms=200.0, beta=0.2)
    _check_fused(tmp_path, two_layer_doc, seed, rates, alif=l2_model == "alif")


def test_two_layer_on_chip_training_learns_every_block_and_keeps_absent_synapses_at_zero(tmp_path, two_layer_doc):
    """train_onchip on the two-layer network: learning off, the trainer is the fixed-point emulator; after a few
    sequences every block has learned — layer 1 too, from its own rows of the random feedback B — and the absent
    synapses (l2 → l1, input → l2, l1 → readout, the diagonals) are still 0, on every chip."""
    from neuroport.training.onchip import onchip_setup, train_onchip

    graph = load_model(write_yaml(tmp_path, two_layer_doc))
    rates = {"w_exponent": -5, "out_exponent": -5}
    chip = onchip_setup(graph, rates=rates)
    start = chip.fixed.dense()
    assert not start["w_rec"].mask[L1, L2].any() and start["w_rec"].mask[L2, L1].all()
    assert not start["w_in"].mask[L2].any() and not start["w_out"].mask[:, L1].any()
    assert np.all(chip.rule.feedback[L1] != 0), "layer 1 needs a learning signal of its own"
    trainer = chip.trainer(2)
    batches = draw_batches(graph, 4, batch_size=2, seed=3)
    sample = trainer.run(batches[0], learn=False)
    trace, _ = emulate(chip.fixed, batches[0].inputs)
    assert trace.spikes[..., L1].sum() > 20 and trace.spikes[..., L2].sum() > 20
    np.testing.assert_array_equal(sample.readout, trace.readout)
    for batch in batches:
        trainer.run(batch)
    for name, dense in start.items():
        w = trainer.weights(name)
        assert np.all(w[:, ~dense.mask] == 0), name
        assert np.count_nonzero(w[0] != dense.weights) >= 3, f"{name} must learn"
    for block in ((L1, L1), (L2, L1), (L2, L2)):
        assert np.count_nonzero(trainer.weights("w_rec")[0][block] != start["w_rec"].weights[block]) >= 2, block
    result = train_onchip(graph, 4, chips=2, held_out=2, seed=3, rates=rates)  # the public engine: chip 0's weights
    for name, dense in result.fixed.dense().items():
        np.testing.assert_array_equal(dense.mask, start[name].mask)
        assert np.all(dense.weights[~dense.mask] == 0), name
        np.testing.assert_array_equal(dense.weights, trainer.weights(name)[0], err_msg=name)


def test_event_driven_learning_on_few_active_inputs_is_the_numpy_specification(tmp_path, tiny_doc):
    """Input spikes on 2 of 8 channels: the input engine's touched columns stay at most a third, so the fused
    kernel visits only those (onchip_kernel._sparse_rows) and leaves the others as fixed points; weights, tags,
    traces and counters still equal the numpy specification's, and the untouched columns' weights never move."""
    model = write_yaml(tmp_path, tiny_doc)
    graph, fixed, net = load_model(model), quantize(load_model(model), load_hw("loihi2")), assemble(load_model(model))
    rule = default_rule(fixed, rule_of(graph).feedback_weights, net.surrogate_beta, w_exponent=-3, out_exponent=-3)
    reference, fused = (OnChipTrainer(fixed, rule, 3, 20.0, 20.0) for _ in range(2))
    start = fused.weights("w_in").copy()
    for batch in draw_batches(graph, 3, batch_size=3, seed=4):
        inputs = batch.inputs.copy()
        inputs[:, :, 2:] = 0
        inputs[:, ::3, :2] = 1  # dense enough on the two channels to drive learning
        batch = Batch(inputs, batch.targets, batch.loss_mask)
        want, got = reference.run_reference(batch), fused.run(batch)
        np.testing.assert_array_equal(got.readout, want.readout)
        for key, value in _state(reference).items():
            np.testing.assert_array_equal(_state(fused)[key], value, err_msg=key)
        for name, engine in reference.engines.items():
            assert fused.engines[name].state.saturations == engine.state.saturations
    moved = fused.weights("w_in") != start
    assert moved[:, :, :2].any() and not moved[:, :, 2:].any()
