"""Seeded task generators; the same task code feeds every engine (numpy, NEST, BPTT, emulator, backends).

A task is built from a :class:`~neuroport.ir.float_graph.TaskSpec` by :func:`make_task` and yields
:class:`Batch` objects.  The table :data:`TASKS` maps each task name to ``"module:factory"``; factories are
imported only when used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from neuroport.errors import ModelError

if TYPE_CHECKING:
    from neuroport.ir.float_graph import FloatGraph

TASKS: dict[str, str] = {
    "evidence_accumulation": "neuroport.tasks.evidence_accumulation:EvidenceAccumulation",
    "pattern_generation": "neuroport.tasks.pattern_generation:PatternGeneration",
    "store_recall": "neuroport.tasks.store_recall:StoreRecall",
    "nmnist": "neuroport.tasks.nmnist:NMNIST",
}


@dataclass(frozen=True, eq=False)
class Batch:
    """One batch of sequences.

    inputs:  (batch, n_steps, n_in) input spikes, 0/1 (uint8)
    targets: (batch, n_steps, n_out) regression targets, or one-hot class targets for cross-entropy
    loss_mask: (batch, n_steps) bool, the steps whose error counts (the recall window for classification)
    labels:  (batch,) int class labels for classification, else None
    """

    inputs: np.ndarray
    targets: np.ndarray
    loss_mask: np.ndarray
    labels: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.inputs.shape[1])


class Task(Protocol):
    """What every task offers."""

    n_in: int
    n_out: int
    n_steps: int
    loss: str  # "mse" or "cross_entropy"

    def batch(self, rng: np.random.Generator, batch_size: int) -> Batch: ...


def make_task(name: str, params: dict[str, Any], *, n_in: int, n_out: int, dt_ms: float) -> Task:
    """Build a task; parameters are checked by name, type and range first (:func:`neuroport.tasks.params.validate_task`),
    so unknown parameters, bad values or sizes that do not fit the model raise a ModelError naming the field."""
    from neuroport.tasks.params import task_class, validate_task

    validate_task(name, params, n_in=n_in, n_out=n_out, dt_ms=dt_ms)
    return task_class(name)(n_in=n_in, n_out=n_out, dt_ms=dt_ms, **params)


def task_of(graph: FloatGraph) -> Task:
    """The model's task (its ``task:`` section), sized to the model's input and readout."""
    if graph.task is None:
        raise ModelError("the model has no `task:` section; training and verification need one", path="task")
    return make_task(graph.task.name, graph.task.params, n_in=graph.input.size, n_out=graph.readout.size, dt_ms=graph.dt_ms)
