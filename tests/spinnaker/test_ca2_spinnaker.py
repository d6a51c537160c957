"""lif_ca2_adaptive on sPyNNaker's IF_curr_delta_ca2_adaptive: the s16.15 step against hand-computed words, the
emulator against the float model, lowering on a virtual board with the weights and parameter words sPyNNaker
stores equal to ours, and the refusals (ALIF names this neuron; mixed kinds name the population, exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from neuroport.quantization.spinnaker import quantize_spinnaker

from neuroport.emulator.spinnaker_ca2 import step_ca2
from neuroport.emulator.spinnaker_s1615 import zero_state
from neuroport.emulator.trace import ActivityStats
from neuroport.hw import load_hw
from neuroport.ir.loader import load_model
from tests.conftest import write_yaml
from tests.test_ca2_adaptive import CA2
from tests.test_cli import run


def test_step_words_by_hand(tmp_path):
    """i_ca2 ← mul(i_ca2, e) before the LIF update, + i_alpha after a spike: words computed by hand."""
    fixed = quantize_spinnaker(load_model(write_yaml(tmp_path, CA2)), load_hw("spinnaker1"))
    n = fixed.neurons
    assert n.cell == "IF_curr_delta_ca2_adaptive" and n.i_alpha.min() < 0
    state = zero_state(1, n.size)
    state["i_ca2"] = np.full((1, n.size), -3 << 15, dtype=np.int64)  # −3 nA
    stats = ActivityStats.empty(fixed, 1, 2)
    big = np.full((1, n.size), 1 << 25, dtype=np.int64)  # enough to fire every neuron
    z = step_ca2(n, state, big, fixed, stats, "recurrent")
    decayed = (-3 << 15) * n.exp_tau_ca2
    decayed = (decayed + (1 << 14)) >> 15  # mul: round to nearest
    assert z.tolist() == [[1] * n.size]
    assert state["i_ca2"].tolist() == [(decayed + n.i_alpha).tolist()]
    assert state["v"].tolist() == [[0] * n.size] and state["r"].tolist() == [n.t_refract.tolist()]


def test_emulator_follows_float(tmp_path):
    model = write_yaml(tmp_path, CA2)
    out = json.loads(run("verify", model, "--target", "spinnaker", "--samples", "8", "--json"))
    assert out["spike_agreement"] >= 0.99 and out["saturation_events"] == {}
    assert out["backend"]["weights_equal"] is True and out["backend"]["parameters_equal"] is True


@pytest.mark.spinnaker
def test_compile_on_virtual_board_stores_our_words(tmp_path):
    pytest.importorskip("spynnaker")
    model = write_yaml(tmp_path, CA2)
    out = json.loads(run("compile", model, "--target", "spinnaker", "-o", tmp_path / "art", "--json"))
    board = out["placement"]
    assert board["virtual_board"] and board["weights_equal"] is True and board["parameters_equal"] is True
    assert board["parameters_compared"] == 5 * 10 + 2 * 6  # recurrent: 10 PyNN parameters, readout: 6
    spec = json.loads((tmp_path / "art" / "network.json").read_text())
    models = {p["label"]: p["model"] for p in spec["populations"]}
    assert models["recurrent"] == "IF_curr_delta_ca2_adaptive" and models["readout"] == "IF_curr_delta"
    with np.load(tmp_path / "art" / "network.npz") as arrays:
        assert arrays["recurrent.tau_ca2"].min() >= 50.0 and (arrays["recurrent.i_alpha"] < 0).all()
        assert (arrays["recurrent.i_alpha"] * 2**15 == np.rint(arrays["recurrent.i_alpha"] * 2**15)).all()
    errors = {row["tensor"]: row for row in out["quantization_error"]}
    assert errors["rho (tau_ca2)"]["rel_rms_error"] < 1e-4 and errors["i_alpha"]["rel_rms_error"] < 1e-4


def test_alif_refusal_names_the_ca2_neuron(tiny_model):
    done = subprocess.run([sys.executable, "-m", "neuroport.cli", "compile", str(tiny_model), "--target", "spinnaker"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "populations.alif" in done.stderr and "lif_ca2_adaptive" in done.stderr


def test_mixed_kinds_refused_naming_the_population(tmp_path):
    doc = json.loads(json.dumps(CA2))
    doc["populations"].append({"name": "plain", "model": "lif", "size": 3, "tau_m_ms": 20.0, "v_th": 0.6})
    for proj in doc["projections"]:
        proj["source"] = ["ca", "plain"] if proj["source"] == "ca" else proj["source"]
        proj["target"] = ["ca", "plain"] if proj["target"] == "ca" else proj["target"]
    model = write_yaml(tmp_path, doc)
    done = subprocess.run([sys.executable, "-m", "neuroport.cli", "compile", str(model), "--target", "spinnaker"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "population 'plain'" in done.stderr and "lif_ca2_adaptive" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
