"""sPyNNaker on a virtual 48-chip board (about 5 s per mapping): placements, exact weights, verify, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from neuroport.backend import load_backend
from neuroport.cli import cli
from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.pipeline import quantize

pytest.importorskip("spynnaker")
pytest.importorskip("pyNN")
pytestmark = pytest.mark.spinnaker


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_compile_reports_placements_cores_chips_routing(tmp_path, lif_model):
    out = json.loads(run("compile", lif_model, "--target", "spinnaker", "-o", tmp_path / "art", "--json"))
    board = out["placement"]
    assert board["virtual_board"] and board["board_version"] == 5
    assert board["cores"] == 3 and board["chips"] == 1  # input, recurrent, readout
    assert {p["vertex"] for p in board["placements"]} == {"input", "recurrent", "readout"}
    assert board["routing_entries_total"] >= 2 and all(p["sdram_bytes"] > 0 for p in board["placements"])
    assert (tmp_path / "art" / "run_pynn.py").exists() and (tmp_path / "art" / "network.npz").exists()


@pytest.mark.parametrize("seed", [5])
def test_stored_weights_equal_spynnaker_signs_included(lif_doc, tmp_path, seed):
    from neuroport.backends.spinnaker.backend import weight_check

    from tests.conftest import write_yaml

    lif_doc["seed"] = seed
    lif_doc["populations"][0]["size"] = 300  # two recurrent blocks: rows above 256 are split
    for proj in lif_doc["projections"]:
        proj["init"] = {"distribution": "normal", "gain": 4.0}
    graph = load_model(write_yaml(tmp_path, lif_doc))
    hw = load_hw("spinnaker1")
    fixed = quantize(graph, hw, calibrate=False)
    backend = load_backend("spinnaker")
    net = backend.lower(fixed, hw)
    report = backend.map_on_board(net)
    check = weight_check(net, report)
    assert check["weights_equal"], check
    assert check["synapses_compared"] == sum(p.n_synapses for p in fixed.projections) > 90_000
    # the signed matrix rebuilt from sPyNNaker's excitatory and inhibitory projections has both signs
    w = fixed.weights_na("w_rec")
    assert (w < 0).any() and (w > 0).any()


def test_verify_compares_emulator_with_float_and_says_what_did_not_run(lif_model):
    out = json.loads(run("verify", lif_model, "--target", "spinnaker", "--samples", "8", "--json"))
    assert "accuracy_drop_pp" in out and 0.0 <= out["fixed"]["accuracy"] <= 1.0
    backend = out["backend"]
    assert backend["weights_equal"] is True and backend["ran_on_board"] is False and backend["bit_exact"] is None
    assert "needs a SpiNNaker machine" in backend["not_run"] or "need a SpiNNaker machine" in backend["not_run"]


def test_alif_is_refused_with_a_reason(tiny_model):
    from neuroport.errors import NeuroportError

    result = CliRunner().invoke(cli, ["compile", str(tiny_model), "--target", "spinnaker"])
    assert isinstance(result.exception, NeuroportError)  # the CLI prints it and exits 2, without a traceback
    assert "populations.alif" in str(result.exception) and "adaptive threshold" in str(result.exception)
    backend = load_backend("spinnaker")
    assert "alif" in backend.capabilities().unsupported


def test_run_without_board_says_so(lif_model):
    from neuroport.errors import UnsupportedError

    backend, hw = load_backend("spinnaker"), load_hw("spinnaker1")
    net = backend.lower(quantize(load_model(lif_model), hw, calibrate=False), hw)
    with pytest.raises(UnsupportedError, match="on-chip e-prop|e-prop"):
        backend.run(net, np.zeros((1, 3, net.fixed.n_in)), learn=True)
