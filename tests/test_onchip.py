"""On-chip e-prop in the fixed-point emulator: its forward pass is the emulator's, bit for bit; learning is
deterministic, moves the weights and stays within the hardware's ranges."""

from __future__ import annotations

import numpy as np

from neuroport.emulator.fixed import emulate
from neuroport.emulator.onchip import OnChipTrainer, default_rule
from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.ir.network import assemble
from neuroport.pipeline import quantize
from neuroport.training.eprop import draw_batches, rule_of


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
    result = CliRunner().invoke(cli, ["train", str(tiny_model), "--on-chip", "--chips", "2", "-i", "2", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    curve = json.loads((out / "curve.json").read_text())
    assert curve["engine"] == "on-chip" and len(curve["history"]) == 2
    learned = load_artifact(out / "artifact")
    _, fixed, _ = setup(tiny_model)
    assert not np.array_equal(learned.w_rec.weights, fixed.w_rec.weights)
    assert (out / "curve.png").stat().st_size > 0
