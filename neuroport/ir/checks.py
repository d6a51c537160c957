"""Structural checks of a FloatGraph, run by the loader (and by every importer, e.g. NIR)."""

from __future__ import annotations

import numpy as np

from neuroport.errors import ModelError
from neuroport.ir.float_graph import FloatGraph

ALLOWED = "input → populations, populations → populations, populations → readout"


def _sides(graph: FloatGraph) -> dict[str, str]:
    sides = {graph.input.name: "input", graph.readout.name: "readout"}
    sides.update({p.name: "population" for p in graph.populations})
    return sides


def check_graph(graph: FloatGraph, *, file: str | None = None) -> None:
    """Raise a ModelError (naming the YAML path) on the first structural problem found."""
    names = [graph.input.name, graph.readout.name, *(p.name for p in graph.populations)]
    for name in set(names):
        if names.count(name) > 1:
            raise ModelError(f"node name '{name}' is used {names.count(name)} times; names must be unique", file=file, path="populations")
    proj_names = [p.name for p in graph.projections]
    sides = _sides(graph)
    covered: dict[tuple[str, str], str] = {}  # (target node, source node) → the projection that connects them
    for i, proj in enumerate(graph.projections):
        path = f"projections[{i}]"
        if proj_names.count(proj.name) > 1:
            raise ModelError(f"projection name '{proj.name}' is used more than once", file=file, path=f"{path}.name")
        _check_direction(proj, sides, file, path)
        if not np.all(np.isfinite(proj.synapse_weights())):
            raise ModelError("weights hold a non-finite value", file=file, path=f"{path}.weights")
        for pair in ((t, s) for t in proj.target for s in proj.source):  # projections cover whole nodes
            if pair in covered:
                raise ModelError(f"overlaps an earlier projection ('{covered[pair]}') between the same neurons", file=file, path=path)
            covered[pair] = proj.name
    if not any(sides[t] == "readout" for t, _ in covered):
        raise ModelError("no projection reaches the readout; add one from the populations to it", file=file, path="projections")


def _check_direction(proj, sides: dict[str, str], file: str | None, path: str) -> None:
    for key, nodes in (("source", proj.source), ("target", proj.target)):
        kinds = {sides[n] for n in nodes}
        if len(kinds) > 1:
            raise ModelError(f"mixes node kinds {sorted(kinds)}; list only populations, or a single input/readout", file=file, path=f"{path}.{key}")
    pair = (sides[proj.source[0]], sides[proj.target[0]])
    if pair not in {("input", "population"), ("population", "population"), ("population", "readout")}:
        raise ModelError(f"a projection {pair[0]} → {pair[1]} is not allowed; allowed: {ALLOWED}", file=file, path=path)
