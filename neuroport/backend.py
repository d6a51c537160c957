"""The backend plugin protocol and its registry.

A backend is a class registered under the entry-point group ``neuroport.backends`` (pyproject.toml).  The
registry lists entry points without importing them; a backend module is imported only when a command uses it,
and a backend imports its vendor SDK (lava, nest, pyNN) only inside ``run``.

    class Backend(Protocol):
        name: ClassVar[str]                                    # "loihi-sim"
        def capabilities(self, hw) -> Capabilities             # neuron models, learning, exactness, ...
        def check(self, graph, hw) -> list[Diagnostic]         # design rules, without importing the SDK
        def lower(self, graph, hw) -> Artifact                 # plain data in the target's units
        def run(self, artifact, inputs, probes, learn=False)   # imports the SDK; returns a Trace
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar, Protocol

from neuroport.errors import NeuroportError

GROUP = "neuroport.backends"


@dataclass(frozen=True)
class Capabilities:
    """What a target can express; ``unsupported`` maps a feature to the reason it is refused."""

    neuron_models: tuple[str, ...]
    on_chip_learning: bool
    bit_exact: bool  # whether the target must equal the fixed-point emulator exactly
    default_hw: str  # hw_configs/<name>.yaml used when --hw is not given
    requires: tuple[str, ...] = ()  # importable modules the target needs to run
    extra: str = ""  # pip extra that installs them
    unsupported: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Diagnostic:
    """One finding of ``Backend.check``: severity 'error' stops compilation, 'warning' does not."""

    severity: str
    message: str
    where: str = ""

    def format(self) -> str:
        where = f"{self.where}: " if self.where else ""
        return f"{self.severity}: {where}{self.message}"


class Backend(Protocol):
    name: ClassVar[str]

    def capabilities(self, hw: Any) -> Capabilities: ...

    def check(self, graph: Any, hw: Any) -> list[Diagnostic]: ...

    def lower(self, graph: Any, hw: Any) -> Any: ...

    def run(self, artifact: Any, inputs: Any, probes: Any, learn: bool = False) -> Any: ...


@dataclass(frozen=True)
class TargetInfo:
    """A registered target as listed by ``neuroport targets`` (nothing imported)."""

    name: str
    entry_point: str
    requires: tuple[str, ...]
    installed: bool
    missing: tuple[str, ...]


# The vendor modules each target needs, known without importing the backend module.
TARGET_REQUIRES: dict[str, tuple[str, ...]] = {
    "emulator": (),
    "loihi-sim": ("lava",),
    "loihi2": (),
    "spinnaker": ("pyNN", "spynnaker"),
}


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def _module_available(name: str) -> bool:
    """True if ``name`` can be imported, found without importing it."""
    return importlib.util.find_spec(name) is not None


def list_targets() -> list[TargetInfo]:
    """Every registered target with whether its vendor libraries are installed; imports no backend or SDK."""
    infos = []
    for name, ep in sorted(_entry_points().items()):
        requires = TARGET_REQUIRES.get(name, ())
        missing = tuple(m for m in requires if not _module_available(m))
        infos.append(TargetInfo(name=name, entry_point=ep.value, requires=requires, installed=not missing, missing=missing))
    return infos


def load_backend(name: str) -> Backend:
    """Import and instantiate the backend registered as ``name``."""
    eps = _entry_points()
    if name not in eps:
        from neuroport.ir.yamlpath import did_you_mean

        raise NeuroportError(f"unknown target '{name}'{did_you_mean(name, tuple(eps))}; targets: {', '.join(sorted(eps))}")
    cls = eps[name].load()
    return cls()
