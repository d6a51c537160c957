"""DEEP R rewiring (neuroport.training.rewiring): fixed synapse counts, fixed signs, dormant synapses out of e-prop,
uniform seeded reactivation, YAML errors, save/load, and the gradient part equal to plain e-prop."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

from neuroport.errors import ModelError, NeuroportError
from neuroport.ir import load_model
from neuroport.ir.network import assemble
from neuroport.ir.writer import write_model
from neuroport.training.eprop import draw_batches, eprop_gradients, rule_of, train_eprop, train_on_batches
from neuroport.training.rewiring import deep_r_step, rewiring_plan
from tests.conftest import write_yaml

REWIRED = ("w_in", "w_rec")


def sparse_doc(doc: dict, **rewiring) -> dict:
    """The tiny model with input and recurrent projections at 30 % connectivity, rewired."""
    doc["projections"][0]["connection_probability"] = 0.3
    doc["projections"][1]["connection_probability"] = 0.3
    doc["learning"]["rewiring"] = {"projections": ["input", "rec"], "l1": 0.5, "temperature": 1e-3, "seed": 7, **rewiring}
    return doc


@pytest.fixture
def sparse_model(tmp_path, tiny_doc):
    return load_model(write_yaml(tmp_path, sparse_doc(tiny_doc)))


def recording_trainer(graph, iterations: int):
    """Train ``graph`` through train_on_batches, recording the network and gradients each iteration sees."""
    seen = []

    def gradients(net, rule, b, batch):
        grads = eprop_gradients(net, rule, b, batch)
        seen.append((net, grads))
        return grads

    rule = rule_of(graph)
    result = train_on_batches(assemble(graph), rule, draw_batches(graph, iterations, batch_size=2), gradients=gradients,
                              rewiring=rewiring_plan(graph))
    return result, seen


def test_counts_stay_exact_signs_never_flip_and_dormant_synapses_get_no_update(sparse_model):
    result, seen = recording_trainer(sparse_model, 12)
    start = assemble(sparse_model)
    nets = [net for net, _ in seen] + [replace(start, **result.weights, **{f"{m}_mask": result.masks[m] for m in REWIRED})]
    for m in REWIRED:
        counts = {int(getattr(net, f"{m}_mask").sum()) for net in nets}
        assert counts == {int(getattr(start, f"{m}_mask").sum())}
        weights = np.stack([getattr(net, m) for net in nets])
        masks = np.stack([getattr(net, f"{m}_mask") for net in nets])
        assert np.all(weights[~masks] == 0)  # dormant synapses have weight 0
        assert not np.any((weights > 0).any(axis=0) & (weights < 0).any(axis=0))  # one sign per synapse, for life
        moved = np.count_nonzero(masks[-1] & ~masks[0])
        assert moved > 0  # rewiring happened, so the checks above were exercised
    for net, grads in seen:
        for m in REWIRED:
            assert np.array_equal(getattr(net, f"{m}_plastic"), getattr(net, f"{m}_mask"))
            assert np.all(getattr(grads, m)[~getattr(net, f"{m}_mask")] == 0)  # e-prop never updates dormant synapses


def test_no_self_connections_are_created(sparse_model):
    result, seen = recording_trainer(sparse_model, 12)
    diagonals = [np.diag(net.w_rec_mask) for net, _ in seen] + [np.diag(result.masks["w_rec"])]
    assert not np.any(diagonals)


def test_reactivation_is_uniform_and_seeded():
    n, n_active, n_retiring = 30, 10, 4
    theta = np.concatenate([np.full(n_retiring, -1.0), np.ones(n_active - n_retiring), np.zeros(n - n_active)])
    active = np.arange(n) < n_active
    survivors = (np.arange(n) >= n_retiring) & active
    rng = np.random.default_rng(5)
    trials = 3000
    counts = np.zeros(n)
    for _ in range(trials):
        new_theta, new_active = deep_r_step(theta, active, learning_rate=0.1, l1=0.0, temperature=0.0, rng=rng)
        assert new_active.sum() == n_active and np.all(new_active[survivors])
        np.testing.assert_array_equal(new_theta, np.where(survivors, 1.0, 0.0))  # reactivated at θ = 0, dormant 0
        counts += new_active & ~survivors
    # candidates: the 4 just retired and the 20 dormant; 4 are drawn per trial, each with probability 4/24
    candidates = ~survivors
    expected = trials * n_retiring / candidates.sum()
    chi2 = float(np.sum((counts[candidates] - expected) ** 2 / expected))
    assert counts.sum() == trials * n_retiring
    assert chi2 < 49.73  # χ²(23 degrees of freedom) at p = 0.001 (conservative: draws are without replacement)
    same = [deep_r_step(theta, active, learning_rate=0.1, l1=0.0, temperature=0.1, rng=np.random.default_rng(9))
            for _ in range(2)]
    assert np.array_equal(same[0][0], same[1][0]) and np.array_equal(same[0][1], same[1][1])
    other = deep_r_step(theta, active, learning_rate=0.1, l1=0.0, temperature=0.1, rng=np.random.default_rng(10))
    assert not np.array_equal(same[0][0], other[0])


@pytest.mark.parametrize("l1", [0.0, 0.3])
def test_gradient_part_is_plain_eprop_and_the_prior_is_eta_l1(tmp_path, tiny_doc, l1):
    graph = load_model(write_yaml(tmp_path, sparse_doc(tiny_doc, l1=l1, temperature=0.0)))
    net = assemble(graph)
    small = net.w_in_mask & (np.arange(net.w_in.size).reshape(net.w_in.shape) % 3 == 0)
    net = replace(net, w_in=np.where(small, np.sign(net.w_in) * 1e-4, net.w_in))  # some weights about to cross 0
    rule = rule_of(graph)
    batches = draw_batches(graph, 1, batch_size=2)
    plain = train_on_batches(net, replace(rule, rewiring=None), batches)
    rewired = train_on_batches(net, rule, batches, rewiring=rewiring_plan(graph))
    eta = rule.optimizer.learning_rate
    for m in REWIRED:
        before, mask_after = getattr(net, f"{m}_mask"), rewired.masks[m]
        sign = np.sign(getattr(net, m))
        theta = sign * plain.weights[m] - eta * l1
        retired = before & (theta < 0)
        kept = before & ~retired
        assert np.all(mask_after[kept])
        np.testing.assert_array_equal(rewired.weights[m][kept], (sign * theta)[kept])
        assert mask_after.sum() == before.sum()
        assert np.all(rewired.weights[m][mask_after & ~kept] == 0)  # reactivated at θ = 0
    assert np.count_nonzero(net.w_in_mask & ~rewired.masks["w_in"]) > 0
    np.testing.assert_array_equal(rewired.weights["w_out"], plain.weights["w_out"])  # dense readout unaffected


def test_trained_model_saves_and_loads_its_connectivity(tmp_path, sparse_model):
    trained = train_eprop(sparse_model, 4, batch_size=2).graph
    path = write_model(trained, tmp_path / "out" / "model.yaml")
    again = load_model(path)
    assert again == trained
    assert again.learning.rewiring == sparse_model.learning.rewiring
    for p0, p1 in zip(sparse_model.projections[:2], again.projections[:2], strict=True):
        assert p1.n_synapses == p0.n_synapses
        assert np.all(p1.weights[~p1.mask] == 0)


def test_cli_train_uses_rewiring(tmp_path, tiny_doc):
    from click.testing import CliRunner

    from neuroport.cli import cli

    model = write_yaml(tmp_path, sparse_doc(tiny_doc))
    out = tmp_path / "trained"
    res = CliRunner().invoke(cli, ["train", str(model), "-i", "3", "--batch-size", "2", "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    ours = train_eprop(load_model(model), 3, batch_size=2).graph
    saved = load_model(out / "model.yaml")
    for p_cli, p_api in zip(saved.projections, ours.projections, strict=True):
        np.testing.assert_array_equal(p_cli.mask if p_cli.mask is not None else [], p_api.mask if p_api.mask is not None else [])
        np.testing.assert_array_equal(p_cli.weights, p_api.weights)
    assert not np.array_equal(saved.projections[0].mask, load_model(model).projections[0].mask)


BAD = [
    ({"projections": ["inputs"]}, "learning.rewiring.projections[0]", "unknown projection 'inputs' (did you mean 'input'?)"),
    ({"projections": ["out"]}, "learning.rewiring.projections[0]", "projection 'out' cannot be rewired: it is dense"),
    ({"projections": "input"}, "learning.rewiring.projections", "expected a non-empty list of projection names"),
    ({"projections": ["input", "input"]}, "learning.rewiring.projections[1]", "listed twice"),
    ({"projections": ["input"], "l1": -1}, "learning.rewiring.l1", "expected a number ≥ 0, got -1"),
    ({"projections": ["input"], "temperature": "hot"}, "learning.rewiring.temperature", "expected a number"),
    ({"projections": ["input"], "seed": -2}, "learning.rewiring.seed", "expected an integer ≥ 0"),
    ({"projections": ["input"], "temprature": 1}, "learning.rewiring.temprature", "did you mean 'temperature'"),
]


@pytest.mark.parametrize(("spec", "path", "message"), BAD)
def test_yaml_errors_name_the_path(tmp_path, tiny_doc, spec, path, message):
    doc = sparse_doc(tiny_doc)
    doc["learning"]["rewiring"] = spec
    with pytest.raises(ModelError) as err:
        load_model(write_yaml(tmp_path, doc))
    assert err.value.path == path and message in str(err.value)


def test_yaml_errors_frozen_self_connections_and_variant(tmp_path, tiny_doc):
    cases = []
    doc = sparse_doc(copy.deepcopy(tiny_doc))
    doc["projections"][0]["plastic"] = False
    cases.append((doc, "learning.rewiring.projections[0]", "projection 'input' cannot be rewired: it is frozen"))
    doc = sparse_doc(copy.deepcopy(tiny_doc))
    doc["projections"][1]["zero_diagonal"] = False
    doc["projections"][1]["connection_probability"] = 0.9
    cases.append((doc, "learning.rewiring.projections[1]", "has self-connections but rewiring.self_connections is false"))
    doc = sparse_doc(copy.deepcopy(tiny_doc))
    doc["learning"]["variant"] = "eprop_plus"
    cases.append((doc, "learning.rewiring", "implemented for variant bsshslm_2020 only, not 'eprop_plus'"))
    for doc, path, message in cases:
        with pytest.raises(ModelError) as err:
            load_model(write_yaml(tmp_path, doc))
        assert err.value.path == path and message in str(err.value)


def test_trainers_without_rewiring_refuse(sparse_model):
    from neuroport.backends.nest.engine import refusals

    net, rule = assemble(sparse_model), rule_of(sparse_model)
    with pytest.raises(ModelError, match=r"rewiring \(DEEP R\) is implemented in neuroport's float e-prop trainer for LIF/ALIF networks only "
                       r"\(neuroport train --engine numpy\); this trainer \(BPTT, Izhikevich\) does not rewire"):
        train_on_batches(net, rule, draw_batches(sparse_model, 1, batch_size=1))  # e.g. BPTT: no plan passed
    assert "learning.rewiring: NEST's e-prop synapses have a fixed connectivity (no DEEP R)" in refusals(net, rule)
    from neuroport.training.onchip import train_onchip

    with pytest.raises(NeuroportError, match="on-chip training does not rewire"):
        train_onchip(sparse_model, 1, chips=1)


def lif_sparse_doc(doc: dict) -> dict:
    """The rewired tiny model with LIF neurons only (SpiNNaker maps LIF; it refuses ALIF for any model)."""
    doc = sparse_doc(doc)
    doc["populations"] = [dict(doc["populations"][0], size=10)]
    for proj in doc["projections"]:
        proj["source"] = "in" if proj["source"] == "in" else "lif"
        proj["target"] = "out" if proj["target"] == "out" else "lif"
    return doc


def test_spinnaker_lowers_only_the_existing_synapses(tmp_path, tiny_doc):
    from neuroport.pipeline import prepare

    trained = train_eprop(load_model(write_yaml(tmp_path, lif_sparse_doc(tiny_doc))), 3, batch_size=2).graph
    prepared = prepare(trained, "spinnaker", None)
    network = prepared.backend.lower(prepared.fixed, prepared.hw)
    per_matrix = {}
    for proj in network.projections:  # FromListConnector rows, one per existing synapse (exc and inh split)
        matrix = proj.source.rsplit("_", 1)[0]
        per_matrix[matrix] = per_matrix.get(matrix, 0) + proj.n_connections
    net = assemble(trained)
    assert per_matrix == {m: int(getattr(net, f"{m}_mask").sum()) for m in ("w_in", "w_rec", "w_out")}


@pytest.mark.lava
def test_loihi_sim_runs_rewired_matrices_as_lava_sparse_bit_exact(tmp_path, tiny_doc):
    from neuroport.backend import load_backend
    from neuroport.hw import load_hw
    from neuroport.pipeline import quantize, task_batch

    trained = train_eprop(load_model(write_yaml(tmp_path, sparse_doc(tiny_doc))), 3, batch_size=2).graph
    hw = load_hw("loihi2")
    fixed = quantize(trained, hw)
    backend = load_backend("loihi-sim")
    connections = {c["name"]: c for c in backend.lower(fixed, hw).describe()["connections"]}
    assert {n: c["process"].rsplit(".", 1)[1] for n, c in connections.items()} == {"w_in": "Sparse", "w_rec": "Sparse", "w_out": "Dense"}
    net = assemble(trained)
    assert {n: c["synapses"] for n, c in connections.items()} == {m: int(getattr(net, f"{m}_mask").sum()) for m in connections}
    batch = task_batch(trained, 2, seed=7)
    result = backend.verify_against_emulator(fixed, batch.inputs, max_samples=2)
    assert result["bit_exact"], result
    assert result["values_compared"] == 2 * batch.n_steps * (3 * 10 + 2)
