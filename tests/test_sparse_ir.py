"""The sparse form of the float IR: connectivity rules, synapse lists on disk, dense views, and bad input."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from neuroport.cli import main
from neuroport.errors import ModelError
from neuroport.ir.connectivity import bernoulli_pairs, distinct_per_row
from neuroport.ir.loader import load_model
from neuroport.ir.network import assemble, dense_matrices, sparse_matrices, with_synapse_weights, with_weights
from neuroport.ir.writer import write_model
from tests.conftest import TINY, write_yaml


def sparse_doc(rec: dict, inp: dict | None = None) -> dict:
    """TINY with its input and recurrent projections given by connectivity rules."""
    doc = copy.deepcopy(TINY)
    doc["projections"][0] = {"name": "input", "source": "in", "target": ["lif", "alif"],
                             "connectivity": inp or {"rule": "fixed_probability", "probability": 0.5},
                             "init": {"distribution": "normal", "gain": 3.0}}
    doc["projections"][1] = {"name": "rec", "source": ["lif", "alif"], "target": ["lif", "alif"],
                             "connectivity": rec, "init": {"distribution": "normal"}}
    return doc


def load(tmp_path, doc):
    return load_model(write_yaml(tmp_path, doc))


def test_fixed_fan_in_gives_k_distinct_sources_per_target_without_self(tmp_path):
    graph = load(tmp_path, sparse_doc({"rule": "fixed_fan_in", "fan_in": 4, "self_connections": False}))
    syn = graph.projections[1].synapses
    assert syn.n_synapses == 10 * 4
    assert np.array_equal(syn.fan_in(), np.full(10, 4))
    assert not np.any(syn.targets == syn.sources)
    key = syn.targets.astype(np.int64) * 10 + syn.sources
    assert np.all(np.diff(key) > 0)  # canonical order, no pair twice


def test_fixed_fan_out_and_one_to_one(tmp_path):
    graph = load(tmp_path, sparse_doc({"rule": "fixed_fan_out", "fan_out": 3}))
    assert np.array_equal(graph.projections[1].synapses.fan_out(), np.full(10, 3))
    graph = load(tmp_path, sparse_doc({"rule": "one_to_one"}))
    syn = graph.projections[1].synapses
    assert np.array_equal(syn.targets, np.arange(10)) and np.array_equal(syn.sources, np.arange(10))


def test_rules_are_seeded_and_reproducible(tmp_path):
    doc = sparse_doc({"rule": "fixed_fan_in", "fan_in": 3})
    a, b = load(tmp_path, doc), load(tmp_path, doc)
    assert a == b
    doc["seed"] = 4
    c = load(tmp_path, doc)
    assert not np.array_equal(a.projections[1].synapses.sources, c.projections[1].synapses.sources)


def test_distinct_per_row_is_uniform_and_distinct():
    rng = np.random.default_rng(0)
    cols = distinct_per_row(2000, 5, 12, rng, skip_diagonal=False)
    assert np.all(np.diff(cols, axis=1) > 0)
    counts = np.bincount(cols.ravel(), minlength=12)  # each column chosen with probability 5/12 per row
    expected = 2000 * 5 / 12
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    dense_rows = distinct_per_row(50, 9, 10, rng, skip_diagonal=True)  # the permutation branch (2k > choices)
    assert np.all(np.diff(dense_rows, axis=1) > 0) and not np.any(dense_rows == np.arange(50)[:, None])


def test_bernoulli_pairs_match_the_rate_and_skip_the_diagonal():
    rng = np.random.default_rng(1)
    rows, cols = bernoulli_pairs(300, 300, 0.05, rng, skip_diagonal=True)
    n_pairs = 300 * 299
    assert abs(rows.size - 0.05 * n_pairs) < 5 * np.sqrt(n_pairs * 0.05 * 0.95)
    assert not np.any(rows == cols) and np.all(np.diff(rows * 300 + cols) > 0)
    rows, cols = bernoulli_pairs(7, 5, 1.0, rng, skip_diagonal=False)  # p = 1: every pair
    assert rows.size == 35


def test_dense_view_equals_the_dense_form(tmp_path):
    """The same network in the sparse form and in the dense form (to_dense) assembles to the same matrices, and
    sparse_matrices lists exactly the synapses of the dense mask with their weights."""
    graph = load(tmp_path, sparse_doc({"rule": "fixed_probability", "probability": 0.3, "self_connections": False}))
    dense = graph.with_projections(tuple(p.to_dense() for p in graph.projections))
    a, b = assemble(graph), assemble(dense)
    for name in ("w_in", "w_rec", "w_out"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
        assert np.array_equal(getattr(a, f"{name}_mask"), getattr(b, f"{name}_mask"))
    lists, plastic = sparse_matrices(graph)
    for name, syn in lists.items():
        assert np.array_equal(syn.dense_mask(), getattr(a, f"{name}_mask"))
        assert np.array_equal(syn.dense(), getattr(a, name)) and plastic[name].all()
    back = with_weights(graph, a.w_in * 2, a.w_rec * 2, a.w_out * 2)
    assert np.array_equal(back.projections[1].synapses.weights, 2 * graph.projections[1].synapses.weights)
    again = with_synapse_weights(graph, {k: s.weights * 3 for k, s in lists.items()})
    assert np.array_equal(again.projections[1].synapses.weights, 3 * graph.projections[1].synapses.weights)
    assert np.array_equal(again.projections[2].weights, 3 * graph.projections[2].weights)


def test_writer_stores_synapse_lists_and_reads_back_equal(tmp_path):
    graph = load(tmp_path, sparse_doc({"rule": "fixed_fan_in", "fan_in": 4}))
    path = write_model(graph, tmp_path / "out" / "model.yaml")
    with np.load(path.parent / "model.weights.npz") as data:
        assert data["rec__targets"].dtype == np.int32 and data["rec__weights"].shape == (40,)
        assert "rec" not in data.files  # no dense matrix
    assert load_model(path) == graph
    dense_graph = graph.with_projections(tuple(p.to_dense() for p in graph.projections))  # the dense form too
    assert load_model(write_model(dense_graph, tmp_path / "d" / "model.yaml")) == dense_graph


def _list_model(tmp_path, targets, sources, weights, **extra):
    np.savez(tmp_path / "syn.npz", t=np.asarray(targets), s=np.asarray(sources), w=np.asarray(weights))
    doc = sparse_doc({"rule": "from_list", "file": "syn.npz", "targets": "t", "sources": "s", "weights": "w", **extra})
    del doc["projections"][1]["init"]  # the weights come from the list
    return doc


BAD = [
    ("out_of_range", lambda p: _list_model(p, [0, 10], [1, 2], [0.1, 0.2]), "targets index 10 is out of range"),
    ("duplicate", lambda p: _list_model(p, [3, 1, 3], [2, 2, 2], [0.1, 0.2, 0.3]), "duplicate synapse: target 3 ← source 2"),
    ("shape_mismatch", lambda p: _list_model(p, [0, 1], [1, 2], [0.1]), "shape mismatch between indices and weights"),
    ("too_many_fan_in", lambda p: sparse_doc({"rule": "fixed_fan_in", "fan_in": 10, "self_connections": False}),
     "asks for 10 distinct sources per target, but only 9 exist"),
    ("too_many_fan_out", lambda p: sparse_doc({"rule": "fixed_fan_out", "fan_out": 11}), "asks for 11 distinct targets"),
    ("one_to_one_shape", lambda p: sparse_doc({"rule": "fixed_fan_in", "fan_in": 2}, {"rule": "one_to_one"}),
     "one_to_one needs as many targets as sources"),
]


@pytest.mark.parametrize("case,make,words", BAD, ids=[b[0] for b in BAD])
def test_bad_synapses_give_one_line_naming_the_projection(tmp_path, capsys, case, make, words):
    file = write_yaml(tmp_path, make(tmp_path))
    with pytest.raises(ModelError) as err:
        load_model(file)
    assert words in str(err.value)
    assert "projection '" in str(err.value) and err.value.path.startswith("projections[")
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(file)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err


def test_connectivity_excludes_the_dense_fields(tmp_path):
    doc = sparse_doc({"rule": "fixed_fan_in", "fan_in": 2})
    doc["projections"][1]["zero_diagonal"] = True
    with pytest.raises(ModelError, match="drop 'zero_diagonal'"):
        load(tmp_path, doc)


def test_from_list_refuses_a_member_larger_than_every_possible_synapse(tmp_path, capsys):
    """A synapse list can hold at most n_target × n_source synapses: a member that inflates past that (here 20 MB
    of zeros behind a 3-value header) is refused from the zip directory, before it is inflated."""
    import io
    import zipfile

    doc = _list_model(tmp_path, [0, 1], [1, 2], [0.1, 0.2])
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<i8", "fortran_order": False, "shape": (3,)})
    with zipfile.ZipFile(tmp_path / "syn.npz", "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.npy", header.getvalue() + bytes(20_000_000))
    doc["projections"][1]["connectivity"]["targets"] = "bomb"
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(write_yaml(tmp_path, doc))])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "projection 'rec'" in err and "refused (a decompression bomb?)" in err


def test_from_list_keeps_listed_synapses_in_canonical_order(tmp_path):
    graph = load(tmp_path, _list_model(tmp_path, [3, 1, 3], [5, 2, 2], [0.1, 0.2, 0.3]))
    syn = graph.projections[1].synapses
    assert syn.targets.tolist() == [1, 3, 3] and syn.sources.tolist() == [2, 2, 5]
    assert syn.weights.tolist() == [0.2, 0.3, 0.1]
    mats, _ = dense_matrices(graph)
    assert mats["w_rec"][3, 5] == 0.1 and mats["w_rec_mask"].sum() == 3


def test_fan_in_beyond_a_core_names_the_projection(tmp_path, capsys):
    """5000 distinct inputs per readout unit, a Loihi core takes 4096 axons: compile refuses, naming 'out'."""
    doc = sparse_doc({"rule": "fixed_fan_in", "fan_in": 2})
    doc["populations"][0]["size"] = 6000
    doc["projections"][2] = {"name": "out", "source": ["lif", "alif"], "target": "out",
                             "connectivity": {"rule": "fixed_fan_in", "fan_in": 5000}, "init": {"distribution": "normal"}}
    file = write_yaml(tmp_path, doc)
    with pytest.raises(SystemExit) as exit_info:
        main(["compile", str(file), "--target", "emulator", "--samples", "0", "-o", str(tmp_path / "a")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "projection 'out'" in err and "5000 distinct inputs" in err and "4096" in err


def test_grouped_order_is_a_stable_sort_by_key():
    from neuroport.ir.synapses import grouped_order

    keys = np.random.default_rng(2).integers(0, 50, 5000).astype(np.int32)
    indptr, order = grouped_order(keys, 60)
    assert np.array_equal(order, np.argsort(keys, kind="stable"))
    assert np.array_equal(np.diff(indptr), np.bincount(keys, minlength=60))
