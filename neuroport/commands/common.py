"""Helpers shared by the CLI commands: JSON output and model loading by file type."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import numpy as np

from neuroport import jsonio
from neuroport.errors import ModelError
from neuroport.ir.float_graph import FloatGraph

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object to stdout instead of text.")


def echo_json(payload: dict[str, Any]) -> None:
    """Print strict JSON (NaN/inf become null) for scripts (:mod:`neuroport.jsonio`)."""
    click.echo(jsonio.dumps(payload, indent=2))


def allow_lossy_option(func):
    """``--allow-lossy``: go on when quantization loses a tensor (pipeline.quantize), warning in every output."""
    return click.option("--allow-lossy", "allow_lossy", is_flag=True,
                        help="Go on when quantization loses a tensor (relative RMS error above 0.5, all zeros, a zero "
                             "scale); every output then carries a warning naming it.")(func)


def loss_warnings(losses: tuple[str, ...] | list[str]) -> list[str]:
    """The warning lines of the tensors quantization lost (--allow-lossy)."""
    return [f"warning: quantization lost {loss}" for loss in losses]


def data_option(func):
    """``--data PATH``: the dataset folder of a task that reads files (its ``task.params.root``)."""
    return click.option("--data", "data", type=click.Path(file_okay=False), default=None,
                        help="Dataset folder for tasks that read files (sets task.params.root), e.g. an unpacked "
                             "N-MNIST with Train/ and Test/.")(func)


def with_data(graph: FloatGraph, data: str | None) -> FloatGraph:
    """``graph`` with its task reading ``data`` (unchanged when None)."""
    if data is None:
        return graph
    if graph.task is None:
        raise ModelError("--data given, but the model has no task that reads files", path="task")
    return replace(graph, task=replace(graph.task, params={**graph.task.params, "root": str(data)}))


def load_any_model(path: str | Path, data: str | None = None, *, batch: int | None = None,
                   batch_field: str = "learning.batch_size") -> FloatGraph:
    """Load a model from model.yaml (.yaml/.yml) or a NIR file (.nir/.h5); ``data`` sets the task's dataset.
    The task's data files are checked, and the model's memory estimate against the limit (NIR graphs are checked
    here; YAML models already were, before their arrays were built) for ``batch`` sequences (default: the model's
    training batch; ``batch_field`` names the option that sets it)."""
    from neuroport.ir.preflight import graph_sizes
    from neuroport.resources import estimate, require
    from neuroport.tasks.params import check_task_data

    graph = with_data(_load_model_file(path), data)
    if graph.task is not None:
        check_task_data(graph.task.name, graph.task.params, n_out=graph.readout.size, file=str(path))
    require(estimate(graph_sizes(graph, batch=batch, batch_field=batch_field)), file=str(path))
    return graph


def _load_model_file(path: str | Path) -> FloatGraph:
    suffix = Path(path).suffix.lower()
    if suffix in (".yaml", ".yml"):
        from neuroport.ir.loader import load_model

        return load_model(path)
    if suffix in (".nir", ".h5", ".hdf5"):
        from neuroport.ir.nir_io import read_nir

        return read_nir(path)
    raise ModelError("unknown model file type; expected .yaml / .yml (neuroport model) or .nir (NIR graph)", file=str(path))


# ---- option types: a bad value is a usage error naming the option (exit 2), never a traceback ----------------
COUNT = click.IntRange(min=1)  # a number of samples, iterations, chips …: at least one
COUNT_OR_ZERO = click.IntRange(min=0)
SEED = click.IntRange(min=0)  # numpy's SeedSequence takes non-negative integers


class PositiveFloat(click.ParamType):
    """A finite float > 0 (a time step, a time constant): FloatRange lets NaN and inf through."""

    name = "positive float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not np.isfinite(number) or number <= 0:
            self.fail(f"{value!r} is not a finite number > 0", param, ctx)
        return number


class JsonValue(click.ParamType):
    """A JSON document of one top-level type (object or array), checked further by ``check`` (which returns a
    message for a value it refuses, else None)."""

    def __init__(self, kind: type, example: str, check: Any = None) -> None:
        self.kind, self.example, self.check = kind, example, check
        self.name = f"JSON {'object' if kind is dict else 'array'}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, self.kind):
            return value
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            self.fail(f"not valid JSON ({exc}); expected e.g. {self.example}", param, ctx)
        if not isinstance(parsed, self.kind):
            self.fail(f"expected a {self.name}, e.g. {self.example}; got {type(parsed).__name__}", param, ctx)
        problem = self.check(parsed) if self.check is not None else None
        if problem:
            self.fail(f"{problem}; e.g. {self.example}", param, ctx)
        return parsed


class NameList(click.ParamType):
    """Comma-separated names, none empty (e.g. hw configs: loihi1,loihi2)."""

    name = "name,name,..."

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[str]:
        if isinstance(value, list):
            return value
        names = [v.strip() for v in str(value).split(",")]
        if not all(names):
            self.fail(f"{value!r} has an empty name; expected comma-separated names, e.g. loihi1,loihi2", param, ctx)
        return names
