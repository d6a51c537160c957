"""Hostile inputs, one regression test each: YAML bombs and nesting, task and initializer parameters by name, type
and range, physical ranges, model names, weight files, NIR graphs, the memory estimate, and strict JSON."""

from __future__ import annotations

import copy
import json
import tracemalloc

import numpy as np
import pytest
import yaml

from neuroport import jsonio, safe_yaml
from neuroport.errors import ModelError
from neuroport.ir.loader import load_model
from neuroport.resources import ResourceError, Sizes, estimate
from neuroport.tasks import make_task
from neuroport.tasks.params import defaults, task_class
from tests.conftest import EXAMPLES, TINY, write_yaml
from tests.fuzzing import bomb, run_cli, write_npz_case


def _doc(**changes):
    doc = copy.deepcopy(TINY)
    for path, value in changes.items():
        node = doc
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        node[keys[-1]] = value
    return doc


def _error(tmp_path, doc) -> ModelError:
    with pytest.raises(ModelError) as err:
        load_model(write_yaml(tmp_path, doc))
    return err.value


# -- YAML -------------------------------------------------------------------------------------------------------
def test_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    (tmp_path / "m.yaml").write_text(bomb(9))
    err = pytest.raises(ModelError, load_model, tmp_path / "m.yaml").value
    assert "expands to more than 1,000,000 values" in err.message


def test_expanded_size_counts_every_alias_as_a_copy():
    # a: 3 scalars in a list (4 nodes); b: [*a, *a, *a] → 1 + 3·4 = 13; the root mapping holds keys a, b and both values
    node = yaml.compose("a: &a [1, 2, 3]\nb: [*a, *a, *a]\n")
    assert safe_yaml.expanded_size(node) == 1 + 2 + 4 + 13
    assert safe_yaml.load("a: &a [1, 2]\nb: *a\n") == {"a": [1, 2], "b": [1, 2]}


@pytest.mark.parametrize("text,words", [
    ("a: " + "[" * 100 + "]" * 100, "nesting deeper than 64 levels"),
    ("a: " + "{b: " * 100 + "1" + "}" * 100, "nesting deeper than 64 levels"),
    ("a: &a [*a]\n", "refers to a node that contains it"),
    ("a: " + "9" * 5000 + "\n", "YAML value cannot be read"),
])
def test_yaml_limits(tmp_path, text, words):
    (tmp_path / "m.yaml").write_text(text)
    assert words in pytest.raises(ModelError, load_model, tmp_path / "m.yaml").value.message


def test_document_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(safe_yaml, "MAX_BYTES", 100)
    (tmp_path / "m.yaml").write_text("a: " + "x" * 200)
    assert "more than the 100 a YAML document may have" in pytest.raises(ModelError, load_model, tmp_path / "m.yaml").value.message


# -- task parameters ----------------------------------------------------------------------------------------------
TASK_CASES = [
    ("n_cues", float("nan"), "expected an integer, got float"),
    ("n_cues", 7.0, "expected an integer, got float (7.0)"),
    ("n_cues", True, "expected an integer, got bool"),
    ("n_cues", 4, "n_cues must be odd"),
    ("n_cues", -3, "expected a number ≥ 1 and ≤ 10000, got -3"),
    ("cue_ms", float("inf"), "expected a finite number, got inf"),
    ("cue_ms", -5, "expected a number > 0 and ≤ 1e+07, got -5"),
    ("cue_ms", 1e15, "(a sequence of more than 1e7 ms"),
    ("gap_ms", "10", "expected a number, got a string"),
    ("delay_ms", [1, 2], "expected a number, got a list"),
    ("cue_rate_hz", 1e6, "expected a number ≥ 0 and ≤ 10000, got 1000000.0"),
    ("side_probabilities", [], "expected a non-empty list of numbers, got []"),
    ("side_probabilities", [0.2, 1.5], "expected a number ≥ 0 and ≤ 1, got 1.5"),
    ("n_cue", 3, "unknown field (did you mean 'n_cues'?)"),
]


@pytest.mark.parametrize("key,value,words", TASK_CASES, ids=[f"{c[0]}={c[1]!r}" for c in TASK_CASES])
def test_task_parameter_refused_with_its_path(tmp_path, key, value, words):
    doc = _doc()
    doc["task"]["params"][key] = value
    err = _error(tmp_path, doc)
    path = "task.params.side_probabilities[1]" if value == [0.2, 1.5] else f"task.params.{key}"
    assert (err.path, err.file) == (path, str(tmp_path / "model.yaml"))
    assert words in err.message


@pytest.mark.parametrize("params,path,words", [
    ({"n_groups": 0}, "task.params.n_groups", "expected a number ≥ 1"),
    ({"n_groups": 3}, "task.params.n_groups", "n_in (8) must be divisible by n_groups (3)"),
    ({"amplitude_range": [2.0, 1.0]}, "task.params.amplitude_range", "low ≤ high"),
    ({"frequencies_hz": []}, "task.params.frequencies_hz", "non-empty list"),
    ({"frozen_input": "yes"}, "task.params.frozen_input", "expected true or false"),
])
def test_pattern_generation_parameters(tmp_path, params, path, words):
    doc = _doc(readout__size=1, readout__loss="mse")
    doc["task"] = {"name": "pattern_generation", "params": params}
    err = _error(tmp_path, doc)
    assert err.path == path and words in err.message


def test_make_task_validates_too():
    with pytest.raises(ModelError, match="unknown field") as err:
        make_task("store_recall", {"cue": 3}, n_in=8, n_out=2, dt_ms=1.0)
    assert err.value.path == "task.params.cue"


@pytest.mark.parametrize("name", ["evidence_accumulation", "pattern_generation", "store_recall", "nmnist"])
def test_every_constructor_parameter_is_declared(name):
    import inspect

    cls = task_class(name)
    keywords = [k for k in inspect.signature(cls.__init__).parameters if k not in ("self", "n_in", "n_out", "dt_ms")]
    assert sorted(keywords) == sorted(cls.PARAMS)


@pytest.mark.parametrize("example", [p for p in EXAMPLES if "nmnist" not in p.read_text()], ids=lambda p: p.stem)
def test_sequence_steps_equal_the_built_task(example):
    graph = load_model(example)
    task = make_task(graph.task.name, graph.task.params, n_in=graph.input.size, n_out=graph.readout.size, dt_ms=graph.dt_ms)
    cls = task_class(graph.task.name)
    assert cls.sequence_steps({**defaults(cls), **graph.task.params}, graph.dt_ms) == task.n_steps


def test_missing_dataset_folder_is_named(tmp_path):
    out = run_cli(["check", str(next(p for p in EXAMPLES if p.stem == "nmnist")), "--json"])
    assert out.code == 2 and "task.params.root: no Train folder" in out.stderr and "--data" in out.stderr


# -- physical ranges, initializers, names ---------------------------------------------------------------------------
@pytest.mark.parametrize("changes,path,words", [
    ({"dt_ms": 1e-6}, "dt_ms", "expected 0.001 ≤ dt_ms ≤ 1000 ms"),
    ({"dt_ms": 1e300}, "dt_ms", "expected 0.001 ≤ dt_ms ≤ 1000 ms"),
    ({"populations__0__tau_m_ms": 1e300}, "populations[0].tau_m_ms", "expected at most 1e+07"),
    ({"populations__1__tau_a_ms": 1e12}, "populations[1].tau_a_ms", "longer than any task sequence"),
    ({"populations__0__v_th": 1e300}, "populations[0].v_th", "expected at most 1e+09"),
    ({"readout__tau_out_ms": 1e300}, "readout.tau_out_ms", "expected at most 1e+07"),
    ({"learning__batch_size": 10**18}, "learning.batch_size", "expected an integer ≤ 1,000,000"),
    ({"projections__0__init": {"distribution": "uniform", "low": 1.0, "high": -1.0}},
     "projections[0].init.high", "expected low ≤ high"),
    ({"projections__0__init": {"distribution": "normal", "gain": 1e300}}, "projections[0].init.gain", "magnitude ≤ 1e+09"),
])
def test_physical_ranges(tmp_path, changes, path, words):
    err = _error(tmp_path, _doc(**changes))
    assert err.path == path and words in err.message


@pytest.mark.parametrize("name", ["../../../x", "a/b", "a\\b", "a\x00b", "..", ".hidden", "x" * 200, "a b"])
def test_unsafe_model_names(tmp_path, name):
    err = _error(tmp_path, _doc(name=name))
    assert err.path == "name" and "becomes a file name" in err.message


def test_safe_model_name_accepted(tmp_path):
    assert load_model(write_yaml(tmp_path, _doc(name="ea-v2_seed1.0+x"))).name == "ea-v2_seed1.0+x"


# -- weight files ---------------------------------------------------------------------------------------------------
WEIGHT_CASES = {
    "transposed shape": r"have shape \(8, 10\), expected \(10, 8\)",
    "NaN values": "non-finite value",
    "structured dtype": "expected plain numbers",
    "object dtype": "expected plain numbers",
    "complex dtype": "expected plain numbers",
    "a plain .npy": "it is a plain .npy file",
    "truncated archive": "cannot read weights file",
    "header lying about the shape": r"have shape \(99, 8\)",
    "decompression bomb": "refusing to decompress it",
    "bit-flipped archive": "cannot read weights file",
    "1-D array": r"have shape \(80,\)",
}


@pytest.mark.parametrize("kind", range(18))
def test_weight_file(tmp_path, kind):
    doc = _doc()
    doc["projections"][0] = {"name": "input", "source": "in", "target": ["lif", "alif"], "weights": {"file": "w.npz", "key": "w"}}
    what = write_npz_case(tmp_path / "w.npz", (10, 8), kind, np.random.default_rng(kind))
    file = write_yaml(tmp_path, doc)
    if what in ("valid", "float32 (valid)", "bool (valid)"):
        expected = np.load(tmp_path / "w.npz")["w"].astype(np.float64)
        np.testing.assert_array_equal(load_model(file).projections[0].weights, expected)
        return
    err = pytest.raises(ModelError, load_model, file).value
    assert err.path.startswith("projections[0].weights")
    if what in WEIGHT_CASES:
        assert __import__("re").search(WEIGHT_CASES[what], err.message), (what, err.message)


# -- NIR --------------------------------------------------------------------------------------------------------------
def _foreign(tmp_path, edit):
    nir = pytest.importorskip("nir")
    from neuroport.ir.nir_io import read_nir
    from tests.test_nir import _snntorch_like

    g = _snntorch_like()
    edit(g)
    nir.write(str(tmp_path / "g.nir"), g)
    with pytest.raises(ModelError) as err:
        read_nir(tmp_path / "g.nir")
    return err.value


@pytest.mark.parametrize("edit,path,words", [
    (lambda g: g.metadata.update(dt=-1e-4), "metadata.dt", "expected 1e-06 s ≤ dt ≤ 1 s, got -0.0001 s"),
    (lambda g: g.metadata.update(dt=float("nan")), "metadata.dt", "expected a finite number"),
    (lambda g: setattr(g.nodes["lif1"], "tau", np.full(4, -5e-3)), "nodes.lif1.tau", "expected values > 0"),
    (lambda g: setattr(g.nodes["lif1"], "v_threshold", np.array([1, np.nan, 1, 1.0])), "nodes.lif1.v_threshold", "non-finite"),
    (lambda g: setattr(g.nodes["out"], "tau", np.full(2, 0.0)), "nodes.out.tau", "expected values > 0"),
    (lambda g: setattr(g.nodes["rec"], "weight", np.zeros((4, 3))), "nodes.rec.weight", "expected 4 × 4"),
    (lambda g: setattr(g.nodes["fc2"], "weight", np.zeros((2, 5))), "nodes.fc2.weight", "expected any × 4"),
    (lambda g: [setattr(g.nodes["lif1"], k, np.ones(3) * 5e-3) for k in ("tau", "r", "v_leak", "v_threshold", "v_reset")],
     "nodes.lif1.tau", "has 3 values, expected 4 (one per neuron)"),
    (lambda g: g.edges.append(("input", "rec")), "nodes.input", "feeds 2 nodes (fc1, rec)"),
    (lambda g: g.edges.append(("fc2", "input")), "nodes.fc2", "feeds 2 nodes"),
    (lambda g: g.edges.append(("out", "lif1")), "nodes.lif1", "also fed by out"),
    (lambda g: setattr(g.nodes["lif1"], "v_leak", np.ones(4)), "nodes.lif1.v_leak", "leak towards 0"),
])
def test_bad_nir_graph(tmp_path, edit, path, words):
    err = _foreign(tmp_path, edit)
    assert err.path == path and words in err.message, (err.path, err.message)


# -- resources ---------------------------------------------------------------------------------------------------------
def test_estimate_arithmetic():
    sizes = Sizes(n_in=4, populations=(("populations[0].size", 10),), n_out=2,
                  projections=(("projections[0]", 10, 4, False, None), ("projections[1]", 10, 10, True, None),
                               ("projections[2]", 2, 10, False, 7)), n_steps=100, batch=3)
    items = {i.what: i.bytes for i in estimate(sizes).items}
    assert items == {"10×4 dense weights": 40 * 40, "10×10 masked weights": 100 * 41, "7 listed synapses (2×10)": 7 * 72,
                     "10 neurons × 24 parameters": 10 * 24 * 8,
                     "task data: 3 samples × 100 steps × 4 inputs": 3 * 100 * (4 * 25 + 2 * 16),
                     "recorded states: 3 samples × 100 steps × 10 neurons": 3 * 100 * 10 * 73}
    assert estimate(sizes).multiply_adds == 100 * (140 + 7 + 10 * 10)


def test_dense_1e5_neuron_model_is_refused_by_check_with_its_estimate(tmp_path):
    doc = _doc(populations__0__size=100_000)
    out = run_cli(["--memory-limit", "16", "check", str(write_yaml(tmp_path, doc))])
    assert out.code == 2 and out.stderr.count("\n") == 1
    assert "projections[1]: needs about 414 GB of memory (100004×100004 masked weights: 410 GB)" in out.stderr
    assert "the --memory-limit is 16 GB" in out.stderr


@pytest.mark.parametrize("changes,path", [
    ({"populations__0__size": 10**12}, "projections[1]"),
    ({"task__params__n_cues": 9999, "task__params__cue_ms": 1e7}, "task.params.cue_ms"),
])
def test_huge_models_refused_without_allocating(tmp_path, changes, path):
    file = write_yaml(tmp_path, _doc(**changes))
    tracemalloc.start()
    try:
        err = pytest.raises(ResourceError, load_model, file).value
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.path == path and "needs about" in err.message
    assert peak < 20e6  # bytes: parsing and checking, no model array


def test_memory_limit_option_and_environment(tmp_path, monkeypatch):
    file = str(write_yaml(tmp_path, _doc()))
    assert run_cli(["--memory-limit", "1e-6", "check", file]).code == 2
    monkeypatch.setenv("NEUROPORT_MEMORY_LIMIT_GB", "1e-6")
    assert "NEUROPORT_MEMORY_LIMIT_GB is 1 kB" in run_cli(["check", file]).stderr
    assert run_cli(["--memory-limit", "4", "check", file]).code == 0  # the option wins over the environment
    out = run_cli(["--memory-limit", "4", "verify", file, "--samples", "100000000"])
    assert out.code == 2 and "--samples: needs about" in out.stderr


def test_check_prints_the_estimate(tmp_path):
    file = str(write_yaml(tmp_path, _doc()))
    assert "  memory   ~" in run_cli(["check", file]).stdout
    resources = json.loads(run_cli(["check", file, "--json"]).stdout)["resources"]
    assert resources["batch"] == 4 and resources["n_steps"] == 3 * (20 + 10) + 30 + 20
    assert resources["total_bytes"] == sum(i["bytes"] for i in resources["items"])


# -- JSON ---------------------------------------------------------------------------------------------------------------
def test_strict_json():
    text = jsonio.dumps({"a": float("nan"), "b": [np.float32(np.inf), np.int64(3)], "c": (1, {2})})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(c)) == {"a": None, "b": [None, 3], "c": [1, [2]]}


def test_no_json_writer_bypasses_the_helper():
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1]
    offenders = [f"{p.relative_to(root)}:{i + 1}" for folder in ("neuroport", "backends", "benchmarks")
                 for p in (root / folder).rglob("*.py") if p.name != "pynn_script.py"
                 for i, line in enumerate(p.read_text().splitlines()) if re.search(r"write_text\(json\.dumps|json\.dump\(", line)]
    assert offenders == []


def test_carried_neuroport_metadata_errors_name_the_nir_file(tmp_path):
    nir = pytest.importorskip("nir")
    from neuroport.ir.nir_io import read_nir, to_nir

    g = to_nir(load_model(write_yaml(tmp_path, _doc())))
    doc = json.loads(g.metadata["neuroport"])
    doc["task"]["params"]["cue_ms"] = -1
    g.metadata["neuroport"] = json.dumps(doc)
    nir.write(str(tmp_path / "g.nir"), g)
    err = pytest.raises(ModelError, read_nir, tmp_path / "g.nir").value
    assert (err.file, err.path) == (str(tmp_path / "g.nir"), "metadata.neuroport.task.params.cue_ms")
    g.metadata["neuroport"] = "{not json"
    nir.write(str(tmp_path / "g.nir"), g)
    assert pytest.raises(ModelError, read_nir, tmp_path / "g.nir").value.path == "metadata.neuroport"


@pytest.mark.parametrize("stem,name", [("my model", "my_model"), ("..", "imported"), (".hidden", "hidden"),
                                       ("a..b", "a_b"), ("ok-1.2", "ok-1.2"), ("", "imported")])
def test_imported_names_are_made_safe(stem, name):
    from neuroport.ir.ranges import MODEL_NAME, safe_name

    assert safe_name(stem) == name and MODEL_NAME.fullmatch(name)


def test_check_warns_about_legal_but_unlikely_values(tmp_path):
    doc = _doc(populations__0__tau_m_ms=0.5)
    doc["projections"][1]["delay_steps"] = 1000
    doc["task"]["params"]["cue_rate_hz"] = 5000
    warnings = json.loads(run_cli(["check", str(write_yaml(tmp_path, doc)), "--json"]).stdout)["warnings"]
    assert [w.split(":")[0] for w in warnings] == ["populations[0].tau_m_ms", "projections[1].delay_steps",
                                                   "task.params.cue_rate_hz"]
    assert "exceeds the task's 140 steps" in warnings[1]


def test_hw_config_bomb_and_ranges(tmp_path):
    from neuroport.errors import HwConfigError
    from neuroport.hw import load_hw

    (tmp_path / "bomb.yaml").write_text(bomb(9))
    assert "alias bomb" in pytest.raises(HwConfigError, load_hw, tmp_path / "bomb.yaml").value.message
    doc = yaml.safe_load((EXAMPLES[0].parents[1] / "hw_configs" / "loihi2.yaml").read_text())
    doc["resources"]["cores_per_tile"]["value"] = 0
    (tmp_path / "hw.yaml").write_text(yaml.safe_dump(doc))
    err = pytest.raises(HwConfigError, load_hw, tmp_path / "hw.yaml").value
    assert err.path == "resources.cores_per_tile.value" and "expected 1 ≤ value" in err.message
    doc["resources"]["cores_per_tile"]["value"] = 4
    doc["params"]["vth_shift"]["value"] = 6.5
    (tmp_path / "hw.yaml").write_text(yaml.safe_dump(doc))
    assert "expected an integer, got 6.5" in pytest.raises(HwConfigError, load_hw, tmp_path / "hw.yaml").value.message
    doc["params"]["vth_shift"]["value"] = 6
    doc["energy"]["e_synop_j"]["value"] = 0.0  # in range, but a zero cost would hide the operation: refused at load
    (tmp_path / "hw.yaml").write_text(yaml.safe_dump(doc))
    err = pytest.raises(HwConfigError, load_hw, tmp_path / "hw.yaml").value
    assert err.path == "energy.e_synop_j.value" and err.message.startswith("must be a positive number")


def test_curve_json_is_strict(tmp_path):
    """A regression task has no classification error: the curve holds it as null, not NaN."""
    doc = _doc(readout__size=1, readout__loss="mse")
    doc["task"] = {"name": "pattern_generation", "params": {"duration_ms": 50, "n_groups": 4}}
    out = run_cli(["train", str(write_yaml(tmp_path, doc)), "-i", "2", "-o", str(tmp_path / "t"), "--json"])
    assert out.code == 0, out.stderr
    text = (tmp_path / "t" / "curve.json").read_text()
    history = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in curve.json"))["history"]
    assert len(history) == 2 and history[0]["error"] is None and history[0]["loss"] > 0
