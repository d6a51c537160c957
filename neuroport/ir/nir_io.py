"""NIR (Neuromorphic Intermediate Representation, nir 1.0.8) export and import.

A FloatGraph becomes

    input ─► w_in (Linear) ─► rec (LIF) ─► w_out (Linear) ─► readout (LI) ─► output
                               ▲    │
                               └ w_rec (Linear) ◄┘

Time constants in seconds; ``r = tau`` so that a spike through weight w moves v by w (neuroport's delta
synapses), or ``r = ζ tau`` with NEST's ``regular_spike_arrival: false`` (ζ = 1 − α, 1 − κ: a spike moves v by ζ w,
the Linear nodes keep NEST's weights; a foreign importer folds r/τ into the weights, as :func:`from_foreign` does);
``v_reset`` 0 and, in the LIF's metadata, ``reset: subtract`` (NEST's psc_delta neurons: their ``v_reset`` and
``reset: to_v_reset``).  Everything NIR has no node for (ALIF
adaptation, refractoriness, the population split, sparsity masks, e-prop settings, feedback weights, the task, dt)
travels in metadata under ``neuroport`` and comes back intact.  A graph written by another tool is imported when it
has this shape (Affine with zero bias counts as Linear) and refused, naming the node, when it does not.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from neuroport import jsonio
from neuroport.errors import MissingDependencyError, ModelError, UnsupportedError
from neuroport.ir.checks import check_graph
from neuroport.ir.float_graph import FloatGraph, InputLayer, Projection, Readout
from neuroport.ir.network import assemble, with_weights
from neuroport.ir.nir_checks import check_dt, check_foreign, check_matrix, foreign_layout
from neuroport.ir.ranges import safe_name
from neuroport.ir.writer import write_model
from neuroport.resources import ResourceError

KEY = "neuroport"
MAX_DENSE_ENTRIES = 10**8  # NIR Linear matrices beyond this (0.8 GB of float64) are refused, not attempted
SYNAPSE_FIELDS = ("targets", "sources", "weights", "delays")  # of a sparse projection, carried in metadata


def _nir():
    try:
        import nir
    except ImportError:
        raise MissingDependencyError("nir", "nir") from None
    return nir


def _doc_of(graph: FloatGraph, tmp: Path) -> dict[str, Any]:
    """The model's YAML document (weights left out), to carry what NIR lacks."""
    import yaml

    path = write_model(graph, tmp / "model.yaml")
    return yaml.safe_load(path.read_text())


def to_nir(graph: FloatGraph) -> Any:
    """Build the NIR graph of a FloatGraph (module docstring)."""
    import tempfile

    nir = _nir()
    entries = graph.n_recurrent * (graph.n_recurrent + graph.input.size + graph.readout.size)
    if entries > MAX_DENSE_ENTRIES:
        raise UnsupportedError(f"NIR 1.0 holds connections as dense Linear matrices: this network needs {entries:,} "
                               f"entries (limit {MAX_DENSE_ENTRIES:,}); export a smaller network")
    net = assemble(graph, reset_kinds=True)
    dt_s = graph.dt_ms * 1e-3
    with tempfile.TemporaryDirectory() as tmp:
        doc = _doc_of(graph, Path(tmp))
    masks = {p.name: p.mask.astype(np.uint8) for p in graph.projections if p.mask is not None}
    extras = {f"mask:{k}": v for k, v in masks.items()}
    for p in graph.projections:  # the sparse form: its synapse list (NIR's Linear holds the weights, dense)
        if p.is_sparse:
            extras.update({f"synapses:{p.name}:{k}": getattr(p.synapses, k) for k in SYNAPSE_FIELDS
                           if k != "weights" and getattr(p.synapses, k) is not None})
    if graph.learning is not None and graph.learning.feedback_weights is not None:
        extras["feedback_weights"] = graph.learning.feedback_weights
    tau_m = net.tau_m_ms * 1e-3
    tau_out = net.tau_out_ms * 1e-3
    zeta_rec = np.ones(net.n_rec) if net.input_scale_rec is None else net.input_scale_rec
    zeta_out = np.ones(net.n_out) if net.input_scale_out is None else net.input_scale_out
    nodes = {
        "input": nir.Input(input_type={"input": np.array([net.n_in])}),
        "w_in": nir.Linear(weight=net.w_in),
        "rec": nir.LIF(tau=tau_m, r=zeta_rec * tau_m, v_leak=np.zeros(net.n_rec), v_threshold=net.v_th.copy(),
                       v_reset=reset_voltages(net), metadata={"reset": reset_modes(net)}),
        "w_rec": nir.Linear(weight=net.w_rec),
        "w_out": nir.Linear(weight=net.w_out),
        "readout": nir.LI(tau=tau_out, r=zeta_out * tau_out, v_leak=np.zeros(net.n_out)),
        "output": nir.Output(output_type={"output": np.array([net.n_out])}),
    }
    edges = [("input", "w_in"), ("w_in", "rec"), ("rec", "w_rec"), ("w_rec", "rec"), ("rec", "w_out"),
             ("w_out", "readout"), ("readout", "output")]
    metadata = {"dt": dt_s, KEY: jsonio.dumps(doc), **extras}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def reset_voltages(net) -> np.ndarray:
    """NIR's v_reset: 0 for reset by subtraction, NEST's V_reset for the psc_delta neurons."""
    return np.zeros(net.n_rec) if net.v_reset is None else np.nan_to_num(net.v_reset, nan=0.0)


def reset_modes(net) -> str | list[str]:
    """The LIF's ``reset`` metadata: ``subtract``, or ``to_v_reset`` (NEST's eprop_iaf_psc_delta: v ← v_reset,
    clamped while refractory), one per neuron when they differ."""
    if net.v_reset is None:
        return "subtract"
    modes = ["subtract" if np.isnan(v) else "to_v_reset" for v in net.v_reset]
    return modes[0] if len(set(modes)) == 1 else modes


def write_nir(graph: FloatGraph, path: str | Path) -> Path:
    _nir().write(str(path), to_nir(graph))
    return Path(path)


def _carried(g: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The carried YAML document (weights as zero inits or carried masks) and the arrays it reads."""
    doc = json.loads(_text(g.metadata[KEY]))
    arrays: dict[str, np.ndarray] = {}
    for proj in doc["projections"]:
        if "connectivity" in proj:  # the sparse form: the carried synapse list, weights from the Linear nodes
            _carried_synapses(g, proj, arrays)
            continue
        spec = proj.pop("weights")
        proj["init"] = {"distribution": "constant", "value": 0.0}
        mask = g.metadata.get(f"mask:{spec['key']}")
        if mask is not None:
            arrays[f"{proj['name']}__mask"] = np.asarray(mask)
    if "learning" in doc and "feedback_init" in doc["learning"]:
        arrays["__feedback__"] = np.asarray(g.metadata["feedback_weights"])
    for proj in doc["projections"]:
        if f"{proj['name']}__mask" in arrays:
            proj["weights"] = {"file": "carried.npz", "key": f"{proj['name']}__mask", "mask_key": f"{proj['name']}__mask"}
            proj.pop("init")
    if "__feedback__" in arrays:
        doc["learning"]["feedback_init"] = {"file": "carried.npz", "key": "__feedback__"}
    return doc, arrays


def _from_neuroport_metadata(g: Any, file: str) -> FloatGraph:
    """Rebuild exactly: structure and parameters from the carried YAML, weights from the Linear nodes; the carried
    document goes through the YAML loader (errors name ``metadata.neuroport.<field>``), the weights through
    :mod:`neuroport.ir.nir_checks`."""
    import tempfile

    import yaml

    from neuroport.ir.loader import load_model

    try:
        doc, arrays = _carried(g)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        raise ModelError(f"the carried neuroport metadata is malformed ({exc.__class__.__name__}: {str(exc)[:120]})",
                         file=file, path=f"metadata.{KEY}") from None
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "carried.npz", **arrays) if arrays else None
        path = Path(tmp) / "model.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        try:
            skeleton = load_model(path)
        except (ModelError, ResourceError) as err:  # name the NIR file, not the temporary YAML
            raise type(err)(err.message, file=file, path=f"metadata.{KEY}" + (f".{err.path}" if err.path else "")) from None
    n_in, n_rec, n_out = skeleton.input.size, skeleton.n_recurrent, skeleton.readout.size
    shapes = {"w_in": (n_rec, n_in), "w_rec": (n_rec, n_rec), "w_out": (n_out, n_rec)}
    for name in shapes:
        if name not in g.nodes:
            raise ModelError(f"the graph has no node '{name}', which its neuroport metadata needs", file=file, path="nodes")
    graph = with_weights(skeleton, *(check_matrix(g.nodes[n], n, shape, file) for n, shape in shapes.items()))
    check_graph(graph, file=file)
    return graph


def _carried_synapses(g: Any, proj: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Point a sparse projection's ``connectivity`` at its synapse list carried in the metadata (written by
    :func:`to_nir`); zero initial weights, replaced by the Linear nodes' weights."""
    spec = {"rule": "from_list", "file": "carried.npz"}
    for field in SYNAPSE_FIELDS[:2] + SYNAPSE_FIELDS[3:]:
        value = g.metadata.get(f"synapses:{proj['name']}:{field}")
        if value is not None:
            arrays[f"{proj['name']}__{field}"] = np.asarray(value)
            spec[field] = f"{proj['name']}__{field}"
    proj["connectivity"] = spec
    proj["init"] = {"distribution": "constant", "value": 0.0}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_nir(path: str | Path, dt_ms: float | None = None) -> FloatGraph:
    """Read a NIR file: exactly, when written by neuroport; otherwise as a foreign graph (see :func:`from_foreign`)."""
    nir = _nir()
    file = str(path)
    try:
        g = nir.read(file, type_check=False)  # shapes are checked below, naming the node (nir_checks)
    except FileNotFoundError:
        raise ModelError("file not found", file=file) from None
    except Exception as exc:  # noqa: BLE001 — whatever h5py/nir raise on a corrupt or foreign file is the file's fault
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise ModelError(f"not a readable NIR file ({exc.__class__.__name__}: {first})", file=file) from None
    if KEY in g.metadata:
        return _from_neuroport_metadata(g, file)
    return from_foreign(g, file=file, dt_ms=dt_ms)


def _linear_weight(node: Any, name: str, file: str) -> np.ndarray:
    kind = type(node).__name__
    if kind == "Affine":
        if np.any(np.asarray(node.bias) != 0):
            raise ModelError(f"Affine node '{name}' has a non-zero bias; neuroport's neurons have no bias input "
                             "(fold it into an always-on input, or export without bias)", file=file, path=f"nodes.{name}")
        return np.asarray(node.weight, dtype=np.float64)
    if kind == "Linear":
        return np.asarray(node.weight, dtype=np.float64)
    raise ModelError(f"node '{name}' is a {kind}; a connection must be Linear or Affine", file=file, path=f"nodes.{name}")


def from_foreign(g: Any, *, file: str, dt_ms: float | None) -> FloatGraph:
    """Import Input → Linear/Affine → LIF (+ recurrent Linear) → Linear/Affine → LI → Output written by another tool.

    Weights are scaled by r / τ (NIR: τ dv/dt = (v_leak − v) + R I, so a unit spike moves v by R/τ · w).
    The producer's dt must be known (graph metadata ``dt`` in seconds, or ``dt_ms`` given): it is never assumed.
    """
    dt_s = dt_ms * 1e-3 if dt_ms is not None else g.metadata.get("dt")
    if dt_s is None:
        raise ModelError("the NIR graph states no time step (metadata 'dt'); give it explicitly", file=file, path="metadata.dt")
    dt_s = check_dt(dt_s, file)
    layout = foreign_layout(g, file)
    kinds = {name: type(node).__name__ for name, node in g.nodes.items()}
    rec_name, readout_name, w_in_name, w_out_name = layout.rec, layout.readout, layout.w_in, layout.w_out
    rec_edges = [layout.w_rec] if layout.w_rec is not None else []
    if kinds[rec_name] not in ("LIF", "CubaLIF"):
        raise ModelError(f"node '{rec_name}' is a {kinds[rec_name]}; neuroport imports LIF (or CubaLIF) recurrent layers",
                         file=file, path=f"nodes.{rec_name}")
    rec = g.nodes[rec_name]
    if kinds[rec_name] == "CubaLIF":
        raise ModelError(f"CubaLIF '{rec_name}' has a synaptic current (tau_syn); neuroport's neurons take delta synapses",
                         file=file, path=f"nodes.{rec_name}")
    if kinds[readout_name] != "LI":
        raise ModelError(f"readout node '{readout_name}' is a {kinds[readout_name]}; neuroport's readout is a leaky "
                         "integrator (NIR LI) without spikes", file=file, path=f"nodes.{readout_name}")
    for name in (w_in_name, *rec_edges, w_out_name):
        _linear_weight(g.nodes[name], name, file)  # a Linear or a bias-free Affine, before its shape is checked
    check_foreign(g, layout, file)
    tau = np.asarray(rec.tau, dtype=np.float64).reshape(-1)
    scale = (np.asarray(rec.r, dtype=np.float64).reshape(-1) / tau)[:, None]
    w_in = _linear_weight(g.nodes[w_in_name], w_in_name, file) * scale
    n = w_in.shape[0]
    w_rec = _linear_weight(g.nodes[rec_edges[0]], rec_edges[0], file) * scale if rec_edges else np.zeros((n, n))
    ro = g.nodes[readout_name]
    tau_out = np.asarray(ro.tau, dtype=np.float64).reshape(-1)
    w_out = _linear_weight(g.nodes[w_out_name], w_out_name, file) * (np.asarray(ro.r, dtype=np.float64).reshape(-1) / tau_out)[:, None]
    from neuroport.ir.float_graph import LIF as LIFPop

    pop = LIFPop(name="rec", size=n, tau_m_ms=np.broadcast_to(tau * 1e3, (n,)).copy(),
                 v_th=np.broadcast_to(np.asarray(rec.v_threshold, dtype=np.float64).reshape(-1), (n,)).copy(),
                 t_ref_ms=np.zeros(n))
    projections = (Projection("w_in", ("input",), ("rec",), w_in), Projection("w_rec", ("rec",), ("rec",), w_rec),
                   Projection("w_out", ("rec",), ("readout",), w_out))
    graph = FloatGraph(name=safe_name(Path(file).stem), dt_ms=float(dt_s) * 1e3, seed=0, input=InputLayer("input", w_in.shape[1]),
                       populations=(pop,), readout=Readout("readout", w_out.shape[0], np.broadcast_to(tau_out * 1e3, (w_out.shape[0],)).copy()),
                       projections=projections, description=f"imported from NIR ({file})")
    check_graph(graph, file=file)
    return replace(graph)
