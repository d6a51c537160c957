"""FloatGraph loading, the dense Network view, and the YAML writer round trip."""

from __future__ import annotations

import numpy as np
import pytest

from neuroport.ir import assemble, load_model, with_weights
from neuroport.ir.writer import write_model
from tests.conftest import EXAMPLES


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_loads_and_round_trips(tmp_path, example):
    graph = load_model(example)
    again = load_model(write_model(graph, tmp_path / "model.yaml"))
    assert again == graph


def test_loading_is_deterministic_and_seeded(tiny_model, tiny_doc, tmp_path):
    a, b = load_model(tiny_model), load_model(tiny_model)
    assert a == b
    from tests.conftest import write_yaml

    tiny_doc["seed"] = 4
    c = load_model(write_yaml(tmp_path, tiny_doc, "other.yaml"))
    assert not np.array_equal(a.projections[0].weights, c.projections[0].weights)


def test_assemble_places_blocks_and_masks(tiny_model):
    graph = load_model(tiny_model)
    net = assemble(graph)
    assert net.w_in.shape == (10, 8) and net.w_rec.shape == (10, 10) and net.w_out.shape == (2, 10)
    assert not net.w_rec_mask.diagonal().any() and net.w_rec_mask.sum() == 90
    np.testing.assert_array_equal(net.beta[:6], 0)
    np.testing.assert_array_equal(net.beta[6:], 0.2)
    np.testing.assert_allclose(net.rho[6:], np.exp(-1 / 200))
    np.testing.assert_array_equal(net.n_ref_steps, 2)


def test_with_weights_inverts_assemble(tiny_model):
    graph = load_model(tiny_model)
    net = assemble(graph)
    new = with_weights(graph, net.w_in * 2, net.w_rec * 3, net.w_out * 4)
    net2 = assemble(new)
    np.testing.assert_array_equal(net2.w_in, net.w_in * 2)
    np.testing.assert_array_equal(net2.w_rec, net.w_rec * 3)
    np.testing.assert_array_equal(net2.w_out, net.w_out * 4)


def test_sparse_projection_mask_round_trips(tmp_path, tiny_doc):
    from tests.conftest import write_yaml

    tiny_doc["projections"][1]["connection_probability"] = 0.3
    graph = load_model(write_yaml(tmp_path, tiny_doc))
    mask = graph.projections[1].mask
    assert mask is not None and 0 < mask.sum() < 90
    assert np.all(graph.projections[1].weights[~mask] == 0)
    again = load_model(write_model(graph, tmp_path / "out" / "model.yaml"))
    assert again == graph
