"""Before a model is built: its task parameters and its memory estimate, from the parsed YAML alone.

:func:`preflight` reads the sizes (input, populations, readout), the projection shapes, the task's steps per sequence
and the training batch with the same readers and messages as the loader, validates ``task.params`` by name, type and
range (:func:`neuroport.tasks.params.validate_task`), and refuses (:func:`neuroport.resources.require`) what would not
fit in memory — before a parameter array is filled or a weight drawn.  :func:`graph_sizes` gives the same
:class:`~neuroport.resources.Sizes` for a built FloatGraph (``check`` prints its estimate; commands re-check with
their sample counts).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from neuroport.ir.yamlpath import Section
from neuroport.resources import Sizes, estimate, require

MAX_BATCH = 1_000_000  # sequences per batch; e-prop's papers and NEST's examples use 1–512
BATCH_WHY = "e-prop is trained with batches of 1–512 sequences; more is a typo"
TYPICAL_DT_MS = 0.1  # below this, the step count is dominated by dt rather than by the task's durations


def preflight(top: Section, dt_ms: float) -> Sizes:
    """Validate sizes, task parameters and the batch; refuse a model whose estimate exceeds the memory limit."""
    n_in = Section(top.raw("input"), file=top.file, path="input").integer("size", minimum=1)
    populations = tuple((f"{s.path}.size", s.integer("size", minimum=1)) for s in top.sections("populations"))
    n_out = Section(top.raw("readout"), file=top.file, path="readout").integer("size", minimum=1)
    sizes = Sizes(n_in=n_in, populations=populations, n_out=n_out)
    names = _node_sizes(top, sizes)
    projections = tuple(_shape(s, names) for s in top.sections("projections")) if top.has("projections") else ()
    n_steps, steps_field = _task_steps(top, sizes, dt_ms)
    batch = _batch(top)
    sizes = Sizes(n_in, populations, n_out, tuple(p for p in projections if p is not None), n_steps, steps_field, batch)
    require(estimate(sizes), file=top.file)
    return sizes


def _node_sizes(top: Section, sizes: Sizes) -> dict[str, int]:
    """Node name → size, for the names that are strings (the loader reports the others)."""
    named: dict[str, int] = {}
    for key, size in (("input", sizes.n_in), ("readout", sizes.n_out)):
        name = top.data[key].get("name")
        if isinstance(name, str):
            named[name] = size
    for i, (_, size) in enumerate(sizes.populations):
        name = top.data["populations"][i].get("name")
        if isinstance(name, str):
            named[name] = size
    return named


def _shape(s: Section, sizes: dict[str, int]) -> tuple[str, int, int, bool, int | None] | None:
    """(path, rows, cols, masked, listed synapses or None) of a projection; None when it names unknown nodes (the
    loader reports them)."""
    source, target = s.names("source"), s.names("target")
    if any(n not in sizes for n in (*source, *target)):
        return None
    rows, cols = sum(sizes[n] for n in target), sum(sizes[n] for n in source)
    weights = s.data.get("weights")
    masked = (s.data.get("connection_probability", 1) != 1 or bool(s.data.get("zero_diagonal"))
              or (isinstance(weights, dict) and "mask_key" in weights))
    listed = _listed_synapses(s, rows, cols) if isinstance(s.data.get("connectivity"), dict) else None
    return s.path, rows, cols, masked, listed


def _listed_synapses(s: Section, rows: int, cols: int) -> int:
    """Synapses a connectivity rule will generate (neuroport.ir.connectivity), from its parameters alone; values the
    loader will refuse count as 0 here, and a list file as its size in bytes / 8 (≥ 4 + 4 bytes of indices each)."""
    c = s.data["connectivity"]
    def count(key: str) -> float:
        value = c.get(key)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return max(float(value), 0.0) if ok else 0.0
    estimates = {"fixed_fan_in": lambda: rows * count("fan_in"), "fixed_fan_out": lambda: cols * count("fan_out"),
                 "fixed_probability": lambda: rows * cols * min(count("probability"), 1.0),
                 "one_to_one": lambda: min(rows, cols), "from_list": lambda: _file_bytes(s, c.get("file")) / 8}
    return int(min(estimates.get(c.get("rule"), lambda: 0)(), rows * cols))


def _file_bytes(s: Section, file: Any) -> int:
    if not isinstance(file, str):
        return 0
    path = Path(file) if Path(file).is_absolute() else Path(s.file).parent / file
    try:
        return path.stat().st_size
    except (OSError, ValueError):
        return 0


def _task_steps(top: Section, sizes: Sizes, dt_ms: float) -> tuple[int, str]:
    """Steps of one task sequence (0 without a task) and the field that sets them."""
    from neuroport.tasks import TASKS
    from neuroport.tasks.params import validate_task

    if not top.has("task"):
        return 0, "task"
    task = Section(top.raw("task"), file=top.file, path="task")
    name = task.string("name", choices=tuple(sorted(TASKS)))
    params = task.data.get("params", {})
    n_steps = validate_task(name, params, n_in=sizes.n_in, n_out=sizes.n_out, dt_ms=dt_ms, file=top.file)
    return n_steps, _steps_field(params, dt_ms)


def _steps_field(params: Any, dt_ms: float) -> str:
    if dt_ms < TYPICAL_DT_MS:
        return "dt_ms"
    durations = {k: v for k, v in params.items() if str(k).endswith("_ms") and isinstance(v, (int, float))}
    return f"task.params.{max(durations, key=durations.get)}" if durations else "task.params"


def _batch(top: Section) -> int:
    """The training batch (learning.batch_size, 32 by default), 1 without learning."""
    if not top.has("learning"):
        return 1
    learning = Section(top.raw("learning"), file=top.file, path="learning")
    return learning.integer("batch_size", 32, minimum=1, maximum=MAX_BATCH, why=BATCH_WHY)


def graph_sizes(graph: Any, batch: int | None = None, batch_field: str = "learning.batch_size") -> Sizes:
    """The Sizes of a built FloatGraph; ``batch`` defaults to the training batch (1 without learning)."""
    from neuroport.tasks.params import validate_task

    n_steps = 0
    if graph.task is not None:
        n_steps = validate_task(graph.task.name, graph.task.params, n_in=graph.input.size, n_out=graph.readout.size,
                                dt_ms=graph.dt_ms)
    if batch is None:
        batch = graph.learning.batch_size if graph.learning is not None else 1
    return Sizes(
        n_in=graph.input.size, n_out=graph.readout.size,
        populations=tuple((f"populations[{i}].size", p.size) for i, p in enumerate(graph.populations)),
        projections=tuple((f"projections[{i}]", *p.shape, p.mask is not None, p.n_synapses if p.is_sparse else None)
                          for i, p in enumerate(graph.projections)),
        n_steps=n_steps, steps_field=_steps_field(graph.task.params if graph.task else {}, graph.dt_ms),
        batch=batch, batch_field=batch_field,
    )
