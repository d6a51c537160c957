"""Malformed models: each gives one clear message naming the file and the YAML path, exit status 2, no traceback."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from click.testing import CliRunner

from neuroport.cli import cli, main
from neuroport.errors import ModelError
from neuroport.ir.loader import load_model
from tests.conftest import TINY, write_yaml


def mutate(fn):
    doc = copy.deepcopy(TINY)
    fn(doc)
    return doc


def _set(path, value):
    def fn(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return fn


def _del(path):
    def fn(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return fn


# (case id, mutation of the tiny model, expected YAML path, expected words of the message)
CASES = [
    ("missing_name", _del(["name"]), "name", "required field is missing"),
    ("size_is_string", _set(["input", "size"], "ten"), "input.size", "expected an integer, got a string ('ten')"),
    ("size_is_bool", _set(["input", "size"], True), "input.size", "expected an integer, got a boolean (True)"),
    ("size_zero", _set(["populations", 0, "size"], 0), "populations[0].size", "expected an integer ≥ 1, got 0"),
    ("negative_tau", _set(["populations", 0, "tau_m_ms"], -20.0), "populations[0].tau_m_ms", "expected a positive number, got -20.0"),
    ("unknown_key", _set(["populations", 0, "tau_m"], 20.0), "populations[0].tau_m", "unknown field (did you mean 'tau_m_ms'?)"),
    ("unknown_model", _set(["populations", 1, "model"], "alf"), "populations[1].model", "unknown value 'alf' (did you mean 'alif'?)"),
    ("unknown_source", _set(["projections", 0, "source"], "inp"), "projections[0].source", "unknown node 'inp' (did you mean 'in'?)"),
    ("list_wrong_length", _set(["populations", 0, "v_th"], [0.6, 0.6]), "populations[0].v_th", "expected 6 values (one per neuron), got 2"),
    ("bad_probability", _set(["projections", 1, "connection_probability"], 1.5), "projections[1].connection_probability", "expected a probability in (0, 1], got 1.5"),
    ("newer_version", _set(["neuroport"], 99), "neuroport", "model format version 99 is newer than this neuroport supports"),
    ("duplicate_names", _set(["populations", 1, "name"], "lif"), "populations[1].name", "node name 'lif' is already used at populations[0].name"),
    ("forbidden_direction", _set(["projections", 2, "target"], "in"), "projections[2]", "a projection population → input is not allowed"),
    ("overlap", lambda d: d["projections"].append(copy.deepcopy(d["projections"][0]) | {"name": "again"}), "projections[3]", "overlaps an earlier projection"),
    ("unknown_loss", _set(["readout", "loss"], "xent"), "readout.loss", "unknown value 'xent'"),
    ("unknown_task", _set(["task", "name"], "evidence"), "task.name", "unknown value 'evidence' (did you mean 'evidence_accumulation'?)"),
    ("both_init_and_weights", _set(["projections", 0, "weights"], {"file": "w.npz", "key": "w"}), "projections[0]", "give exactly one of 'init'"),
    ("populations_not_list", _set(["populations"], {"name": "lif"}), "populations", "expected a non-empty list, got a mapping"),
    ("nan_number", _set(["dt_ms"], float("nan")), "dt_ms", "expected a finite number"),
    ("no_readout_projection", lambda d: d["projections"].pop(), "projections", "no projection reaches the readout"),
    ("decay_factor_above_one", _set(["learning", "optimizer", "decay"], {"factor": 1.5, "every_iterations": 10}),
     "learning.optimizer.decay.factor", "expected a decay factor 0 < factor ≤ 1, got 1.5"),
    ("decay_every_zero", _set(["learning", "optimizer", "decay"], {"factor": 0.5, "every_iterations": 0}),
     "learning.optimizer.decay.every_iterations", "expected an integer ≥ 1, got 0"),
    ("decay_typo", _set(["learning", "optimizer", "decay"], {"factor": 0.5, "every": 10}),
     "learning.optimizer.decay.every_iterations", "required field is missing"),
    ("optimizer_typo", _set(["learning", "optimizer", "decy"], {"factor": 0.5}),
     "learning.optimizer.decy", "unknown field (did you mean 'decay'?)"),
]


@pytest.mark.parametrize("case,fn,path,words", CASES, ids=[c[0] for c in CASES])
def test_malformed_model(tmp_path, case, fn, path, words):
    file = write_yaml(tmp_path, mutate(fn))
    with pytest.raises(ModelError) as err:
        load_model(file)
    assert err.value.path == path
    assert err.value.file == str(file)
    assert words in err.value.message
    assert str(err.value).startswith(f"{file}: {path}: ")


def test_yaml_syntax_error_names_line(tmp_path):
    file = tmp_path / "bad.yaml"
    file.write_text("neuroport: 1\nname: [unclosed\n")
    with pytest.raises(ModelError, match=r"YAML syntax error at line 3, column 1"):
        load_model(file)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="file not found"):
        load_model(tmp_path / "nope.yaml")


def test_top_level_not_mapping(tmp_path):
    file = tmp_path / "list.yaml"
    file.write_text("- 1\n- 2\n")
    with pytest.raises(ModelError, match="expected a mapping of fields, got a list"):
        load_model(file)


def _npz_doc(tmp_path, weights, key="w"):
    np.savez(tmp_path / "w.npz", **{key: weights})
    return mutate(lambda d: d["projections"][0].pop("init") and None or d["projections"][0].update(weights={"file": "w.npz", "key": "w"}))


def test_weights_file_shape_mismatch(tmp_path):
    doc = _npz_doc(tmp_path, np.zeros((3, 3)))
    with pytest.raises(ModelError, match=r"have shape \(3, 3\), expected \(10, 8\)"):
        load_model(write_yaml(tmp_path, doc))


def test_weights_file_non_finite(tmp_path):
    w = np.zeros((10, 8))
    w[2, 5] = np.inf
    with pytest.raises(ModelError, match=r"non-finite value at index \(2, 5\)"):
        load_model(write_yaml(tmp_path, _npz_doc(tmp_path, w)))


def test_weights_file_missing_key(tmp_path):
    doc = _npz_doc(tmp_path, np.zeros((10, 8)), key="other")
    with pytest.raises(ModelError, match=r"no array 'w' in .* it holds: other"):
        load_model(write_yaml(tmp_path, doc))


def test_weights_file_corrupt(tmp_path):
    doc = _npz_doc(tmp_path, np.zeros((10, 8)))
    (tmp_path / "w.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelError, match="cannot read weights file"):
        load_model(write_yaml(tmp_path, doc))


def test_weights_file_missing(tmp_path):
    doc = _npz_doc(tmp_path, np.zeros((10, 8)))
    (tmp_path / "w.npz").unlink()
    with pytest.raises(ModelError, match="weights file not found"):
        load_model(write_yaml(tmp_path, doc))


@pytest.mark.parametrize("case,fn,path,words", CASES[:6], ids=[c[0] for c in CASES[:6]])
def test_cli_prints_one_line_and_exits_2(tmp_path, capsys, case, fn, path, words):
    file = write_yaml(tmp_path, mutate(fn))
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(file)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == err.strip().splitlines()[0], "one line"
    assert err.startswith(f"error: {file}: {path}: ") and words in err
    assert "Traceback" not in err


def test_cli_check_valid(tiny_model):
    result = CliRunner().invoke(cli, ["check", str(tiny_model), "--json"])
    assert result.exit_code == 0, result.output
    assert '"neurons": 10' in result.output
