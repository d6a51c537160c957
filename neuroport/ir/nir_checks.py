"""Validation of NIR graphs before import, as strict as the YAML loader: dt, time constants, thresholds, shapes,
finiteness and the fan-in/fan-out of every node, each error naming the node (``nodes.<name>.<field>``).

neuroport imports one shape of graph (see :mod:`neuroport.ir.nir_io`):

    Input → Linear/Affine (w_in) → LIF ⇄ Linear (w_rec, optional) ; LIF → Linear/Affine (w_out) → LI → Output

:func:`foreign_layout` finds these nodes and refuses any other wiring; :func:`check_foreign` then checks every
parameter.  The ranges are the loader's (:mod:`neuroport.ir.ranges`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neuroport.errors import ModelError
from neuroport.ir.ranges import DT_RANGE_MS, MAX_MODEL_UNITS, MAX_TIME_CONSTANT_MS


@dataclass(frozen=True)
class Layout:
    """Node names of an importable graph."""

    input: str
    w_in: str
    rec: str
    w_rec: str | None
    w_out: str
    readout: str


def _fail(message: str, file: str, path: str) -> ModelError:
    return ModelError(message, file=file, path=path)


def _one(succ: dict[str, list[str]], name: str, what: str, file: str) -> str:
    nxt = succ.get(name, [])
    if len(nxt) != 1:
        listed = ", ".join(nxt) or "nothing"
        raise _fail(f"node '{name}' feeds {len(nxt)} nodes ({listed}); neuroport imports {what}", file, f"nodes.{name}")
    return nxt[0]


def foreign_layout(g: Any, file: str) -> Layout:
    """The nodes of Input → w_in → LIF (⇄ w_rec) → w_out → LI; a clear error naming the node otherwise."""
    for a, b in g.edges:
        for end in (a, b):
            if end not in g.nodes:
                raise _fail(f"edge ({a} → {b}) names an unknown node '{end}'", file, "edges")
    succ: dict[str, list[str]] = {}
    for a, b in g.edges:
        succ.setdefault(a, []).append(b)
    kinds = {name: type(node).__name__ for name, node in g.nodes.items()}
    inputs = [n for n, k in kinds.items() if k == "Input"]
    if len(inputs) != 1:
        raise _fail(f"expected one Input node, found {len(inputs)}", file, "nodes")
    inp = inputs[0]
    w_in = _one(succ, inp, "one input connection (Input → Linear)", file)
    rec = _one(succ, w_in, "one recurrent layer after the input connection", file)
    outs = succ.get(rec, [])
    rec_edges = [n for n in outs if rec in succ.get(n, [])]
    out_edges = [n for n in outs if n not in rec_edges]
    if len(rec_edges) > 1 or len(out_edges) != 1:
        raise _fail(f"node '{rec}' feeds {', '.join(outs) or 'nothing'}; neuroport imports one recurrent connection "
                    "(back to the layer) and one output connection", file, f"nodes.{rec}")
    w_out = out_edges[0]
    readout = _one(succ, w_out, "one readout after the output connection", file)
    layout = Layout(inp, w_in, rec, rec_edges[0] if rec_edges else None, w_out, readout)
    _check_fan_in(g, layout, file)
    return layout


def _check_fan_in(g: Any, layout: Layout, file: str) -> None:
    """Each node of the layout is fed only by its predecessor in the layout (the LIF also by w_rec)."""
    pred: dict[str, set[str]] = {}
    for a, b in g.edges:
        pred.setdefault(b, set()).add(a)
    expected = {layout.w_in: {layout.input}, layout.rec: {layout.w_in} | ({layout.w_rec} if layout.w_rec else set()),
                layout.w_out: {layout.rec}, layout.readout: {layout.w_out}}
    if layout.w_rec:
        expected[layout.w_rec] = {layout.rec}
    for node, allowed in expected.items():
        extra = sorted(pred.get(node, set()) - allowed)
        if extra:
            raise _fail(f"node '{node}' is also fed by {', '.join(extra)}; neuroport imports only "
                        f"{' and '.join(sorted(allowed))} → {node}", file, f"nodes.{node}")


def _array(node: Any, name: str, field: str, file: str) -> np.ndarray:
    value = getattr(node, field, None)
    if value is None:
        raise _fail("missing", file, f"nodes.{name}.{field}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _fail(f"expected numbers, got {type(value).__name__}", file, f"nodes.{name}.{field}") from None
    if not np.all(np.isfinite(arr)):
        raise _fail("holds a non-finite value (NaN or inf)", file, f"nodes.{name}.{field}")
    return arr


def _vector(node: Any, name: str, field: str, n: int | None, file: str, *, low: float | None = None,
            above: float | None = None, high: float | None = None, why: str = "") -> np.ndarray:
    """A per-neuron parameter: a scalar or n values, finite, within the range."""
    arr = _array(node, name, field, file).reshape(-1)
    if n is not None and arr.size not in (1, n):
        raise _fail(f"has {arr.size} values, expected {n} (one per neuron) or 1", file, f"nodes.{name}.{field}")
    bad = ((arr <= above) if above is not None else np.zeros(arr.shape, bool)) | \
          ((arr < low) if low is not None else False) | ((arr > high) if high is not None else False)
    if np.any(bad):
        rng = " and ".join(t for t in (f"> {above:g}" if above is not None else "", f"≥ {low:g}" if low is not None else "",
                                       f"≤ {high:g}" if high is not None else "") if t)
        raise _fail(f"expected values {rng}, got {float(arr[np.argmax(bad)]):g}" + (f" ({why})" if why else ""),
                    file, f"nodes.{name}.{field}")
    return arr


def check_matrix(node: Any, name: str, shape: tuple[int | None, int | None], file: str) -> np.ndarray:
    w = _array(node, name, "weight", file)
    if w.ndim != 2 or any(want is not None and have != want for have, want in zip(w.shape, shape, strict=True)):
        want = " × ".join("any" if d is None else str(d) for d in shape)
        raise _fail(f"weight has shape {w.shape}, expected {want} (targets × sources)", file, f"nodes.{name}.weight")
    if np.any(np.abs(w) > MAX_MODEL_UNITS):
        raise _fail(f"weight magnitude above {MAX_MODEL_UNITS:g}", file, f"nodes.{name}.weight")
    return w


def check_dt(dt_s: Any, file: str) -> float:
    """The graph's dt (seconds) as a number within the loader's dt range."""
    if isinstance(dt_s, bool) or not isinstance(dt_s, (int, float, np.number)) or not np.isfinite(dt_s):
        raise _fail(f"expected a finite number of seconds, got {dt_s!r}"[:120], file, "metadata.dt")
    low, high = DT_RANGE_MS
    if not low <= float(dt_s) * 1e3 <= high:
        raise _fail(f"expected {low * 1e-3:g} s ≤ dt ≤ {high * 1e-3:g} s, got {float(dt_s):g} s", file, "metadata.dt")
    return float(dt_s)


def check_foreign(g: Any, layout: Layout, file: str) -> None:
    """Check every parameter and shape of the layout's nodes (the module docstring)."""
    tau_why = "a time constant in seconds"
    n_in_decl = np.asarray(getattr(g.nodes[layout.input], "input_type", {}).get("input", [0])).reshape(-1)
    w_in = check_matrix(g.nodes[layout.w_in], layout.w_in, (None, None), file)
    n, n_in = w_in.shape
    if n_in_decl.size == 1 and int(n_in_decl[0]) not in (0, n_in):
        raise _fail(f"declares {int(n_in_decl[0])} inputs, the next node's weight takes {n_in}", file, f"nodes.{layout.input}")
    rec = g.nodes[layout.rec]
    if type(rec).__name__ == "LIF":
        _vector(rec, layout.rec, "tau", n, file, above=0.0, high=MAX_TIME_CONSTANT_MS * 1e-3, why=tau_why)
        _vector(rec, layout.rec, "r", n, file)
        _vector(rec, layout.rec, "v_threshold", n, file, above=0.0, high=MAX_MODEL_UNITS, why="a spike threshold")
        _no_leak_potential(rec, layout.rec, n, file)
    if layout.w_rec is not None:
        check_matrix(g.nodes[layout.w_rec], layout.w_rec, (n, n), file)
    w_out = check_matrix(g.nodes[layout.w_out], layout.w_out, (None, n), file)
    ro = g.nodes[layout.readout]
    if type(ro).__name__ == "LI":
        _vector(ro, layout.readout, "tau", w_out.shape[0], file, above=0.0, high=MAX_TIME_CONSTANT_MS * 1e-3, why=tau_why)
        _vector(ro, layout.readout, "r", w_out.shape[0], file)
        _no_leak_potential(ro, layout.readout, w_out.shape[0], file)


def _no_leak_potential(node: Any, name: str, n: int, file: str) -> None:
    """neuroport's neurons leak towards 0 (τ dv/dt = −v + R I): a non-zero v_leak cannot be expressed."""
    if getattr(node, "v_leak", None) is None:
        return
    v_leak = _vector(node, name, "v_leak", n, file)
    if np.any(v_leak != 0):
        raise _fail(f"v_leak {float(v_leak[np.argmax(v_leak != 0)]):g}: neuroport's neurons leak towards 0; shift "
                    "the thresholds by −v_leak and export with v_leak = 0", file, f"nodes.{name}.v_leak")
