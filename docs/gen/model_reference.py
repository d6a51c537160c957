"""The model-file reference, read off the loader itself.

Every field is found by running :func:`neuroport.ir.loader.load_model` on the example models (and on a few small
variants that reach the branches the examples do not use) while the reader methods of
:class:`neuroport.ir.yamlpath.Section` record what they are asked for: the YAML path, the type they accept, the
default, the allowed values and bounds.  The meaning of a field comes from the float IR's dataclass that holds it
(its docstring and the comment on the field); units come from the name's suffix.  Task parameters are the keyword
arguments of each task generator in :data:`neuroport.tasks.TASKS`.

    .venv/bin/python docs/gen/model_reference.py      # prints the page
"""

from __future__ import annotations

import copy
import importlib
import inspect
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from meanings import MEANINGS  # docs/gen/meanings.py, beside this file

from neuroport.ir import float_graph as fg
from neuroport.ir import learning_rule as lr
from neuroport.ir import loader
from neuroport.ir.yamlpath import _MISSING, Section
from neuroport.tasks import TASKS

ROOT = Path(__file__).resolve().parents[2]
UNITS = {"_us": "µs", "_ms": "ms", "_hz": "Hz", "_mv": "mV", "_steps": "steps", "_iterations": "iterations"}
# YAML section (indices removed) → the float-IR dataclass that holds its fields
SECTIONS: dict[str, Any] = {
    "": fg.FloatGraph, "input": fg.InputLayer, "populations[] (lif)": fg.LIF, "populations[] (alif)": fg.ALIF,
    "populations[] (izhikevich)": fg.Izhikevich, "populations[].surrogate": fg.Surrogate, "readout": fg.Readout,
    "projections[]": fg.Projection, "learning": lr.EpropRule, "learning.optimizer": lr.Optimizer,
    "learning.reward": lr.RewardSpec, "learning.rewiring": lr.Rewiring, "learning.eprop_plus": lr.EpropPlus,
    "task": fg.TaskSpec,
}
# fields read by helpers outside the loader module, with the module whose docstring defines them
HELPERS = {"projections[].init": "neuroport.ir.initializers", "projections[].weights": "neuroport.ir.initializers",
           "learning.feedback_init": "neuroport.ir.initializers", "learning.optimizer.decay": "neuroport.ir.loader"}


@dataclass
class Field:
    path: str
    kind: str
    default: Any = _MISSING
    rules: list[str] = field(default_factory=list)
    section: str = ""


class Recorder:
    """Collects what the Section readers are asked for, keyed by YAML path with list indices removed."""

    def __init__(self) -> None:
        self.fields: dict[str, Field] = {}
        self.kinds: dict[str, str] = {}  # populations[i] → its neuron model, to split the populations table
        self.optional: set[str] = set()  # paths the loader asks `has` about before reading: optional sections

    def path_of(self, s: Section, key: str | int) -> str:
        """The YAML path without indices; a population's own fields are filed under its neuron model."""
        raw_path = s.child_path(key)
        own = re.fullmatch(r"populations\[(\d+)\]", s.path)
        if own and isinstance(s.data.get("model"), str):
            self.kinds[own.group(1)] = s.data["model"]
        path = re.sub(r"\[\d+\]", "[]", raw_path)
        if own and own.group(1) in self.kinds:
            path = path.replace("populations[]", f"populations[] ({self.kinds[own.group(1)]})", 1)
        return path

    def note(self, s: Section, key: str | int, kind: str, default: Any = _MISSING, rules: list[str] | None = None) -> None:
        path = self.path_of(s, key)
        old = self.fields.get(path)
        if old is not None and old.kind == "any" and kind == "number" and default is _MISSING:
            default = old.default  # check_number of a value read with raw(key, default)
        if old is not None and (kind == "any" or old.kind != "any"):
            old.rules = sorted(set(old.rules) | set(rules or []))
            return
        self.fields[path] = Field(path, kind, default, list(rules or []))


def _bounds(positive: bool = False, non_negative: bool = False, minimum: int | None = None) -> list[str]:
    return [r for r, on in (("> 0", positive), ("≥ 0", non_negative), (f"≥ {minimum}", minimum is not None)) if on]


@contextmanager
def recording() -> Iterator[Recorder]:
    """Wrap Section's readers (and the loader's per-neuron reader) so that every call is noted."""
    rec = Recorder()
    originals = {name: getattr(Section, name) for name in ("raw", "string", "integer", "number", "boolean", "names",
                                                           "section", "sections")}
    has, check_number, per_neuron = Section.has, Section.check_number, loader.per_neuron

    def has_reader(self: Section, key: str) -> bool:
        rec.optional.add(rec.path_of(self, key))
        return has(self, key)

    def check_number_reader(self: Section, value: Any, key: str | int, *, positive: bool = False,
                            non_negative: bool = False) -> float:
        if isinstance(key, str):
            rec.note(self, key, "number", _MISSING, _bounds(positive, non_negative))
        return check_number(self, value, key, positive=positive, non_negative=non_negative)

    def wrap(name: str, describe: Callable[..., tuple[str, list[str]]]) -> Callable[..., Any]:
        def reader(self: Section, key: str, default: Any = _MISSING, *args: Any, **kwargs: Any) -> Any:
            kind, rules = describe(*args, **kwargs)
            rec.note(self, key, kind, default, rules)
            if default is _MISSING:
                return originals[name](self, key, *args, **kwargs)
            return originals[name](self, key, default, *args, **kwargs)
        return reader

    def per_neuron_reader(s: Section, key: str, size: int, rng: np.random.Generator, default: Any = None, *,
                          positive: bool = False, non_negative: bool = False) -> np.ndarray:
        rec.note(s, key, "per-neuron number", _MISSING if default is None else default, _bounds(positive, non_negative))
        return per_neuron(s, key, size, rng, default, positive=positive, non_negative=non_negative)

    describers: dict[str, Callable[..., tuple[str, list[str]]]] = {
        "raw": lambda: ("any", []),
        "string": lambda choices=None: ("string", [" \\| ".join(f"`{c}`" for c in choices)] if choices else []),
        "integer": lambda minimum=None, maximum=None, why="": ("integer", _bounds(minimum=minimum) + ([f"≤ {maximum:,}"] if maximum is not None else [])),
        "number": lambda positive=False, non_negative=False: ("number", _bounds(positive, non_negative)),
        "boolean": lambda: ("boolean", []),
        "names": lambda: ("node name or list of names", []),
        "section": lambda: ("mapping", []),
        "sections": lambda: ("list of mappings", []),
    }
    try:
        for name, describe in describers.items():
            setattr(Section, name, wrap(name, describe))
        Section.has, Section.check_number, loader.per_neuron = has_reader, check_number_reader, per_neuron_reader
        yield rec
    finally:
        for name, method in originals.items():
            setattr(Section, name, method)
        Section.has, Section.check_number, loader.per_neuron = has, check_number, per_neuron


def variants(base: dict[str, Any], folder: Path) -> Iterator[dict[str, Any]]:
    """Small changes of one example that reach the loader's other branches (weights from files, each init
    distribution, decay, e-prop+ settings, critic weights)."""
    n_in, n_rec = base["input"]["size"], sum(p["size"] for p in base["populations"])
    n_out = base["readout"]["size"]
    np.savez(folder / "w.npz", w=np.zeros((n_rec, n_in)), m=np.ones((n_rec, n_in)), b=np.zeros((n_rec, n_out)))
    for init in ({"distribution": "uniform", "low": -0.1, "high": 0.1}, {"distribution": "constant", "value": 0.0}):
        model = copy.deepcopy(base)
        model["projections"][0].pop("init")
        model["projections"][0]["init"] = init
        yield model
    model = copy.deepcopy(base)
    model["projections"][0].pop("init")
    model["projections"][0]["weights"] = {"file": "w.npz", "key": "w", "mask_key": "m"}
    model["learning"]["feedback_init"] = {"file": "w.npz", "key": "b"}
    model["learning"]["optimizer"] = {"name": "sgd", "decay": {"factor": 0.5, "every_iterations": 10}}
    model["learning"]["learning_window_ms"] = 10.0
    yield model
    model = copy.deepcopy(base)
    model["learning"].update(variant="eprop_plus", eprop_plus={"kappa": 0.9, "kappa_reg": 0.9, "isi_trace_cutoff_ms": 10,
                                                               "optimize_each_step": True})
    yield model
    model = copy.deepcopy(base)
    model["projections"][1]["connection_probability"] = 0.5
    model["projections"][1]["zero_diagonal"] = True
    yield model


def collect() -> Recorder:
    """Load every example model and the variants of the first one under the recorder."""
    examples = sorted((ROOT / "examples").glob("*.yaml"))
    with recording() as rec, tempfile.TemporaryDirectory() as tmp:
        for file in examples:
            loader.load_model(file)
        folder = Path(tmp)
        base = yaml.safe_load((ROOT / "examples" / "evidence_accumulation.yaml").read_text(encoding="utf-8"))
        for i, model in enumerate(variants(base, folder)):
            path = folder / f"variant{i}.yaml"
            path.write_text(yaml.safe_dump(model), encoding="utf-8")
            loader.load_model(path)
        reward = yaml.safe_load((ROOT / "examples" / "evidence_accumulation_reward.yaml").read_text(encoding="utf-8"))
        reward["learning"]["reward"]["value_init"] = {"distribution": "normal", "gain": 0.1}
        (folder / "reward.yaml").write_text(yaml.safe_dump(reward), encoding="utf-8")
        loader.load_model(folder / "reward.yaml")
    return rec


def field_comments(cls: type) -> dict[str, str]:
    """The comment written after each field of a dataclass and its bases (``name: type = default  # comment``)."""
    out = {}
    lines = [line for base in reversed(cls.__mro__) if is_dataclass(base) for line in inspect.getsource(base).splitlines()]
    for line in lines:
        match = re.match(r"\s+(\w+): [^#]*#\s*(.+)$", line)
        if match:
            out[match.group(1)] = match.group(2).strip()
    return out


def unit(name: str) -> str:
    return next((u for suffix, u in UNITS.items() if name.endswith(suffix)), "")


def show_default(value: Any, optional: bool) -> str:
    if value is _MISSING:
        return "optional" if optional else "**required**"
    if value is None:
        return "none"
    if isinstance(value, dict) and not value:
        return "{} (all defaults)"
    return f"`{value!r}`" if not isinstance(value, str) or not value else f"`{value}`"


def section_of(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


def generic(path: str) -> str:
    """The MEANINGS key of a path: populations of every neuron model share one."""
    return re.sub(r" \(\w+\)", "", path)


def table_rows(fields_: list[Field], comments: dict[str, str], optional: set[str]) -> list[str]:
    rows = ["| field | type | default | allowed | unit | meaning |", "|---|---|---|---|---|---|"]
    for f in fields_:
        name = f.path.rsplit(".", 1)[-1]
        meaning = MEANINGS.get(generic(f.path)) or comments.get(name, "")
        rows.append(f"| `{name}` | {f.kind} | {show_default(f.default, f.path in optional)} | {', '.join(f.rules)} | "
                    f"{unit(name)} | {meaning} |")
    return rows


def doc_of(obj: Any) -> str:
    """A docstring as a Markdown block: its first paragraph as text, the rest (equations) as code."""
    doc = inspect.cleandoc(obj.__doc__ or "")
    head, _, rest = doc.partition("\n\n")
    text = " ".join(head.split())
    return text + (f"\n\n```text\n{rest.strip()}\n```" if rest.strip() else "")


def task_table() -> list[str]:
    """``task.params`` of every task: the keyword arguments of its generator."""
    out = ["## `task.params`, per task", "",
           "The keyword arguments of each task generator (`neuroport.tasks.TASKS`); the loader passes them on as "
           "written.", ""]
    for name in sorted(TASKS):
        module, factory = TASKS[name].split(":")
        cls = getattr(importlib.import_module(module), factory)
        out += [f"### `{name}`", "", f"`{TASKS[name]}` — {doc_of(importlib.import_module(module))}", "",
                "| parameter | type | default | unit |", "|---|---|---|---|"]
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.name in ("self", "n_in", "n_out", "dt_ms") or p.kind is p.VAR_KEYWORD:
                continue
            default = "**required**" if p.default is p.empty else f"`{p.default!r}`"
            kind = str(p.annotation).replace(" | ", " or ")
            out.append(f"| `{p.name}` | {kind} | {default} | {unit(p.name)} |")
        out.append("")
    return out


def render() -> str:
    rec = collect()
    by_section: dict[str, list[Field]] = {}
    stale = sorted(set(MEANINGS) - {generic(p) for p in rec.fields})
    if stale:
        raise SystemExit(f"docs/gen/meanings.py describes fields the loader does not read: {', '.join(stale)}")
    per_neuron = {f.path for f in rec.fields.values() if f.kind == "per-neuron number"}
    for f in rec.fields.values():
        if re.sub(r" \(\w+\)", "", section_of(f.path)) not in {re.sub(r" \(\w+\)", "", p) for p in per_neuron}:
            by_section.setdefault(section_of(f.path), []).append(f)
    out = ["# Model file reference", "",
           "Generated by `docs/gen/model_reference.py` from the loader (`neuroport/ir/loader.py`) and the float IR "
           "(`neuroport/ir/float_graph.py`): every field the loader reads, its type, default, allowed values and "
           "unit. A field not listed here is refused with `unknown field` and the closest known name. "
           "*per-neuron number*: a number, a list with one value per neuron, or `{uniform: [low, high]}` drawn "
           "with the model's `seed`. Examples: `examples/*.yaml`.", ""]
    for section in sorted(by_section, key=lambda s: (s.count("."), s)):
        cls = SECTIONS.get(section)
        title = f"`{section}`" if section else "top level"
        out += [f"## {title}", ""]
        if cls is not None:
            out += [f"`{cls.__module__}.{cls.__qualname__}` — {doc_of(cls)}", ""]
        elif section in HELPERS:
            out += [f"Read by `{HELPERS[section]}` — {doc_of(importlib.import_module(HELPERS[section]))}", ""]
        comments = field_comments(cls) if cls is not None and is_dataclass(cls) else {}
        if cls is not None and is_dataclass(cls):
            comments.update({f.name: comments.get(f.name, "") for f in fields(cls)})
        out += table_rows(sorted(by_section[section], key=lambda f: f.path), comments, rec.optional) + [""]
    return "\n".join(out + task_table())


if __name__ == "__main__":
    print(render())
