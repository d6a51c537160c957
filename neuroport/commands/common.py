"""Helpers shared by the CLI commands: JSON output and model loading by file type."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from neuroport import jsonio
from neuroport.errors import ModelError
from neuroport.ir.float_graph import FloatGraph

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object to stdout instead of text.")


def echo_json(payload: dict[str, Any]) -> None:
    """Print strict JSON (NaN/inf become null) for scripts (:mod:`neuroport.jsonio`)."""
    click.echo(jsonio.dumps(payload, indent=2))


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
