"""Task parameters by name, type and range: every task class declares ``PARAMS`` (name → :class:`Param`), its
defaults are its constructor's, and :func:`validate_task` checks a ``task.params`` mapping against them before
anything is allocated — in ``check`` (through the loader) and again in :func:`neuroport.tasks.make_task`.

A task class also offers ``sequence_steps(params, dt_ms)`` (steps of one sequence, pure arithmetic) and
``size_problem(params, n_in, n_out)`` (a (YAML path, message) pair when the parameters do not fit together or
with the model's input/readout sizes; None when they do), so that
the step count and size rules are known without building the task.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any

from neuroport.errors import ModelError
from neuroport.ir.yamlpath import Section, short_repr

# Ranges shared by the tasks, with the reason shown when a value is refused.
MAX_DURATION_MS = 1e7  # 2.8 h of model time per sequence; e-prop's tasks run 0.3–2.4 s (Bellec et al. 2020)
DURATION_WHY = "a sequence of more than 1e7 ms (2.8 h) is beyond any task a recurrent SNN is trained on"
MAX_RATE_HZ = 1e4  # with dt = 0.1 ms every step spikes at 10 kHz: the Bernoulli rate · dt saturates at 1
RATE_WHY = "a Poisson rate above 10 kHz spikes in every step even at dt = 0.1 ms"
MAX_COUNT = 10_000


@dataclass(frozen=True)
class Param:
    """One task parameter: its kind (int, number, bool, string, numbers = a list of numbers) and range.

    ``low``/``high`` are inclusive bounds, ``above`` an exclusive lower bound; ``length`` fixes a list's length;
    ``nullable`` allows null; ``why`` says why the range is what it is."""

    kind: str
    low: float | None = None
    high: float | None = None
    above: float | None = None
    length: int | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False
    why: str = ""


def duration(*, positive: bool = True, nullable: bool = False) -> Param:
    """A duration in ms: (0 or more) up to MAX_DURATION_MS."""
    bounds = {"above": 0.0} if positive else {"low": 0.0}
    return Param("number", high=MAX_DURATION_MS, nullable=nullable, why=DURATION_WHY, **bounds)


def rate() -> Param:
    return Param("number", low=0.0, high=MAX_RATE_HZ, why=RATE_WHY)


def _range_text(p: Param) -> str:
    lower = f"> {p.above:g}" if p.above is not None else (f"≥ {p.low:g}" if p.low is not None else "")
    upper = f"≤ {p.high:g}" if p.high is not None else ""
    return " and ".join(t for t in (lower, upper) if t)


def _in_range(p: Param, value: float) -> bool:
    return ((p.above is None or value > p.above) and (p.low is None or value >= p.low)
            and (p.high is None or value <= p.high))


def _scalar(s: Section, key: str | int, p: Param, value: Any) -> Any:
    if p.kind == "bool":
        if not isinstance(value, bool):
            raise s.fail(f"expected true or false, got {short_repr(value)}", key)
        return value
    if p.kind == "string":
        if not isinstance(value, str) or not value:
            raise s.fail(f"expected a non-empty string, got {type(value).__name__}", key)
        if p.choices and value not in p.choices:
            raise s.fail(f"unknown value '{value}'; expected one of: {', '.join(p.choices)}", key)
        return value
    if p.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise s.fail(f"expected an integer, got {type(value).__name__} ({short_repr(value)})", key)
    number = s.check_number(value, key)  # a finite int or float, not a bool
    if not _in_range(p, number):
        raise s.fail(f"expected a number {_range_text(p)}, got {value}" + (f" ({p.why})" if p.why else ""), key)
    return value


def check_param(s: Section, key: str, p: Param, value: Any) -> Any:
    """The value of ``key`` checked against ``p`` (a ModelError naming ``task.params.<key>`` otherwise)."""
    if value is None and p.nullable:
        return None
    if p.kind != "numbers":
        return _scalar(s, key, p, value)
    if not isinstance(value, (list, tuple)) or not value:
        raise s.fail(f"expected a non-empty list of numbers, got {short_repr(value)}", key)
    if p.length is not None and len(value) != p.length:
        raise s.fail(f"expected {p.length} numbers, got {len(value)}", key)
    item = Param("number", low=p.low, high=p.high, above=p.above, why=p.why)
    items = Section({}, file=s.file, path=s.child_path(key), error=s.error)
    return [_scalar(items, i, item, v) for i, v in enumerate(value)]


def refuse(problem: tuple[str, str] | None) -> None:
    """Raise the ModelError of a task's ``size_problem`` (None: nothing to refuse)."""
    if problem is not None:
        raise ModelError(problem[1], path=problem[0])


def task_class(name: str) -> Any:
    from neuroport.tasks import TASKS

    if name not in TASKS:
        raise ModelError(f"unknown task '{name}'; known tasks: {', '.join(sorted(TASKS))}", path="task.name")
    module, factory = TASKS[name].split(":")
    return getattr(importlib.import_module(module), factory)


def defaults(cls: Any) -> dict[str, Any]:
    """The constructor's defaults of every parameter in ``cls.PARAMS`` (required parameters are absent)."""
    sig = inspect.signature(cls.__init__).parameters
    return {k: sig[k].default for k in cls.PARAMS if sig[k].default is not inspect.Parameter.empty}


def validate_task(name: str, params: Any, *, n_in: int, n_out: int, dt_ms: float, file: str | None = None) -> int:
    """Check ``task.params`` by name, type and range and against the model's sizes; return the steps of one
    sequence.  Raises a ModelError naming ``task.params.<key>`` (or ``input.size`` / ``readout.size``)."""
    cls = task_class(name)
    if not isinstance(params, dict):
        raise ModelError(f"expected a mapping of task parameters, got {type(params).__name__}", file=file, path="task.params")
    s = Section(params, file=file, path="task.params")  # type: ignore[arg-type]  # no file: the message names none
    for key, spec in cls.PARAMS.items():
        if s.has(key):
            check_param(s, key, spec, s.raw(key))
    s.finish()
    complete = {**defaults(cls), **params}
    missing = [k for k in cls.PARAMS if k not in complete]
    if missing:
        raise s.fail(f"the {name} task needs this parameter", missing[0])
    problem = cls.size_problem(complete, n_in, n_out)
    if problem is not None:
        raise ModelError(problem[1], file=file, path=problem[0])
    return int(cls.sequence_steps(complete, dt_ms))


def check_task_data(name: str, params: dict[str, Any], *, n_out: int, file: str | None = None) -> None:
    """Tasks that read files (a ``data_problem(params, n_out)`` method) check that their files are there."""
    problem = getattr(task_class(name), "data_problem", None)
    message = problem(params, n_out) if problem is not None else None
    if message is not None:
        raise ModelError(message[1], file=file, path=message[0])
