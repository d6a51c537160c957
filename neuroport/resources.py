"""Memory and time a model and its task imply, estimated from sizes alone — before anything is allocated.

The loader calls :func:`require` once it knows the sizes (input, populations, readout, projection shapes, the task's
steps per sequence, the batch) and before it draws a weight or builds a parameter array; :func:`neuroport.pipeline.
task_batch` calls it again with the number of samples a command asks for.  What does not fit in the limit is refused
with one line naming the field that dominates, the estimate and the limit.

Cost model (bytes; B = samples in a batch, T = steps per sequence, float64 = 8 B):

    weights      dense form: 40 B per potential synapse of every projection (the FloatGraph's float64 matrix,
                 the dense Network view, the quantized copy, a gradient and an optimizer moment) + 1 B mask if masked;
                 sparse form (a connectivity rule, docs/design/sparse-ir.md): 72 B per synapse (the float list,
                 16 B; its assembled copy, 16 B; the int16 fixed-point list and its by-source order for the
                 event-driven emulator, 20 B; a gradient and an optimizer moment, 16 B; slack, 4 B)
    neurons      24 per-neuron float64 parameters and states (τ, thresholds, decays, refractory counters, ...)
    task inputs  B · T · n_in · 25 B (rates, uniform draws and probabilities in float64, spikes in uint8)
                 + B · T · n_out · 16 B (targets, readout)
    states       B · T · n_rec · 73 B: the float engine records v, z, a, ψ, its drive and a filtered trace
                 (6 × 8 B); the fixed-point emulator spikes (1 B) and, when probed, three int64 states (24 B)

Time is given as an order of magnitude: multiply-adds of one sequence = T · (synapses + 10 · n_rec).

The limit is the memory the machine has available (``MemAvailable`` of /proc/meminfo, else psutil), unless raised
or lowered by ``neuroport --memory-limit GB`` or the environment variable ``NEUROPORT_MEMORY_LIMIT_GB``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from neuroport.errors import NeuroportError

BYTES_PER_SYNAPSE = 40  # 5 float64 copies per potential synapse (module docstring)
BYTES_PER_MASK = 1
BYTES_PER_LISTED_SYNAPSE = 72  # sparse form, per synapse that exists (module docstring)
PARAMS_PER_NEURON = 24
INPUT_BYTES_PER_STEP = 25  # per input channel and sample
OUTPUT_BYTES_PER_STEP = 16  # per readout unit and sample
STATE_BYTES_PER_STEP = 73  # per recurrent neuron and sample
ENV_LIMIT = "NEUROPORT_MEMORY_LIMIT_GB"
GB = 1e9

_limit_override_gb: float | None = None  # set by the CLI's --memory-limit


class ResourceError(NeuroportError):
    """A model or run needs more memory than the limit allows."""


@dataclass(frozen=True)
class Sizes:
    """What the estimate needs: node sizes, projections as (YAML path, rows, cols, masked, listed synapses — None
    for the dense form, else the number of synapses of the sparse form), steps and batch, each with the YAML path of
    the field that sets it."""

    n_in: int
    populations: tuple[tuple[str, int], ...]  # (path of the size field, size)
    n_out: int
    projections: tuple[tuple[str, int, int, bool, int | None], ...] = ()
    n_steps: int = 0  # 0: no task
    steps_field: str = "task"
    batch: int = 1
    batch_field: str = "learning.batch_size"

    @property
    def n_rec(self) -> int:
        return sum(n for _, n in self.populations)


@dataclass(frozen=True)
class Item:
    field: str  # the YAML path (or option) that sets this cost
    what: str
    bytes: int


@dataclass(frozen=True)
class Estimate:
    items: tuple[Item, ...]
    multiply_adds: int  # per sequence
    n_steps: int
    batch: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(i.bytes for i in self.items)

    def largest(self) -> Item:
        return max(self.items, key=lambda i: i.bytes)

    def to_dict(self) -> dict[str, Any]:
        return {"total_bytes": self.total_bytes, "limit_bytes": limit_bytes(), "n_steps": self.n_steps,
                "batch": self.batch, "multiply_adds_per_sequence": self.multiply_adds,
                "items": [{"field": i.field, "what": i.what, "bytes": i.bytes} for i in self.items]}


def fmt_bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def estimate(sizes: Sizes) -> Estimate:
    """The memory items and multiply-adds of ``sizes`` (module docstring); pure integer arithmetic."""
    items = [_weights_item(*p) for p in sizes.projections]
    if sizes.populations:
        path, _ = max(sizes.populations, key=lambda p: p[1])
        items.append(Item(path, f"{sizes.n_rec} neurons × {PARAMS_PER_NEURON} parameters", sizes.n_rec * PARAMS_PER_NEURON * 8))
    b, t = sizes.batch, sizes.n_steps
    if t:
        io = b * t * (sizes.n_in * INPUT_BYTES_PER_STEP + sizes.n_out * OUTPUT_BYTES_PER_STEP)
        items.append(Item(_dominant(sizes, io_factor=True), f"task data: {b} samples × {t} steps × {sizes.n_in} inputs", io))
        items.append(Item(_dominant(sizes), f"recorded states: {b} samples × {t} steps × {sizes.n_rec} neurons",
                          b * t * sizes.n_rec * STATE_BYTES_PER_STEP))
    synapses = sum(r * c if listed is None else listed for _, r, c, _, listed in sizes.projections)
    return Estimate(tuple(items), multiply_adds=max(t, 1) * (synapses + 10 * sizes.n_rec), n_steps=t, batch=b)


def _weights_item(path: str, rows: int, cols: int, masked: bool, listed: int | None) -> Item:
    """The weights of one projection: a dense matrix (``listed`` None) or a synapse list of ``listed`` synapses."""
    if listed is not None:
        return Item(path, f"{listed:,} listed synapses ({rows}×{cols})", listed * BYTES_PER_LISTED_SYNAPSE)
    return Item(path, f"{rows}×{cols} {'masked' if masked else 'dense'} weights",
                rows * cols * (BYTES_PER_SYNAPSE + (BYTES_PER_MASK if masked else 0)))


def _dominant(sizes: Sizes, io_factor: bool = False) -> str:
    """The field of the factor furthest above its typical value (32 samples, 1000 steps, 1000 neurons)."""
    factors = [(sizes.batch / 32, sizes.batch_field), (sizes.n_steps / 1000, sizes.steps_field)]
    if io_factor:
        factors.append((sizes.n_in / 1000, "input.size"))
    elif sizes.populations:
        factors.append((sizes.n_rec / 1000, max(sizes.populations, key=lambda p: p[1])[0]))
    return max(factors)[1]


def available_bytes() -> int | None:
    """Memory available to a new allocation: /proc/meminfo's MemAvailable, else psutil's; None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def set_limit_gb(gb: float | None) -> None:
    """Set (or with None, clear) the limit for this process (the CLI's ``--memory-limit``)."""
    global _limit_override_gb
    _limit_override_gb = gb


def limit_bytes() -> int | None:
    """The memory limit in bytes: --memory-limit, else $NEUROPORT_MEMORY_LIMIT_GB, else the available memory."""
    if _limit_override_gb is not None:
        return int(_limit_override_gb * GB)
    env = os.environ.get(ENV_LIMIT)
    if env:
        try:
            value = float(env)
        except ValueError:
            raise ResourceError(f"{ENV_LIMIT}={env!r} is not a number of gigabytes") from None
        if not 0 < value < 1e9:
            raise ResourceError(f"{ENV_LIMIT}={env!r}: expected a positive number of gigabytes below 1e9")
        return int(value * GB)
    return available_bytes()


def limit_source() -> str:
    if _limit_override_gb is not None:
        return "the --memory-limit"
    return f"{ENV_LIMIT}" if os.environ.get(ENV_LIMIT) else "the available memory"


def require(est: Estimate, *, file: str | None = None) -> Estimate:
    """Raise a ResourceError naming the largest item's field when the estimate exceeds the limit."""
    limit = limit_bytes()
    if limit is None or est.total_bytes <= limit:
        return est
    top = est.largest()
    raise ResourceError(
        f"needs about {fmt_bytes(est.total_bytes)} of memory ({top.what}: {fmt_bytes(top.bytes)}) but {limit_source()} "
        f"is {fmt_bytes(limit)}; make it smaller, or raise the limit with `neuroport --memory-limit GB` or {ENV_LIMIT}",
        file=file, path=top.field)
