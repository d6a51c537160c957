"""NEST's conventions in the model file: ``regular_spike_arrival`` (input factor ζ = 1 − α / 1 − κ) on populations
and the readout, NEST's psc_delta neurons (``lif_psc_delta`` / ``alif_psc_delta`` with ``v_reset``) and e-prop+'s
``target_alignment`` — loaded with YAML paths in the errors, written back equal, shown by ``check``, carried by
quantization and the fixed-point emulator (which run the folded weights ζ W) and by NIR (r = ζ τ), refused with
the reason where a stage cannot run them.  Agreement with NEST itself: tests/nest/test_input_scaling_vs_nest.py,
test_psc_delta_vs_nest.py, test_nest_testsuite_losses.py."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from neuroport.cli import cli
from neuroport.emulator.reference import simulate
from neuroport.errors import NeuroportError, UnsupportedError
from neuroport.ir.loader import load_model
from neuroport.ir.network import assemble, with_weights
from neuroport.ir.writer import write_model
from tests.conftest import write_yaml
from tests.fuzzing import assert_clean, run_cli


def scaled_doc(doc: dict) -> dict:
    """A copy of ``doc`` with regular_spike_arrival false on the ALIF population and the readout."""
    doc = copy.deepcopy(doc)
    doc["populations"][1]["regular_spike_arrival"] = False
    doc["readout"]["regular_spike_arrival"] = False
    return doc


def psc_doc(doc: dict) -> dict:
    """A copy of ``doc`` with psc_delta neurons, e-prop+ with NEST's target wiring, MSE pattern generation."""
    doc = copy.deepcopy(doc)
    doc["populations"][0].update(model="lif_psc_delta", v_reset=-0.2)
    doc["populations"][1].update(model="alif_psc_delta", v_reset=[-0.1, -0.2, -0.3, 0.0])
    doc["learning"].update(variant="eprop_plus", eprop_plus={"target_alignment": "nest_example"})
    doc["readout"]["loss"] = "mse"
    doc["task"] = {"name": "pattern_generation", "params": {"duration_ms": 60, "n_groups": 2, "rate_hz": 200.0}}
    return doc


def test_input_scale_is_one_minus_the_decay(tmp_path, tiny_doc):
    graph = load_model(write_yaml(tmp_path, scaled_doc(tiny_doc)))
    assert [p.regular_spike_arrival for p in graph.populations] == [True, False]
    assert graph.readout.regular_spike_arrival is False
    net = assemble(graph)
    np.testing.assert_array_equal(net.input_scale_rec, np.r_[np.ones(6), np.full(4, 1 - np.exp(-1 / 20))])
    np.testing.assert_array_equal(net.input_scale_out, np.full(2, 1 - np.exp(-1 / 20)))
    folded = net.folded()
    assert folded.input_scale_rec is None and folded.input_scale_out is None
    np.testing.assert_array_equal(folded.w_in[6:], net.w_in[6:] * (1 - np.exp(-1 / 20)))
    np.testing.assert_array_equal(folded.w_in[:6], net.w_in[:6])
    np.testing.assert_array_equal(folded.w_out, net.w_out * (1 - np.exp(-1 / 20)))
    assert assemble(load_model(write_yaml(tmp_path, tiny_doc, "plain.yaml"))).input_scale_rec is None


@pytest.mark.parametrize("make", [scaled_doc, psc_doc])
def test_writer_round_trips(tmp_path, tiny_doc, make):
    graph = load_model(write_yaml(tmp_path, make(tiny_doc)))
    again = load_model(write_model(graph, tmp_path / "out" / "model.yaml"))
    assert again == graph
    if make is psc_doc:
        np.testing.assert_array_equal(again.populations[1].v_reset, [-0.1, -0.2, -0.3, 0.0])
        assert again.learning.plus.target_alignment == "nest_example"


@pytest.mark.parametrize("edit,path,expected", [
    (lambda d: d["readout"].update(regular_spike_arrival="no"), "readout.regular_spike_arrival", "true or false"),
    (lambda d: d["populations"][0].update(regular_spike_arrival=1), "populations[0].regular_spike_arrival",
     "true or false"),
    (lambda d: d["populations"][0].update(v_reset=0.6), "populations[0].v_reset", "below v_th"),
    (lambda d: d["learning"]["eprop_plus"].update(target_alignment="late"),
     "learning.eprop_plus.target_alignment", "nest_example"),
])
def test_bad_fields_name_their_yaml_path(tmp_path, tiny_doc, edit, path, expected):
    doc = psc_doc(tiny_doc) if "v_reset" in path or "eprop_plus" in path else tiny_doc
    edit(doc)
    model = write_yaml(tmp_path, doc)
    with pytest.raises(NeuroportError) as info:
        load_model(model)
    assert path in str(info.value) and expected in str(info.value)
    outcome = run_cli(["check", str(model)])
    assert_clean(outcome, path)
    assert outcome.code == 2 and path in outcome.stderr


def test_check_shows_the_conventions(tmp_path, tiny_doc):
    model = write_yaml(tmp_path, scaled_doc(tiny_doc))
    text = CliRunner().invoke(cli, ["check", str(model)]).output
    assert "inputs × (1 − κ) (regular_spike_arrival false)" in text and "inputs × (1 − α)" in text
    summary = json.loads(CliRunner().invoke(cli, ["check", str(model), "--json"]).output)
    assert summary["readout"]["regular_spike_arrival"] is False
    assert [p["regular_spike_arrival"] for p in summary["populations"]] == [True, False]
    psc = write_yaml(tmp_path, psc_doc(load_yaml_copy(model)), "psc.yaml")
    text = CliRunner().invoke(cli, ["check", str(psc)]).output
    assert "v_reset -0.2 (clamped while refractory)" in text and "targets of the next step" in text


def load_yaml_copy(path):
    import yaml

    doc = yaml.safe_load(path.read_text())
    for key in ("populations", "readout"):
        for node in doc[key] if isinstance(doc[key], list) else [doc[key]]:
            node.pop("regular_spike_arrival", None)
    return doc


def folded_graph(graph):
    """The same network written with regular spike arrival and the weights ζ W."""
    net = assemble(graph).folded()
    plain = replace(graph, readout=replace(graph.readout, regular_spike_arrival=True),
                    populations=tuple(replace(p, regular_spike_arrival=True) for p in graph.populations))
    return with_weights(plain, net.w_in, net.w_rec, net.w_out)


def test_quantization_and_emulator_run_the_folded_network(tmp_path, tiny_doc):
    from neuroport.emulator.fixed import emulate
    from neuroport.hw import load_hw
    from neuroport.pipeline import quantize

    graph = load_model(write_yaml(tmp_path, scaled_doc(tiny_doc)))
    hw = load_hw("loihi2")
    fixed, reference = quantize(graph, hw), quantize(folded_graph(graph), hw)
    for name in ("w_in", "w_rec", "w_out"):
        np.testing.assert_array_equal(getattr(fixed, name).weights, getattr(reference, name).weights)
        assert getattr(fixed, name).weight_exp == getattr(reference, name).weight_exp
    unscaled = quantize(replace(graph, readout=replace(graph.readout, regular_spike_arrival=True)), hw)
    assert not np.array_equal(unscaled.w_out.weights, fixed.w_out.weights) or unscaled.w_out.weight_exp != \
        fixed.w_out.weight_exp, "ζ must reach the integer weights"
    x = (np.random.default_rng(0).random((2, 60, 8)) < 0.3).astype(np.uint8)
    ours, theirs = emulate(fixed, x, probe_states=False)[0], emulate(reference, x, probe_states=False)[0]
    np.testing.assert_array_equal(ours.spikes, theirs.spikes)
    np.testing.assert_array_equal(ours.readout, theirs.readout)
    assert ours.spikes.any()
    float_run, folded_run = simulate(assemble(graph), x), simulate(assemble(folded_graph(graph)), x)
    np.testing.assert_array_equal(float_run.z, folded_run.z)
    np.testing.assert_allclose(float_run.y, folded_run.y, rtol=1e-12, atol=1e-12)


def test_nir_carries_the_input_scale(tmp_path, tiny_doc):
    pytest.importorskip("nir")
    from neuroport.ir.nir_io import read_nir, to_nir, write_nir

    graph = load_model(write_yaml(tmp_path, scaled_doc(tiny_doc)))
    nir_graph = to_nir(graph)
    net = assemble(graph)
    np.testing.assert_allclose(nir_graph.nodes["rec"].r, net.input_scale_rec * net.tau_m_ms * 1e-3, rtol=1e-15)
    np.testing.assert_allclose(nir_graph.nodes["readout"].r, net.input_scale_out * net.tau_out_ms * 1e-3, rtol=1e-15)
    np.testing.assert_array_equal(nir_graph.nodes["w_out"].weight, net.w_out)  # NEST's weights, ζ in r
    path = write_nir(graph, tmp_path / "m.nir")
    assert read_nir(path) == graph  # neuroport's metadata: exact
    imported = foreign_import(graph, tmp_path / "scaled.nir")  # another tool's reading: r/τ folded into the weights
    plain = foreign_import(folded_graph(graph), tmp_path / "folded.nir")
    assert imported.readout.regular_spike_arrival and all(p.regular_spike_arrival for p in imported.populations)
    for ours, theirs in zip(imported.projections, plain.projections, strict=True):
        np.testing.assert_allclose(ours.weights, theirs.weights, rtol=1e-12, atol=0)
    differs = foreign_import(replace(graph, readout=replace(graph.readout, regular_spike_arrival=True)),
                             tmp_path / "unscaled.nir")
    assert not np.allclose(differs.projections[-1].weights, imported.projections[-1].weights)


def foreign_import(graph, path):
    """Export ``graph`` to NIR, drop neuroport's metadata (as a graph from another tool) and import it."""
    import nir

    from neuroport.ir.nir_io import read_nir, write_nir

    write_nir(graph, path)
    foreign = nir.read(str(path))
    foreign.metadata.pop("neuroport")
    nir.write(str(path), foreign)
    return read_nir(path, dt_ms=1.0)


def test_stages_that_cannot_run_psc_delta_neurons_say_so(tmp_path, tiny_doc):
    graph = load_model(write_yaml(tmp_path, psc_doc(tiny_doc)))
    with pytest.raises(UnsupportedError, match="eprop_plus") as info:
        assemble(graph)
    assert info.value.path == "populations[0].model"
    bsshslm_doc = psc_doc(tiny_doc)
    bsshslm_doc["learning"].update(variant="bsshslm_2020")
    bsshslm_doc["learning"].pop("eprop_plus")
    outcome = run_cli(["check", str(write_yaml(tmp_path, bsshslm_doc, "b2.yaml"))])
    assert_clean(outcome, "psc_delta with bsshslm_2020")
    assert outcome.code == 2 and "populations[0].model" in outcome.stderr and "eprop_plus" in outcome.stderr


def test_eprop_plus_refuses_input_scaling(tmp_path, tiny_doc):
    doc = psc_doc(scaled_doc(tiny_doc))
    outcome = run_cli(["check", str(write_yaml(tmp_path, doc))])
    assert_clean(outcome, "e-prop+ with regular_spike_arrival false")
    assert outcome.code == 2 and "populations[1].regular_spike_arrival" in outcome.stderr
    assert "bsshslm_2020" in outcome.stderr


def test_curve_reports_nest_loss(tmp_path, tiny_doc):
    """curve.json: NEST's cross-entropy report is neuroport's sum divided by the learning window's steps."""
    model = write_yaml(tmp_path, scaled_doc(tiny_doc))
    result = CliRunner().invoke(cli, ["train", str(model), "-i", "2", "-o", str(tmp_path / "o"), "--json"])
    assert result.exit_code == 0, result.output
    history = json.loads((tmp_path / "o" / "curve.json").read_text())["history"]
    window = 20  # recall_ms at dt 1 ms: the evidence-accumulation loss mask
    for h in history:
        assert h["nest_loss"] == pytest.approx(h["loss"] / window, rel=1e-12)
