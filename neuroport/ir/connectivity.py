"""Connectivity rules of model.yaml: a projection's synapses generated directly as a list, never as a matrix.

``connectivity: {rule: ..., ...}`` in a projection (memory and time ∝ synapses; seeded by the model's seed and the
projection's index, so a file always loads to the same synapses):

    fixed_fan_in       fan_in: k        every target gets k distinct sources, drawn uniformly
    fixed_fan_out      fan_out: k       every source reaches k distinct targets, drawn uniformly
    fixed_probability  probability: p   every (target, source) pair exists with probability p, independently
                                        (a Bernoulli process walked by geometric gaps, so cost ∝ p · pairs)
    one_to_one                          target i ← source i (n_target = n_source)
    from_list          file, targets, sources[, weights][, delays]: keys of index/weight arrays in an .npz

``self_connections: false`` (projections from nodes to the same nodes) leaves out i → i.  Weights come from
``init`` (:func:`synapse_values`) or, for ``from_list``, from its ``weights`` key.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from neuroport.ir.synapses import INDEX_DTYPE, Synapses, synapse_problem
from neuroport.ir.yamlpath import Section

RULES = ("fixed_fan_in", "fixed_fan_out", "fixed_probability", "one_to_one", "from_list")
DISTRIBUTIONS = ("normal", "uniform", "glorot_uniform", "constant")


def distinct_per_row(n_rows: int, k: int, n_choices: int, rng: np.random.Generator, skip_diagonal: bool) -> np.ndarray:
    """(n_rows, k) sorted column indices, k distinct ones per row drawn uniformly from [0, n_choices) (without
    column r in row r when ``skip_diagonal``).  Draws with replacement and redraws the repeats (few when k ≪
    n_choices); above half of the choices, takes the first k of a random permutation per row."""
    avail = n_choices - int(skip_diagonal)
    if 2 * k > avail:
        cols = np.sort(np.argsort(rng.random((n_rows, avail)), axis=1)[:, :k], axis=1).astype(INDEX_DTYPE)
    else:
        cols = rng.integers(0, avail, (n_rows, k), dtype=INDEX_DTYPE)  # int32: 4 bytes per synapse
        todo = np.arange(n_rows)
        while todo.size:
            sub = np.sort(cols[todo], axis=1)
            repeat = np.zeros(sub.shape, dtype=bool)
            repeat[:, 1:] = sub[:, 1:] == sub[:, :-1]
            sub[repeat] = rng.integers(0, avail, int(repeat.sum()), dtype=INDEX_DTYPE)
            cols[todo] = sub
            todo = todo[repeat.any(axis=1)]
        cols.sort(axis=1)
    if skip_diagonal:  # [0, avail) → [0, n_choices) \ {r}: shift columns at or after r by one (keeps the order)
        cols += cols >= np.arange(n_rows, dtype=INDEX_DTYPE)[:, None]
    return cols


def bernoulli_pairs(n_rows: int, n_cols: int, p: float, rng: np.random.Generator, skip_diagonal: bool) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the pairs drawn by independent Bernoulli(p) trials over the n_rows × n_cols grid (row-major,
    sorted), found by geometric gaps between successes: work ∝ the number drawn, not the grid."""
    avail = n_cols - int(skip_diagonal)
    total = n_rows * avail
    chunks, position = [], -1
    while position < total - 1:
        expected = (total - 1 - position) * p
        gaps = rng.geometric(p, int(expected + 6 * np.sqrt(expected) + 16))
        steps = position + np.cumsum(gaps)
        chunks.append(steps[steps < total])
        position = int(steps[-1])
    flat = np.concatenate(chunks)
    rows, cols = flat // avail, flat % avail
    if skip_diagonal:
        cols += cols >= rows
    return rows, cols


def synapse_values(s: Section, n: int, fan_in: float, fan_out: float, rng: np.random.Generator) -> np.ndarray:
    """Weights of n synapses from an ``init`` section, one draw per synapse (fan_in, fan_out: mean synapses per
    target and per source):  normal N(0, 1) · gain / sqrt(fan_in);  glorot_uniform U(−l, l), l = gain ·
    sqrt(6 / (fan_in + fan_out));  uniform U(low, high);  constant value."""
    dist = s.string("distribution", choices=DISTRIBUTIONS)
    gain = s.number("gain", 1.0)
    samplers: dict[str, Callable[[], np.ndarray]] = {
        "normal": lambda: rng.standard_normal(n) * gain / np.sqrt(max(fan_in, 1.0)),
        "glorot_uniform": lambda: rng.uniform(-1, 1, n) * gain * np.sqrt(6.0 / max(fan_in + fan_out, 1.0)),
        "uniform": lambda: rng.uniform(s.number("low"), s.number("high"), n),
        "constant": lambda: np.full(n, s.number("value")),
    }
    values = samplers[dist]()
    s.finish()
    return values


def _count(c: Section, key: str, limit: int, what: str, name: str) -> int:
    k = c.integer(key, minimum=1)
    if k > limit:
        raise c.fail(f"projection '{name}' asks for {k} {what}, but only {limit} exist", key)
    return k


def _rule_pairs(c: Section, rule: str, shape: tuple[int, int], rng: np.random.Generator, skip: bool,
                name: str) -> tuple[np.ndarray, np.ndarray]:
    """(targets, sources) of a generating rule, in canonical order."""
    n_target, n_source = shape
    rows = lambda n, k: np.repeat(np.arange(n, dtype=INDEX_DTYPE), k)  # noqa: E731
    if rule == "fixed_fan_in":
        k = _count(c, "fan_in", n_source - int(skip), "distinct sources per target", name)
        return rows(n_target, k), distinct_per_row(n_target, k, n_source, rng, skip).reshape(-1)
    if rule == "fixed_fan_out":
        k = _count(c, "fan_out", n_target - int(skip), "distinct targets per source", name)
        sources, targets = rows(n_source, k), distinct_per_row(n_source, k, n_target, rng, skip).reshape(-1)
        order = np.argsort(targets.astype(np.int64) * n_source + sources, kind="stable")
        return targets[order], sources[order]
    if rule == "fixed_probability":
        p = c.number("probability", positive=True)
        if p > 1:
            raise c.fail(f"projection '{name}': expected a probability in (0, 1], got {p}", "probability")
        return bernoulli_pairs(n_target, n_source, p, rng, skip)
    if n_target != n_source:
        raise c.fail(f"projection '{name}': one_to_one needs as many targets as sources, got {n_target} targets "
                     f"and {n_source} sources", "rule")
    if skip:
        raise c.fail(f"projection '{name}': one_to_one with self_connections: false has no synapse", "self_connections")
    return np.arange(n_target), np.arange(n_source)


def _npz_arrays(c: Section, keys: dict[str, bool], base_dir: Path, name: str,
                shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """The arrays named by ``keys`` (field → required) from the .npz in field ``file``: 1-D arrays of at most one
    value per (target, source) pair of ``shape``, never inflated past that (:func:`~neuroport.ir.artifact.read_member`
    refuses a member whose directory entry or content is larger, and any non-numeric dtype)."""
    from neuroport.ir.artifact import read_member

    file = c.string("file")
    path = base_dir / file if not Path(file).is_absolute() else Path(file)
    wanted = {k: c.string(k) if required else c.raw(k, None) for k, required in keys.items()}
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted(n.removesuffix(".npy") for n in archive.namelist() if n.endswith(".npy"))
            for field, key in wanted.items():
                if key is not None and key not in members:
                    raise c.fail(f"projection '{name}': no array '{key}' in {path}; it holds: "
                                 f"{', '.join(members) or 'nothing'}", field)
            return {field: read_member(archive, key, (shape[0] * shape[1],)) for field, key in wanted.items()
                    if key is not None}
    except FileNotFoundError:
        raise c.fail(f"projection '{name}': synapse list file not found: {path}", "file") from None
    except (OSError, ValueError, zipfile.BadZipFile, zlib.error, EOFError, KeyError) as exc:
        raise c.fail(f"projection '{name}': cannot read synapse list file {path}: {exc}", "file") from None


def read_connectivity(s: Section, name: str, shape: tuple[int, int], self_to_self: bool, rng: np.random.Generator,
                      base_dir: Path) -> Synapses:
    """The synapses of a projection section with ``connectivity`` (module docstring); ``self_to_self``: its
    source and target are the same nodes.  Errors name the projection and the field."""
    c = s.section("connectivity")
    rule = c.string("rule", choices=RULES)
    skip = not c.boolean("self_connections", True)
    if skip and not self_to_self:
        raise c.fail(f"projection '{name}': self_connections: false applies to a projection from nodes to the "
                     "same nodes", "self_connections")
    if rule == "from_list":
        arrays = _npz_arrays(c, {"targets": True, "sources": True, "weights": False, "delays": False}, base_dir, name,
                             shape)
        c.finish()
        return _listed(s, c, name, shape, arrays, rng, skip)
    targets, sources = _rule_pairs(c, rule, shape, rng, skip, name)
    c.finish()
    n = targets.size
    values = synapse_values(s.section("init"), n, n / shape[0], n / shape[1], rng)
    return Synapses(shape, targets.astype(INDEX_DTYPE, copy=False), sources.astype(INDEX_DTYPE, copy=False), values)


def _listed(s: Section, c: Section, name: str, shape: tuple[int, int], arrays: dict[str, np.ndarray],
            rng: np.random.Generator, skip: bool) -> Synapses:
    """A ``from_list`` synapse list, validated: weights from the file or from ``init`` (exactly one)."""
    if ("weights" in arrays) == s.has("init"):
        raise s.fail(f"projection '{name}': give the weights either as connectivity.weights (a key of the list "
                     "file) or as init, exactly one")
    n = int(np.asarray(arrays["targets"]).size)
    weights = arrays["weights"] if "weights" in arrays else synapse_values(s.section("init"), n, n / shape[0], n / shape[1], rng)
    problem = synapse_problem(shape, arrays["targets"], arrays["sources"], weights, arrays.get("delays"))
    if problem is None and skip and np.any(np.asarray(arrays["targets"]) == np.asarray(arrays["sources"])):
        problem = "the list holds a self-connection (i → i) but self_connections is false"
    if problem is not None:
        raise c.fail(f"projection '{name}': {problem}")
    try:
        return Synapses.build(shape, arrays["targets"], arrays["sources"], weights, arrays.get("delays"))
    except ValueError as exc:
        raise c.fail(f"projection '{name}': {exc}") from None
