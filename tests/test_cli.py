"""The CLI end to end on a tiny model: check, compile, verify, report, train, targets; --json everywhere."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from neuroport.cli import cli


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_compile_verify_report_json(tmp_path, tiny_model):
    out = json.loads(run("compile", tiny_model, "--target", "emulator", "-o", tmp_path / "art", "--json"))
    assert out["cores"] == 2 and (tmp_path / "art" / "manifest.json").exists()
    assert {e["tensor"] for e in out["quantization_error"]} >= {"w_in", "w_rec", "w_out", "v_th"}
    assert out["energy"]["energy_j"] > 0
    ver = json.loads(run("verify", tiny_model, "-n", "4", "--json"))
    assert 0.9 < ver["spike_agreement"] <= 1.0 and "accuracy_drop_pp" in ver
    rep = json.loads(run("report", tiny_model, "--compare", "loihi1,loihi2,spinnaker1,spinnaker2", "-n", "2", "--json",
                         "--plot", tmp_path / "e.png", "--html", tmp_path / "r.html"))
    assert "spinnaker2" in (tmp_path / "r.html").read_text() and "data:image/png;base64" in (tmp_path / "r.html").read_text()
    assert set(rep["reports"][0]["rates_hz"]) == {"lif", "alif"}
    assert (tmp_path / "e.png").stat().st_size > 1000
    assert [r["hw"] for r in rep["reports"]] == ["loihi1", "loihi2", "spinnaker1", "spinnaker2"]
    assert rep["cpu_baseline"]["seconds_per_inference"] > 0 and rep["cpu_baseline"]["energy_j"] is None
    for r in rep["reports"]:
        assert r["throughput_per_s"] == pytest.approx(1 / r["latency_s"])
        assert r["neurobench"]["effective_acs"] > 0 and 0 < r["neurobench"]["activation_sparsity"] < 1
        assert abs(sum(line["energy_j"] for line in r["breakdown"]) - r["energy_j"]) <= 1e-12 * r["energy_j"]


def test_train_writes_model_curve_and_plots(tmp_path, tiny_model):
    out = json.loads(run("train", tiny_model, "-i", "2", "--batch-size", "2", "-o", tmp_path, "--json"))
    for name in ("model.yaml", "model.weights.npz", "curve.json", "curve.png", "sample.png"):
        assert (tmp_path / name).exists(), name
    assert len(json.loads((tmp_path / "curve.json").read_text())["history"]) == 2
    assert out["iterations"] == 2
    run("check", tmp_path / "model.yaml")


def test_unknown_target_is_a_clear_error(tiny_model):
    result = CliRunner().invoke(cli, ["compile", str(tiny_model), "--target", "loihi-simm"])
    assert result.exit_code != 0 and "unknown target 'loihi-simm' (did you mean 'loihi-sim'?)" in str(result.exception)


def test_help_teaches():
    assert "compile" in run("--help") and "Example" in run("compile", "--help")


def test_targets_json_imports_no_vendor_library():
    code = ("import sys, json\nfrom neuroport.cli import main\n"
            "try:\n    main(['targets', '--json'])\nexcept SystemExit:\n    pass\n"
            "bad = [m for m in ('lava', 'nest', 'pyNN', 'spynnaker', 'torch', 'tonic', 'nir') if m in sys.modules]\n"
            "print('VENDOR', bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "VENDOR []" in out
    targets = json.loads(out[: out.index("VENDOR")])["targets"]
    assert {t["name"] for t in targets} == {"emulator", "loihi-sim", "loihi2", "spinnaker"}
    assert all(t["installed"] for t in targets)
