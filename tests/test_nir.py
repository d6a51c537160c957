"""NIR: exact round trip of every example through a NIR file; foreign graphs imported or refused by name."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from neuroport.cli import cli
from neuroport.errors import ModelError, UnsupportedError
from neuroport.ir import load_model
from neuroport.ir.nir_io import read_nir, write_nir
from tests.conftest import EXAMPLES, write_yaml

# NIR has no Izhikevich node and no adaptation-current neuron (sPyNNaker's ca2 adaptive LIF): the export refuses
# those examples (tests/test_izhikevich.py tests the refusal, and test_ca2_adaptive_export_is_refused below)
NOT_NIR = ("izhikevich", "evidence_accumulation_spinnaker")
NIR_EXAMPLES = [p for p in EXAMPLES if not any(name in p.stem for name in NOT_NIR)]


def test_ca2_adaptive_export_is_refused(tmp_path):
    graph = load_model(EXAMPLES[[p.stem for p in EXAMPLES].index("evidence_accumulation_spinnaker")])
    with pytest.raises(UnsupportedError, match="lif_ca2_adaptive"):
        write_nir(graph, tmp_path / "model.nir")


@pytest.mark.parametrize("example", NIR_EXAMPLES, ids=[p.stem for p in NIR_EXAMPLES])
def test_yaml_nir_yaml_round_trip(tmp_path, example):
    graph = load_model(example)
    assert read_nir(write_nir(graph, tmp_path / "m.nir")) == graph


def test_sparse_round_trip_through_cli(tmp_path, tiny_doc):
    tiny_doc["projections"][1]["connection_probability"] = 0.4
    src = write_yaml(tmp_path, tiny_doc)
    runner = CliRunner()
    assert runner.invoke(cli, ["convert", str(src), str(tmp_path / "m.nir")]).exit_code == 0
    assert runner.invoke(cli, ["convert", str(tmp_path / "m.nir"), str(tmp_path / "back.yaml")]).exit_code == 0
    assert load_model(tmp_path / "back.yaml") == load_model(src)


def _snntorch_like(bias: float = 0.0, readout: str = "LI", dt: float | None = 1e-4):
    """What snnTorch writes: dt 1e-4 s, per-neuron parameter arrays, Affine connections."""
    import nir

    rng = np.random.default_rng(0)
    n_in, n, k = 3, 4, 2
    tau = np.full(n, 5e-3)
    out_node = {"LI": lambda: nir.LI(tau=np.full(k, 1e-2), r=np.full(k, 1e-2), v_leak=np.zeros(k)),
                "LIF": lambda: nir.LIF(tau=np.full(k, 1e-2), r=np.ones(k), v_leak=np.zeros(k), v_threshold=np.ones(k))}[readout]()
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc1": nir.Affine(weight=rng.normal(size=(n, n_in)), bias=np.full(n, bias)),
        "lif1": nir.LIF(tau=tau, r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n)),
        "rec": nir.Linear(weight=rng.normal(size=(n, n))),
        "fc2": nir.Affine(weight=rng.normal(size=(k, n)), bias=np.zeros(k)),
        "out": out_node,
        "output": nir.Output(output_type={"output": np.array([k])}),
    }
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "rec"), ("rec", "lif1"), ("lif1", "fc2"), ("fc2", "out"), ("out", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={} if dt is None else {"dt": dt})


def test_foreign_graph_is_imported_with_units_converted(tmp_path):
    import nir

    g = _snntorch_like()
    nir.write(str(tmp_path / "f.nir"), g)
    graph = read_nir(tmp_path / "f.nir")
    assert graph.dt_ms == pytest.approx(0.1)
    np.testing.assert_allclose(graph.populations[0].tau_m_ms, 5.0)
    # a unit spike moves v by r/τ · w (NIR's τ dv/dt = −v + R I)
    np.testing.assert_allclose(graph.projections[0].weights, g.nodes["fc1"].weight / 5e-3)
    np.testing.assert_allclose(graph.projections[1].weights, g.nodes["rec"].weight / 5e-3)


@pytest.mark.parametrize("kwargs,words", [
    ({"bias": 0.5}, "Affine node 'fc1' has a non-zero bias"),
    ({"readout": "LIF"}, "readout node 'out' is a LIF"),
    ({"dt": None}, "the NIR graph states no time step"),
])
def test_foreign_graph_refusals_name_the_node(tmp_path, kwargs, words):
    import nir

    nir.write(str(tmp_path / "f.nir"), _snntorch_like(**kwargs))
    with pytest.raises(ModelError, match=words):
        read_nir(tmp_path / "f.nir")
