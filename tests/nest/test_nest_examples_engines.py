"""`neuroport train --engine numpy` and `--engine nest` on the two NEST-convention examples, shortened (fewer and
shorter sequences): examples/evidence_accumulation_nest.yaml (readout ``regular_spike_arrival: false``, NEST's
``eprop_readout_bsshslm_2020``) and examples/pattern_generation_psc_delta_nest.yaml (``eprop_iaf_psc_delta``,
e-prop+, NEST's target wiring).  Same curve — neuroport's ``loss`` and NEST's ``nest_loss`` to 1e-9 relative — and
the same trained weights (1e-9 of each tensor's largest magnitude)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from neuroport.cli import cli
from tests.conftest import ROOT, write_yaml

pytestmark = pytest.mark.nest


def shortened(name: str) -> dict:
    doc = yaml.safe_load((ROOT / "examples" / name).read_text())
    if doc["task"]["name"] == "evidence_accumulation":
        doc["learning"]["batch_size"] = 2
        doc["task"]["params"].update(n_cues=3, cue_ms=30, gap_ms=20, delay_ms=100)
    else:
        doc["task"]["params"]["duration_ms"] = 200
    return doc


@pytest.mark.parametrize("name", ["evidence_accumulation_nest.yaml", "pattern_generation_psc_delta_nest.yaml"])
def test_nest_convention_examples_train_identically_in_both_engines(tmp_path, name):
    model = write_yaml(tmp_path, shortened(name))
    curves, weights = {}, {}
    for engine in ("numpy", "nest"):
        out = tmp_path / engine
        result = CliRunner().invoke(cli, ["train", str(model), "--engine", engine, "-i", "3", "-o", str(out), "--json"])
        assert result.exit_code == 0, result.output
        curves[engine] = json.loads((out / "curve.json").read_text())["history"]
        with np.load(out / "model.weights.npz") as data:
            weights[engine] = {k: data[k] for k in data.files}
    for key in ("loss", "nest_loss"):
        ours, nest = [h[key] for h in curves["numpy"]], [h[key] for h in curves["nest"]]
        assert all(np.isfinite(ours)), key
        np.testing.assert_allclose(ours, nest, rtol=1e-9, err_msg=key)
    for key, value in weights["numpy"].items():
        np.testing.assert_allclose(value, weights["nest"][key], rtol=0, atol=1e-9 * max(np.abs(value).max(), 1))
    model_yaml = yaml.safe_load((tmp_path / "numpy" / "model.yaml").read_text())
    if "evidence" in name:
        assert model_yaml["readout"]["regular_spike_arrival"] is False
    else:
        assert model_yaml["populations"][0]["model"] == "lif_psc_delta"
