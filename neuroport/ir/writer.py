"""Write a FloatGraph as ``model.yaml`` + ``<name>.weights.npz``, which :func:`load_model` reads back equal.

Per-neuron parameters are written as a number when uniform, else as a list; weights, sparsity masks and the
feedback matrix go into the .npz (exact float64), referenced from the YAML by key.  A sparse projection is written
as its synapse list (``connectivity: {rule: from_list}``: int32 targets and sources, float64 weights), never
densified.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from neuroport.ir.float_graph import LIF, SCHEMA_VERSION, FloatGraph, Projection
from neuroport.ir.reward_spec import reward_yaml
from neuroport.outputs import make_folder, open_output, write_text


def _values(array: np.ndarray) -> float | list[float]:
    array = np.asarray(array, dtype=np.float64)
    return float(array[0]) if np.all(array == array[0]) else [float(v) for v in array]


def _population(p: LIF) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "model": p.kind, "size": p.size}
    out.update({k: _values(v) for k, v in p.array_fields().items()})
    if getattr(p, "integration", "euler") != "euler":  # Izhikevich with sPyNNaker's RK2 + exponential synapses
        out["integration"] = p.integration
    out["surrogate"] = {"function": p.surrogate.function, "gamma": p.surrogate.gamma, "beta": p.surrogate.beta}
    if not getattr(p, "regular_spike_arrival", True):  # NEST's input factor ζ = 1 − α
        out["regular_spike_arrival"] = False
    return out


def _sparse_spec(p: Projection, npz_name: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """A sparse projection as ``connectivity: {rule: from_list, ...}``: its index and weight arrays, never a matrix."""
    syn = p.synapses
    spec: dict[str, Any] = {"rule": "from_list", "file": npz_name}
    for field, array in (("targets", syn.targets), ("sources", syn.sources), ("weights", syn.weights), ("delays", syn.delays)):
        if array is not None:
            arrays[f"{p.name}__{field}"] = array
            spec[field] = f"{p.name}__{field}"
    return spec


def _projection(p: Projection, npz_name: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    one = lambda names: names[0] if len(names) == 1 else list(names)  # noqa: E731
    out: dict[str, Any] = {"name": p.name, "source": one(p.source), "target": one(p.target)}
    if p.is_sparse:
        out["connectivity"] = _sparse_spec(p, npz_name, arrays)
    else:
        arrays[p.name] = p.weights
        spec: dict[str, Any] = {"file": npz_name, "key": p.name}
        if p.mask is not None:
            arrays[f"{p.name}__mask"] = p.mask.astype(np.uint8)
            spec["mask_key"] = f"{p.name}__mask"
        out["weights"] = spec
    return out | {"plastic": p.plastic, "delay_steps": p.delay_steps}


def _learning(graph: FloatGraph, npz_name: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    r = graph.learning
    out: dict[str, Any] = {
        "variant": r.variant, "feedback": r.feedback, "weight_decay": r.weight_decay,
        "optimizer": {"name": r.optimizer.name, "learning_rate": r.optimizer.learning_rate, "beta1": r.optimizer.beta1,
                      "beta2": r.optimizer.beta2, "epsilon": r.optimizer.epsilon}
                     | ({"decay": {"factor": r.optimizer.decay_factor, "every_iterations": r.optimizer.decay_every}}
                        if r.optimizer.decays else {}),
        "batch_size": r.batch_size, "regularization": {"c_reg": r.c_reg, "f_target_hz": r.f_target_hz},
        "weight_min": r.weight_min, "weight_max": r.weight_max, "average_gradient": r.average_gradient,
    }
    if r.learning_window_steps is not None:
        out["learning_window_ms"] = r.learning_window_steps * graph.dt_ms
    if r.feedback_weights is not None:
        arrays["__feedback__"] = r.feedback_weights
        out["feedback_init"] = {"file": npz_name, "key": "__feedback__"}
    if r.rewiring is not None:
        w = r.rewiring
        out["rewiring"] = {"projections": list(w.projections), "l1": w.l1, "temperature": w.temperature,
                           "self_connections": w.self_connections, "seed": w.seed}
    if r.reward is not None:
        out["reward"] = reward_yaml(r.reward)
    if r.plus is not None:
        cutoff = r.plus.isi_trace_cutoff_steps
        out["eprop_plus"] = {"kappa": r.plus.kappa, "kappa_reg": r.plus.kappa_reg,
                             "isi_trace_cutoff_ms": None if cutoff is None else cutoff * graph.dt_ms,
                             "optimize_each_step": r.plus.optimize_each_step,
                             "target_alignment": r.plus.target_alignment}
    return out


def write_model(graph: FloatGraph, path: str | Path) -> Path:
    """Write ``graph`` to ``path`` (a .yaml) and its arrays next to it; returns the YAML path."""
    path = Path(path)
    make_folder(path.parent)
    npz_name = f"{path.stem}.weights.npz"
    arrays: dict[str, np.ndarray] = {}
    doc: dict[str, Any] = {
        "neuroport": SCHEMA_VERSION, "name": graph.name, "description": graph.description,
        "dt_ms": graph.dt_ms, "seed": graph.seed,
        "input": {"name": graph.input.name, "size": graph.input.size, "encoding": graph.input.encoding},
        "populations": [_population(p) for p in graph.populations],
        "readout": {"name": graph.readout.name, "size": graph.readout.size,
                    "tau_out_ms": _values(graph.readout.tau_out_ms), "loss": graph.readout.loss}
                   | ({} if graph.readout.regular_spike_arrival else {"regular_spike_arrival": False}),
        "projections": [_projection(p, npz_name, arrays) for p in graph.projections],
    }
    if graph.learning is not None:
        doc["learning"] = _learning(graph, npz_name, arrays)
    if graph.task is not None:
        doc["task"] = {"name": graph.task.name, "params": dict(graph.task.params)}
    with open_output(path.parent / npz_name) as handle:
        np.savez_compressed(handle, **arrays)
    write_text(path, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return path
