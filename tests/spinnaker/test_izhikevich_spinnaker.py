"""Izhikevich networks (``integration: spinnaker_rk2``) on sPyNNaker's IZK_curr_exp: lowered parameters, mapping on a
virtual board with the stored weights equal to ours, and verify's s16.15 emulator against the float model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import write_yaml
from tests.test_cli import run
from tests.test_izhikevich_rk2 import RK2

pytest.importorskip("spynnaker")
pytest.importorskip("pyNN")
pytestmark = pytest.mark.spinnaker


def test_compile_lowers_to_izk_curr_exp_and_maps(tmp_path):
    model = write_yaml(tmp_path, RK2)
    out = json.loads(run("compile", model, "--target", "spinnaker", "-o", tmp_path / "art", "--json"))
    board = out["placement"]
    assert board["virtual_board"] and board["cores"] == 3 and board["chips"] == 1
    assert {p["vertex"] for p in board["placements"]} == {"input", "recurrent", "readout"}
    spec = json.loads((tmp_path / "art" / "network.json").read_text())
    models = {p["label"]: (p["model"], tuple(p["parameters"])) for p in spec["populations"]}
    assert models["recurrent"] == ("IZK_curr_exp", ("a", "b", "c", "d", "i_offset", "v", "u", "tau_syn_E", "tau_syn_I"))
    assert models["readout"][0] == "IF_curr_delta"
    errors = {row["tensor"]: row for row in out["quantization_error"]}
    assert errors["a"]["max_abs_error"] == pytest.approx(0.02 - 655 / 2**15, abs=1e-12)  # the word the chip uses
    assert errors["c"]["max_abs_error"] == 0.0 and errors["v² coefficient"]["max_abs_error"] == 0.0
    assert errors["synapse decay"]["max_abs_error"] < 2**-31
    with np.load(tmp_path / "art" / "network.npz") as arrays:
        # each parameter exactly the s16.15 word the emulator uses: a = 655/2^15 (0.02), tau_syn = 4 ms
        assert arrays["recurrent.a"].tolist() == [655 / 2**15] * 5
        assert arrays["recurrent.tau_syn_E"].tolist() == arrays["recurrent.tau_syn_I"].tolist() == [4.0] * 5
        assert arrays["recurrent.v"].tolist() == [-65.0] * 5


def test_verify_stored_weights_equal_and_emulator_follows_float(tmp_path):
    model = write_yaml(tmp_path, RK2)
    out = json.loads(run("verify", model, "--target", "spinnaker", "--samples", "4", "--json"))
    backend = out["backend"]
    assert backend["weights_equal"] is True and backend["ran_on_board"] is False
    assert backend["synapses_compared"] > 30 and not any(backend["magnitude_mismatches"].values())
    assert out["spike_agreement"] >= 0.99 and out["saturation_events"] == {}
    assert abs(out["fixed"]["accuracy"] - out["float"]["accuracy"]) <= 0.25
