"""The analytic Loihi cost model against SANA-FE (sanafe 2.2.9) on the same replayed activity.

A seeded network spread over 19 cores on 5 tiles (so that spikes cross the mesh east-west and north-south) runs
in the bit-accurate emulator; SANA-FE replays its spike trains and active steps on the same placement.  Both
engines must count the same events exactly and, with the same per-event figures, give the same energy; latency
(SANA-FE schedules messages in detail, the analytic model averages each core's work) within [0.75, 1.33].
"""

from __future__ import annotations

from dataclasses import replace

import click
import numpy as np
import pytest
from click.testing import CliRunner

from neuroport.cli import main
from neuroport.hw import Quantity, load_hw
from neuroport.mapping import map_graph
from tests.test_mapping import layer


def small_cores():
    hw = load_hw("loihi1")
    return replace(hw, resources={**hw.resources, "neurons_per_core": Quantity(4, "test", "estimate")})


def test_both_engines_count_the_same_events_and_agree_on_the_totals():
    pytest.importorskip("sanafe")
    from neuroport.reporters.sanafe_engine import crosscheck

    hw = small_cores()
    graph = layer(70, 5, 0.3, seed=3)
    mapping = map_graph(graph, hw)
    assert len(mapping.cores) == 19  # 18 recurrent cores of 4 neurons (the last holds 2) + 1 readout: tiles 0-4
    inputs = (np.random.default_rng(4).random((2, 30, 5)) < 0.3).astype(np.int64)
    cc = crosscheck("emulator", graph, hw, mapping, inputs, cost_steps=60)
    assert cc["samples"] == 2 and cc["n_steps"] == 30
    counts = cc["counts"]
    assert counts["hops"]["analytic"] > 0 and counts["synaptic_events"]["analytic"] > 0
    for name, pair in counts.items():
        assert pair["analytic"] == pair["sanafe"], name
    for row in cc["components"]:
        if row.get("sanafe_j") is not None:
            assert row["analytic_j"] == pytest.approx(row["sanafe_j"], rel=1e-9, abs=1e-21), row["component"]
    assert cc["energy_ratio"] == pytest.approx(1.0, rel=1e-9)
    assert 0.75 <= cc["latency_ratio"] <= 1.33
    hops = cc["analytic"]["report"]["breakdown"]
    assert {ln["item"] for ln in hops if ln["count"] > 0} >= {"mesh hops east-west", "mesh hops north-south"}


def test_cost_steps_bounds_the_run():
    pytest.importorskip("sanafe")
    from neuroport.reporters.sanafe_engine import bounded_inputs

    x = np.zeros((8, 100, 3), dtype=np.int64)
    assert bounded_inputs(x, 250)[0].shape == (2, 100, 3)
    assert bounded_inputs(x, 40)[0].shape == (1, 40, 3)


def run_cli(*args):
    """``neuroport ARGS`` through the entry point that turns user errors into one line and exit status 2."""
    return CliRunner().invoke(main_command, [str(a) for a in args])


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def main_command(ctx):
    main(list(ctx.args))


def test_unknown_cost_engine_is_one_clear_line():
    result = run_cli("report", "results/pattern_generation_trained.yaml", "--target", "loihi-sim", "--hw", "loihi1",
                     "--cost-engine", "sanafee", "-n", "1")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: unknown cost engine 'sanafee' (--cost-engine); choose one of: analytic, sanafe"


def test_sanafe_refuses_configs_it_does_not_model():
    pytest.importorskip("sanafe")
    result = run_cli("report", "results/pattern_generation_trained.yaml", "--target", "loihi-sim", "--hw", "loihi2",
                     "--cost-engine", "sanafe", "-n", "1")
    assert result.exit_code == 2
    assert "models Loihi 1 only" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_missing_sanafe_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sanafe", None)  # import sanafe now raises ImportError
    result = run_cli("report", "results/pattern_generation_trained.yaml", "--target", "loihi-sim", "--hw", "loihi1",
                     "--cost-engine", "sanafe", "-n", "1")
    assert result.exit_code == 2
    assert "neuroport[sanafe]" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bad_cost_in_a_config_names_the_field(tmp_path):
    import yaml

    doc = yaml.safe_load(open(load_hw("loihi1").file))
    doc["energy"]["e_synop_j"]["value"] = -1.0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = run_cli("report", "results/pattern_generation_trained.yaml", "--target", "loihi-sim", "--hw", path, "-n", "1")
    assert result.exit_code == 2
    assert "energy.e_synop_j.value: expected 0 ≤ value" in result.stderr and "got -1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_report_json_shows_both_engines_and_their_ratio():
    pytest.importorskip("sanafe")
    import json

    result = run_cli("report", "results/pattern_generation_trained.yaml", "--target", "loihi-sim", "--hw", "loihi1",
                     "--cost-engine", "sanafe", "--cost-steps", "40", "-n", "1", "--json")
    assert result.exit_code == 0, result.stderr
    (report,) = json.loads(result.stdout)["reports"]
    cc = report["cost_engines"]
    assert cc["n_steps"] == 40 and cc["samples"] == 1
    assert cc["analytic"]["energy_j"] > 0 and cc["sanafe"]["energy_j"] > 0 and cc["sanafe"]["latency_s"] > 0
    assert cc["energy_ratio"] == pytest.approx(cc["analytic"]["energy_j"] / cc["sanafe"]["energy_j"])
    assert all(pair["analytic"] == pair["sanafe"] for pair in cc["counts"].values())
    assert {row["component"] for row in cc["components"]} >= {"synaptic ops", "neuron updates + spikes", "spike messages",
                                                              "mesh hops", "static", "barrier/sync (latency per step)"}
    assert any(ln["sureness"] == "not modelled" and "static" in ln["item"] for ln in report["breakdown"])
