"""Fuzzing the command line with hostile models: every case exits 0, or exits 2 with exactly one `error:` line —
never a traceback, a hang (CASE_TIMEOUT_S per case) or an allocation failure.

A fixed corpus (hypothesis, derandomized: the same cases on every run) of mutated example models:

    test_mutated_examples       360 cases  `check` (a fifth with --json) on the 13 examples with 1–3 mutations each
                                           (delete, retype, rescale, rename keys; NaN, ±inf, huge numbers)
    test_corrupted_yaml_text     80 cases  truncated text, control bytes, tabs, alias bombs, deep nesting, recursive
                                           aliases, merges, bad UTF-8, several documents, 5000-digit ints, tags
    test_weight_files            60 cases  `check` on a model reading its weights (and mask) from a corrupted .npz
    test_nir_graphs              40 cases  `check` on mutated NIR graphs (neuroport's own and a foreign one)
    test_compile_small           50 cases  `compile --target emulator` on a mutated 10-neuron model
    test_hw_configs              30 cases  `compile --target emulator --hw FILE` with a mutated hardware config

620 cases in all; the memory limit is set to 2 GB (NEUROPORT_MEMORY_LIMIT_GB) so that what a mutation blows up is
refused by the estimate, not allocated.  Each test also asserts that some of its cases pass and some are refused.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLES, TINY, write_yaml
from tests.fuzzing import OPS, assert_clean, mutate, run_cli, text_case, write_npz_case

LIMIT_ENV = {"NEUROPORT_MEMORY_LIMIT_GB": "2"}
DOCS = {p.stem: yaml.safe_load(p.read_text()) for p in EXAMPLES}
TEXTS = {p.stem: p.read_text() for p in EXAMPLES}


def corpus(n: int):
    """Settings of a fixed corpus of ``n`` cases: derandomized, no example database, no deadline."""
    return settings(max_examples=n, derandomize=True, database=None, deadline=None, print_blob=True,
                    phases=(Phase.explicit, Phase.generate, Phase.shrink),
                    suppress_health_check=list(HealthCheck))


mutation = st.tuples(st.sampled_from(OPS), st.integers(0, 10_000), st.integers(0, 100))


def _apply(doc, mutations):
    described = []
    for op, index, choice in mutations:
        doc, what = mutate(doc, op, index, choice)
        described.append(what)
    return doc, "; ".join(described)


def _run(tally: Counter, args: list[str], case: str) -> None:
    with mock.patch.dict(os.environ, LIMIT_ENV):
        outcome = run_cli(args)
    assert_clean(outcome, case)
    tally[outcome.code] += 1


def _tally_checked(tally: Counter, n: int) -> None:
    assert sum(tally.values()) >= n, tally
    assert tally[0] > 0 and tally[2] > 0, f"a corpus that only passes or only fails tests nothing: {tally}"


def test_mutated_examples():
    tally: Counter = Counter()

    @corpus(360)
    @given(name=st.sampled_from(sorted(DOCS)), mutations=st.lists(mutation, min_size=1, max_size=3), as_json=st.booleans())
    def case(name, mutations, as_json):
        doc, what = _apply(DOCS[name], mutations)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.yaml"
            path.write_text(yaml.safe_dump(doc, sort_keys=False))
            _run(tally, ["check", str(path), *(["--json"] if as_json else [])], f"{name}: {what}")

    case()
    _tally_checked(tally, 360)


def test_corrupted_yaml_text():
    tally: Counter = Counter()

    @corpus(80)
    @given(name=st.sampled_from(sorted(TEXTS)), kind=st.integers(0, 1000), position=st.integers(0, 100_000))
    def case(name, kind, position):
        text, what = text_case(TEXTS[name], kind, position)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.yaml"
            path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
            _run(tally, ["check", str(path)], f"{name}: {what}")

    case()
    assert sum(tally.values()) >= 80 and tally[2] > 0, tally


def _npz_model(tmp: Path, mask: bool) -> Path:
    doc = yaml.safe_load(yaml.safe_dump(TINY))
    spec = {"file": "w.npz", "key": "w", **({"mask_key": "w"} if mask else {})}
    doc["projections"][0] = {"name": "input", "source": "in", "target": ["lif", "alif"], "weights": spec}
    return tmp / "model.yaml", doc


def test_weight_files():
    tally: Counter = Counter()

    @corpus(60)
    @given(kind=st.integers(0, 1000), mask=st.booleans(), seed=st.integers(0, 2**16))
    def case(kind, mask, seed):
        with tempfile.TemporaryDirectory() as tmp:
            path, doc = _npz_model(Path(tmp), mask)
            path.write_text(yaml.safe_dump(doc))
            what = write_npz_case(Path(tmp) / "w.npz", (10, 8), kind, np.random.default_rng(seed))
            _run(tally, ["check", str(path)], f"weights: {what} (mask {mask})")

    case()
    _tally_checked(tally, 60)


def _nir_cases(tmp: Path, which: str, op: int, value: int) -> tuple[Path, str]:
    """A neuroport-written or a foreign NIR graph, with one node parameter, edge or metadata broken."""
    import nir

    from neuroport.ir.loader import load_model
    from neuroport.ir.nir_io import to_nir

    if which == "neuroport":
        src = tmp / "tiny.yaml"
        src.write_text(yaml.safe_dump(TINY))
        g = to_nir(load_model(src))
        names = ("rec", "readout", "w_in", "w_rec", "w_out", "input")
    else:
        from tests.test_nir import _snntorch_like

        g = _snntorch_like()
        names = ("lif1", "out", "fc1", "rec", "fc2", "input")
    bad = (-1.0, 0.0, np.nan, np.inf, 1e300)[value % 5]
    node = g.nodes[names[op % len(names)]]
    edits = [
        (lambda: setattr(node, "tau", np.full_like(np.asarray(node.tau, float), bad)) if hasattr(node, "tau") else None, f"tau = {bad}"),
        (lambda: setattr(node, "v_threshold", np.full_like(np.asarray(node.v_threshold, float), bad)) if hasattr(node, "v_threshold") else None, f"v_threshold = {bad}"),
        (lambda: setattr(node, "weight", np.asarray(node.weight)[:, :-1]) if hasattr(node, "weight") else None, "a weight column short"),
        (lambda: setattr(node, "weight", np.full_like(np.asarray(node.weight, float), bad)) if hasattr(node, "weight") else None, f"weights = {bad}"),
        (lambda: g.metadata.__setitem__("dt", bad), f"dt = {bad}"),
        (lambda: g.edges.append((names[5], names[op % 5])), f"input also feeds {names[op % 5]}"),
        (lambda: g.edges.pop(op % len(g.edges)), "an edge removed"),
        (lambda: setattr(node, "v_leak", np.full_like(np.asarray(node.v_leak, float), 1.0)) if hasattr(node, "v_leak") else None, "v_leak 1"),
        (lambda: None, "valid"),
        (lambda: g.metadata.__setitem__("neuroport", json.dumps(mutate(json.loads(g.metadata["neuroport"]), OPS[op % 5], op, value)[0]))
         if "neuroport" in g.metadata else None, f"carried model.yaml mutated ({OPS[op % 5]})"),
    ]
    edit, what = edits[op % len(edits)]
    edit()
    path = tmp / "g.nir"
    nir.write(str(path), g)
    if op % 11 == 10:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
        what += ", truncated file"
    return path, f"{which} NIR, node {names[op % len(names)]}: {what}"


def test_nir_graphs():
    pytest.importorskip("nir")
    tally: Counter = Counter()

    @corpus(40)
    @given(which=st.sampled_from(["neuroport", "foreign"]), op=st.integers(0, 1000), value=st.integers(0, 100))
    def case(which, op, value):
        with tempfile.TemporaryDirectory() as tmp:
            path, what = _nir_cases(Path(tmp), which, op, value)
            _run(tally, ["check", str(path)], what)

    case()
    _tally_checked(tally, 40)


def _warm_compile(tmp_path: Path) -> Path:
    """Compile the unmutated tiny model once, untimed: the first compile JIT-compiles the emulator's kernels
    (minutes on a cold numba cache), which no case should be charged for."""
    model = write_yaml(tmp_path, TINY)
    assert run_cli(["compile", str(model), "--target", "emulator", "--samples", "1", "-o", str(tmp_path / "o")],
                   timeout_s=900).code == 0
    return model


def test_compile_small(tmp_path):
    tally: Counter = Counter()
    _warm_compile(tmp_path)

    @corpus(50)
    @given(mutations=st.lists(mutation, min_size=0, max_size=2))
    def case(mutations):
        doc, what = _apply(TINY, mutations)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.yaml"
            path.write_text(yaml.safe_dump(doc, sort_keys=False))
            _run(tally, ["compile", str(path), "--target", "emulator", "--samples", "1", "-o", str(Path(tmp) / "out")],
                 f"tiny compile: {what or 'unmutated'}")

    case()
    _tally_checked(tally, 50)


HW_DOCS = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((EXAMPLES[0].parents[1] / "hw_configs").glob("*.yaml"))}


def test_hw_configs(tmp_path):
    tally: Counter = Counter()
    model = _warm_compile(tmp_path)

    @corpus(60)
    @given(name=st.sampled_from(sorted(HW_DOCS)), mutations=st.lists(mutation, min_size=1, max_size=2))
    def case(name, mutations):
        doc, what = _apply(HW_DOCS[name], mutations)
        with tempfile.TemporaryDirectory() as tmp:
            hw = Path(tmp) / "hw.yaml"
            hw.write_text(yaml.safe_dump(doc, sort_keys=False))
            _run(tally, ["compile", str(model), "--target", "emulator", "--hw", str(hw), "--samples", "1", "-o",
                         str(Path(tmp) / "out")], f"{name}: {what}")

    case()
    _tally_checked(tally, 60)
