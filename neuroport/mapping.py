"""Place a FixedGraph's neurons on cores and chips under a hardware config's limits.

Neurons are packed, in order, into cores: a core takes neurons until the next one would exceed
``neurons_per_core``, the core's ``synaptic_memory_bytes_per_core`` (the weights of its incoming synapses) or
``fan_in_per_core``: every core of the recurrent layer receives axons from all input and recurrent neurons that
reach it, so the fan-in of a core is the number of distinct sources of its neurons.  The readout units get cores
of their own (they integrate a different input).  Packing reads synapse lists (either form of the IR), so time
and memory are linear in synapses.

Where the config has ``fan_out_per_core`` (Loihi's output axons), a core's fan-out is the number of distinct
(neuron, destination core) pairs of its neurons; a core above it is split in two and the layer packed again,
until every core fits (a single neuron above it is refused).  Cores then go onto chips of ``cores_per_chip`` by
METIS on the core traffic graph (:mod:`neuroport.placement`), at most ``max_chips`` chips where the config
gives that (the largest system of the family).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace

import numpy as np
from numba import njit

from neuroport.errors import ModelError, NeuroportError
from neuroport.hw import HwConfig
from neuroport.ir.fixed_graph import FixedGraph
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.synapses import Synapses
from neuroport.placement import Pairs, Traffic, place_chips, utilisation


@dataclass(frozen=True, eq=False)
class MaskView:
    mask: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.mask.shape)


@dataclass(frozen=True, eq=False)
class Structure:
    """What mapping reads of a network: a FixedGraph or a SpiNNakerGraph (same attribute names)."""

    n_rec: int
    n_out: int
    w_in: MaskView
    w_rec: MaskView
    w_out: MaskView


@dataclass(frozen=True)
class Core:
    index: int
    role: str  # "recurrent" or "readout"
    start: int  # first neuron (recurrent index, or readout unit)
    stop: int
    fan_in: int  # distinct source axons
    synapses: int
    synapse_bytes: int
    fan_out: int = 0  # distinct (neuron, destination core) pairs: output axons
    chip: int = 0

    @property
    def neurons(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True, eq=False)
class Mapping:
    cores: tuple[Core, ...]
    chips: int
    traffic: Traffic | None = None
    limits: dict[str, int] | None = None  # per-core limit of each Core field it bounds

    def utilisation(self) -> dict[str, dict[str, float]]:
        """min / mean / max fraction of each per-core limit, over the cores."""
        return {field: utilisation(np.array([getattr(c, field) for c in self.cores]), limit)
                for field, limit in (self.limits or {}).items()}

    def to_dict(self, per_core: bool = True) -> dict:
        out = {"cores": len(self.cores), "chips": self.chips, "limits": self.limits, "utilisation": self.utilisation(),
               "traffic": None if self.traffic is None else self.traffic.to_dict()}
        return {**out, "per_core": [c.__dict__ for c in self.cores]} if per_core else out

    def summary_lines(self) -> list[str]:
        """What ``compile`` prints: cores, chips, per-core use of each limit, inter-chip traffic."""
        use = self.utilisation()
        lines = [f"{len(self.cores)} cores on {self.chips} chip(s)"
                 + (f", placement: {self.traffic.method}" if self.traffic is not None and self.chips > 1 else "")]
        if use:
            lines.append("per-core use of each limit, min/mean/max %: " + ", ".join(
                f"{name} {100 * u['min']:.0f}/{100 * u['mean']:.0f}/{100 * u['max']:.0f}" for name, u in use.items()))
        t = self.traffic
        if t is not None and self.chips > 1:
            lines.append(f"inter-chip: {t.inter_chip_messages:,} messages (of {t.messages:,} to cores) when every neuron "
                         f"spikes once, {t.inter_chip_synapses:,} synapses across chips; in-order placement: "
                         f"{t.inter_chip_messages_in_order:,} messages, {t.inter_chip_synapses_in_order:,} synapses")
        return lines


def _by_target(dense: object, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """(indptr by target, source ids + ``offset``) of a Dense in either form (a synapse list is sorted by target)."""
    syn = dense.synapse_list() if hasattr(dense, "synapse_list") else Synapses.from_dense(np.zeros(dense.mask.shape), dense.mask)
    indptr = np.zeros(syn.shape[0] + 1, dtype=np.int64)
    np.cumsum(syn.fan_in(), out=indptr[1:])
    return indptr, syn.sources.astype(np.int64) + offset


@njit(cache=True)
def _pack_cores(ptr_a, src_a, ptr_b, src_b, n_sources, per_core, syn_limit, fan_limit, breaks):  # pragma: no cover
    """Greedy packing in neuron order: a core takes the next neuron unless that would exceed ``per_core`` neurons,
    ``syn_limit`` synapses or ``fan_limit`` distinct sources, or ``breaks`` marks it as the first of a core (a
    neuron alone always gets a core; map_graph refuses it if it breaks a limit).  Two synapse lists by target (a, b) share the source ids [0, n_sources).
    Returns (start of each core, its distinct sources, its synapses)."""
    seen = np.full(n_sources, -1, np.int64)  # the last core that received each source
    starts, fans, loads = [0], [0], [0]
    core, count = 0, 0
    for j in range(ptr_a.size - 1):
        syn = ptr_a[j + 1] - ptr_a[j] + ptr_b[j + 1] - ptr_b[j]
        new = 0
        for k in range(ptr_a[j], ptr_a[j + 1]):
            new += seen[src_a[k]] != core
        for k in range(ptr_b[j], ptr_b[j + 1]):
            new += seen[src_b[k]] != core
        if count > 0 and (breaks[j] or count + 1 > per_core or loads[core] + syn > syn_limit or fans[core] + new > fan_limit):
            core, count = core + 1, 0
            starts.append(j)
            fans.append(0)
            loads.append(0)
            new = syn  # a fresh core has seen none of them (a list holds each pair once; a and b differ in ids)
        for k in range(ptr_a[j], ptr_a[j + 1]):
            seen[src_a[k]] = core
        for k in range(ptr_b[j], ptr_b[j + 1]):
            seen[src_b[k]] = core
        fans[core] += new
        loads[core] += syn
        count += 1
    return np.array(starts, np.int64), np.array(fans, np.int64), np.array(loads, np.int64)


def _layers(graph: FixedGraph | Structure) -> list[tuple[str, int, list[tuple[np.ndarray, np.ndarray]], int]]:
    """(role, neurons, synapse lists by target with disjoint source ids, number of source ids) per layer."""
    n_rec = graph.n_rec
    recurrent = [_by_target(graph.w_rec, 0), _by_target(graph.w_in, n_rec)]
    n_in = graph.w_in.shape[1]
    empty = (np.zeros(graph.n_out + 1, np.int64), np.zeros(0, np.int64))
    return [("recurrent", n_rec, recurrent, n_rec + n_in), ("readout", graph.n_out, [_by_target(graph.w_out, 0), empty], n_rec)]


def refuse_oversized_fan_in(graph: FloatGraph, hw: HwConfig) -> None:
    """A target neuron whose synapses (over the projections into the same target nodes) come from more distinct
    sources than a core has input axons cannot be placed: raise a ModelError naming the projection."""
    limit = hw.resource("fan_in_per_core")
    totals: dict[tuple[str, ...], np.ndarray] = {}
    for proj in graph.projections:  # synapse lists hold each pair once: synapses per target = distinct sources
        fan_in = proj.synapse_list().fan_in() if proj.is_sparse else proj.dense_mask().sum(axis=1)
        totals[proj.target] = totals.get(proj.target, 0) + fan_in
    for i, proj in enumerate(graph.projections):
        total = totals[proj.target]
        if total.max(initial=0) > limit:
            j = int(np.argmax(total))
            raise ModelError(f"projection '{proj.name}' leads to {', '.join(proj.target)} neuron {j} receiving "
                             f"{int(total[j])} distinct inputs, more than the {limit} input axons a core of {hw.name} "
                             "accepts (resources.fan_in_per_core); lower the fan-in", path=f"projections[{i}]")


def _named(graph: FixedGraph | Structure, role: str, start: int, stop: int) -> str:
    """' (population 'x')' for recurrent neurons, ' (the readout, fed by w_out)' for readout units."""
    if role == "readout":
        return " (the readout, fed by the projection(s) into it)"
    pops = getattr(getattr(graph, "neurons", None), "populations", ())
    names = [name for name, _, first, last in pops if first < stop and start < last]
    return f" (population {', '.join(repr(n) for n in names)})" if names else ""


def _pack(graph: FixedGraph | Structure, hw: HwConfig, layers: list, breaks: dict[str, np.ndarray]) -> tuple[list[Core], list[tuple]]:
    """Cores of every layer under the neurons, fan-in and synaptic-memory limits, and per layer (indptr by target,
    recurrent source ids, global core of each target) for the traffic pairs; a core over a limit is refused."""
    per_core, fan_limit = hw.resource("neurons_per_core"), hw.resource("fan_in_per_core")
    mem_limit, weight_bytes = hw.resource("synaptic_memory_bytes_per_core"), hw.fmt("weight").bits / 8
    cores, traffic_lists = [], []
    for role, _, ((ptr_a, src_a), (ptr_b, src_b)), n_sources in layers:
        starts, fans, loads = _pack_cores(ptr_a, src_a, ptr_b, src_b, n_sources, per_core, mem_limit / weight_bytes,
                                          fan_limit, breaks[role])
        stops = np.append(starts[1:], ptr_a.size - 1)
        core_of_target = np.repeat(np.arange(len(cores), len(cores) + starts.size, dtype=np.int64), stops - starts)
        traffic_lists.append((ptr_a, src_a, core_of_target))  # list a: sources are recurrent neurons
        for start, stop, fan, synapses in zip(starts.tolist(), stops.tolist(), fans.tolist(), loads.tolist(), strict=True):
            core = Core(len(cores), role, start, stop, fan, synapses, int(np.ceil(synapses * weight_bytes)))
            if core.fan_in > fan_limit:
                raise NeuroportError(
                    f"{role} neurons {start}–{stop - 1}{_named(graph, role, start, stop)} receive {core.fan_in} distinct inputs, more than the "
                    f"{fan_limit} axons a core of {hw.name} accepts (resources.fan_in_per_core); use sparser connectivity")
            if core.synapse_bytes > mem_limit:
                raise NeuroportError(
                    f"{role} neurons {start}–{stop - 1}{_named(graph, role, start, stop)} need {core.synapse_bytes} bytes of synaptic memory, more "
                    f"than the {mem_limit} a core of {hw.name} has (resources.synaptic_memory_bytes_per_core)")
            cores.append(core)
    return cores, traffic_lists


def _over_fan_out(graph, hw: HwConfig, cores: list[Core], fan_out: np.ndarray, per_neuron: np.ndarray,
                  breaks: dict[str, np.ndarray]) -> bool:
    """Split every core above ``fan_out_per_core`` into runs of neurons whose destination cores (``per_neuron``)
    add up to at most the limit, by marking breaks (True if any core was over); refuse a lone neuron above it."""
    limit = hw.resources["fan_out_per_core"].value if "fan_out_per_core" in hw.resources else None
    over = [c for c in cores if limit is not None and fan_out[c.index] > limit]
    for c in over:
        if c.stop - c.start == 1:
            raise NeuroportError(
                f"{c.role} neuron {c.start}{_named(graph, c.role, c.start, c.stop)} has targets on {int(fan_out[c.index])} cores, more "
                f"than the {int(limit)} output axons a core of {hw.name} has (resources.fan_out_per_core); lower the fan-out")
        run = 0
        for j in range(c.start, c.stop):
            run += int(per_neuron[j])
            if run > limit and j > c.start:
                breaks[c.role][j], run = True, int(per_neuron[j])
        if not breaks[c.role][c.start + 1:c.stop].any():  # the sum fits now, a neighbour's split moved targets
            breaks[c.role][(c.start + c.stop) // 2] = True
    return bool(over)


def _core_of_neuron(cores: list[Core], n_rec: int) -> np.ndarray:
    out = np.zeros(n_rec, np.int64)
    for c in cores:
        if c.role == "recurrent":
            out[c.start:c.stop] = c.index
    return out


def _limits(hw: HwConfig) -> dict[str, int]:
    names = {"neurons": "neurons_per_core", "fan_in": "fan_in_per_core", "fan_out": "fan_out_per_core",
             "synapse_bytes": "synaptic_memory_bytes_per_core"}
    return {field: hw.resource(key) for field, key in names.items() if key in hw.resources}


def map_graph(graph: FixedGraph | Structure, hw: HwConfig) -> Mapping:
    """Split neurons into cores under every per-core limit, cores into chips by METIS; raise a NeuroportError
    naming the limit broken (module docstring)."""
    cached = _cached(graph).get(id(hw))
    if cached is not None and cached[0] is hw:  # a pure function of two frozen objects: compile asks up to 3 times
        return cached[1]
    layers = _layers(graph)
    breaks = {role: np.zeros(n + 1, np.bool_) for role, n, _, _ in layers}
    while True:
        cores, lists = _pack(graph, hw, layers, breaks)
        core_of_neuron = _core_of_neuron(cores, graph.n_rec)
        pairs = Pairs.collect(lists, graph.n_rec)
        fan_out = pairs.fan_out(core_of_neuron, len(cores))
        per_neuron = np.bincount(pairs.source, minlength=graph.n_rec)
        if not _over_fan_out(graph, hw, cores, fan_out, per_neuron, breaks):
            break
    per_chip = hw.resource("cores_per_chip")
    chips = -(-len(cores) // per_chip)
    if "max_chips" in hw.resources and chips > hw.resource("max_chips"):
        raise NeuroportError(f"the model needs {len(cores)} cores, {chips} chips of {per_chip} cores, more than the "
                             f"{hw.resource('max_chips')} chips of the largest {hw.name} system (resources.max_chips)")
    traffic = place_chips(pairs, core_of_neuron, len(cores), per_chip)
    cores = [replace(c, fan_out=int(fan_out[c.index]), chip=int(traffic.chip_of_core[c.index])) for c in cores]
    mapping = Mapping(cores=tuple(cores), chips=chips, traffic=traffic, limits=_limits(hw))
    _cached(graph)[id(hw)] = (hw, mapping)
    return mapping


def _cached(graph: object) -> dict:
    """The mappings of ``graph`` by hw config; a fresh dict (nothing kept) for a graph a weak key cannot hold."""
    try:
        return _CACHE.setdefault(graph, {})
    except TypeError:  # unhashable or without weak references
        return {}


#: the last mappings per graph (weakly held: they go with the graph), keyed by the hw config's identity
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
