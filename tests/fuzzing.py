"""Helpers of tests/test_fuzz_models.py: run the CLI in-process with a time limit, mutate model documents, and
corrupt weight files, YAML texts and NIR graphs."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import signal
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuroport.cli import main

CASE_TIMEOUT_S = 30  # per case; a check takes ~0.03 s and a tiny compile ~0.2 s


class Hang(Exception):
    """A case ran past CASE_TIMEOUT_S."""


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def _alarm(timeout_s: int):
    raise Hang(f"no answer within {timeout_s} s")


def run_cli(args: list[str], timeout_s: int = CASE_TIMEOUT_S) -> Outcome:
    """``neuroport.cli.main(args)`` in this process, stdout/stderr captured, stopped by SIGALRM after ``timeout_s``.
    Any exception other than SystemExit propagates (a traceback is a failure of the test)."""
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: _alarm(timeout_s))
    signal.alarm(timeout_s)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(code, out.getvalue(), err.getvalue())


def assert_clean(outcome: Outcome, case: str) -> None:
    """Exit 0 with no error line, or exit 2 with exactly one line on stderr, starting ``error:``; never an
    allocation failure; ``--json`` output is strict JSON."""
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert outcome.code in (0, 2), f"{case}: exit {outcome.code}, stderr {outcome.stderr[-2000:]}"
    assert "Traceback" not in outcome.stderr, f"{case}: {outcome.stderr[-2000:]}"
    assert "ran out of memory" not in outcome.stderr, f"{case}: allocation failure: {outcome.stderr}"
    if outcome.code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{case}: stderr {lines[:5]}"
    else:
        assert not any(line.startswith("error") for line in lines), f"{case}: {lines[:5]}"
        if outcome.stdout.lstrip().startswith("{"):
            json.loads(outcome.stdout, parse_constant=_no_constant)


def _no_constant(name: str):
    raise AssertionError(f"non-strict JSON constant {name}")


# -- mutations of parsed documents -----------------------------------------------------------------------------
RETYPED = (None, True, False, "x", "", [], {}, [1, 2], {"a": 1}, 3.5, -1, 0, 7.0, "../../x", "a\x00b")
SPECIAL = (math.nan, math.inf, -math.inf, 1e300, -1e300, 10**30, -(10**30), 1e-300, 0, -0.0, 2**63)
FACTORS = (0, -1, 0.5, 2, 3, 1e-9, 1e9)
OPS = ("delete", "retype", "rescale", "rename", "special")


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and list indices) into ``doc``, parents before children."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        out.append((*prefix, key))
        out += paths(value, (*prefix, key))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    node = doc
    for key in path[:-1]:
        node = node[key]
    return node


def mutate(doc: Any, op: str, index: int, choice: int) -> tuple[Any, str]:
    """Apply ``op`` at the ``index``-th path (mod their count) with the ``choice``-th value; returns the new
    document and a description."""
    doc = copy.deepcopy(doc)
    all_paths = paths(doc)
    numeric = [p for p in all_paths if isinstance(_parent(doc, p)[p[-1]], (int, float))
               and not isinstance(_parent(doc, p)[p[-1]], bool)]
    pool = numeric if op in ("rescale", "special") and numeric else all_paths
    if op in ("delete", "rename"):
        pool = [p for p in all_paths if isinstance(_parent(doc, p), dict)] or all_paths
    path = pool[index % len(pool)]
    parent, key = _parent(doc, path), path[-1]
    if op == "delete":
        del parent[key]
        return doc, f"delete {path}"
    if op == "rename" and isinstance(parent, dict):
        new = (f"{key}_x", str(key)[:-1] or "k", str(key).upper(), "unknown")[choice % 4]
        parent[new] = parent.pop(key)
        return doc, f"rename {path} → {new}"
    if op == "rescale" and isinstance(parent[key], (int, float)):
        factor = FACTORS[choice % len(FACTORS)]
        value = parent[key] * factor
        parent[key] = int(value) if isinstance(parent[key], int) and float(value).is_integer() and abs(value) < 1e18 else value
        return doc, f"rescale {path} × {factor}"
    if op == "special":
        parent[key] = SPECIAL[choice % len(SPECIAL)]
        return doc, f"set {path} = {parent[key]!r}"
    parent[key] = copy.deepcopy(RETYPED[choice % len(RETYPED)])
    return doc, f"retype {path} = {parent[key]!r}"


# -- corruptions of text and files ----------------------------------------------------------------------------
def bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def text_case(text: str, kind: int, position: int) -> tuple[str | bytes, str]:
    """A corrupted YAML text (or bytes) and its description."""
    cut = position % max(len(text), 1)
    cases = [
        (lambda: text[:cut], f"truncated at {cut}"),
        (lambda: text[:cut] + "\x00\x01\x02" + text[cut:], f"control bytes at {cut}"),
        (lambda: text[:cut] + "\t" + text[cut:], f"tab at {cut}"),
        (lambda: bomb() + text, "alias bomb prepended"),
        (lambda: text + "\ndeep: " + "[" * 3000 + "]" * 3000 + "\n", "deep list appended"),
        (lambda: text + "\ndeep: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", "deep mapping appended"),
        (lambda: text + "\nr: &r [*r]\n", "recursive alias"),
        (lambda: text + "\nb: &b {x: 1}\nc: {<<: *b, y: *b}\n", "merge keys"),
        (lambda: text.encode()[:cut] + b"\xff\xfe" + text.encode()[cut:], f"invalid UTF-8 at {cut}"),
        (lambda: "", "empty file"),
        (lambda: "- 1\n- 2\n", "a list, not a mapping"),
        (lambda: text + "\n---\nsecond: document\n", "two documents"),
        (lambda: text.replace("neuroport: 1", "neuroport: " + "9" * 5000, 1), "a 5000-digit integer"),
        (lambda: text + "\nwhen: 2001-13-45\n", "an impossible date"),
        (lambda: text + "\nblob: !!binary 'not base64!'\n", "bad binary"),
        (lambda: text + "\nobj: !!python/object:os.system {}\n", "python object tag"),
    ]
    make, what = cases[kind % len(cases)]
    return make(), what


def write_npz_case(path: Path, shape: tuple[int, int], kind: int, rng: np.random.Generator) -> str:
    """Write a weights file for a (rows, cols) projection, corrupted in one of several ways; returns what."""
    good = rng.normal(size=shape)
    makers = [
        (lambda: np.savez(path, w=good), "valid"),
        (lambda: np.savez(path, w=good.T), "transposed shape"),
        (lambda: np.savez(path, w=good[:, :-1]), "a column short"),
        (lambda: np.savez(path, w=np.where(good > 1, np.nan, good)), "NaN values"),
        (lambda: np.savez(path, w=np.full(shape, np.inf)), "inf values"),
        (lambda: np.savez(path, w=np.zeros(shape, dtype=[("a", "f8")])), "structured dtype"),
        (lambda: np.savez(path, w=np.array([[object()] * shape[1]] * shape[0], dtype=object)), "object dtype"),
        (lambda: np.savez(path, w=good.astype(np.float32)), "float32 (valid)"),
        (lambda: np.savez(path, w=(good > 0)), "bool (valid)"),
        (lambda: np.savez(path, w=good.astype(complex)), "complex dtype"),
        (lambda: np.savez(path, v=good), "wrong key"),
        (lambda: _plain_npy(path, good), "a plain .npy"),
        (lambda: _truncated(path, good), "truncated archive"),
        (lambda: _lying_header(path, good), "header lying about the shape"),
        (lambda: _bomb(path, shape), "decompression bomb"),
        (lambda: _flipped(path, good, rng), "bit-flipped archive"),
        (lambda: path.write_bytes(b""), "empty file"),
        (lambda: np.savez(path, w=good.reshape(-1)), "1-D array"),
    ]
    make, what = makers[kind % len(makers)]
    make()
    return what


def _plain_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array)


def _truncated(path: Path, array: np.ndarray) -> None:
    np.savez(path, w=array)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _flipped(path: Path, array: np.ndarray, rng: np.random.Generator) -> None:
    np.savez_compressed(path, w=array)
    data = bytearray(path.read_bytes())
    for i in rng.integers(30, len(data) - 30, size=4):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _lying_header(path: Path, array: np.ndarray) -> None:
    """An .npz whose .npy header claims another row count of the same number of digits (the zip CRC is right)."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    rows = str(array.shape[0])
    lie = "9" * len(rows) if rows != "9" * len(rows) else "1" * len(rows)
    data = buffer.getvalue().replace(f"'shape': ({rows},".encode(), f"'shape': ({lie},".encode(), 1)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", data)


def _bomb(path: Path, shape: tuple[int, int]) -> None:
    """A member that inflates to 20 MB of zeros under a .npy header claiming the model's shape."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("w.npy", header.getvalue() + bytes(20_000_000))
