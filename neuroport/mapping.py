"""Place a FixedGraph's neurons on cores and chips under a hardware config's limits.

Neurons are packed, in order, into cores: a core takes neurons until the next one would exceed
``neurons_per_core`` or the core's ``synaptic_memory_bytes_per_core`` (the weights of its incoming synapses); the
readout units get cores of their own (they integrate a different input).  Every core of the recurrent layer receives axons from all input and
recurrent neurons that reach it, so the fan-in of a core is the number of distinct sources of its neurons, which
must not exceed ``fan_in_per_core``.  Cores fill chips of ``cores_per_chip`` in order (neighbouring cores, which
share the most traffic, stay on one chip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroport.errors import NeuroportError
from neuroport.hw import HwConfig
from neuroport.ir.fixed_graph import FixedGraph


@dataclass(frozen=True, eq=False)
class MaskView:
    mask: np.ndarray


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


@dataclass(frozen=True)
class Mapping:
    cores: tuple[Core, ...]
    chips: int

    def to_dict(self) -> dict:
        return {"cores": len(self.cores), "chips": self.chips,
                "per_core": [c.__dict__ for c in self.cores]}


def column_counts(mask) -> np.ndarray:
    """Entries per column of a 0/1 mask (a numpy array or a scipy.sparse matrix, for models too big for dense)."""
    return np.asarray(mask.sum(axis=0)).ravel()


def row_counts(mask) -> np.ndarray:
    return np.asarray(mask.sum(axis=1)).ravel()


def _fan_in(masks: list[np.ndarray], rows: slice) -> int:
    return int(sum(np.count_nonzero(column_counts(m[rows])) for m in masks))


def _pack(synapses_per_neuron: np.ndarray, per_core: int, synapses_per_core: float) -> list[slice]:
    """Consecutive neuron ranges, each within both limits (a neuron too big alone gets a core, refused later)."""
    chunks, start, load = [], 0, 0
    for j, syn in enumerate(synapses_per_neuron):
        if j > start and (j - start >= per_core or load + syn > synapses_per_core):
            chunks.append(slice(start, j))
            start, load = j, 0
        load += syn
    chunks.append(slice(start, len(synapses_per_neuron)))
    return chunks


def map_graph(graph: FixedGraph | Structure, hw: HwConfig) -> Mapping:
    """Split neurons into cores and cores into chips; raise a NeuroportError naming the limit broken."""
    per_core, fan_limit = hw.resource("neurons_per_core"), hw.resource("fan_in_per_core")
    mem_limit, per_chip = hw.resource("synaptic_memory_bytes_per_core"), hw.resource("cores_per_chip")
    weight_bytes = hw.fmt("weight").bits / 8
    cores = []
    layers = (("recurrent", [graph.w_in.mask, graph.w_rec.mask]), ("readout", [graph.w_out.mask]))
    for role, masks in layers:
        for rows in _pack(sum(row_counts(m) for m in masks), per_core, mem_limit / weight_bytes):
            synapses = int(sum(row_counts(m[rows]).sum() for m in masks))
            core = Core(len(cores), role, rows.start, rows.stop, _fan_in(masks, rows), synapses, int(np.ceil(synapses * weight_bytes)))
            if core.fan_in > fan_limit:
                raise NeuroportError(
                    f"{role} neurons {rows.start}–{rows.stop - 1} receive {core.fan_in} distinct inputs, more than the "
                    f"{fan_limit} axons a core of {hw.name} accepts (resources.fan_in_per_core); use sparser connectivity")
            if core.synapse_bytes > mem_limit:
                raise NeuroportError(
                    f"{role} neurons {rows.start}–{rows.stop - 1} need {core.synapse_bytes} bytes of synaptic memory, more "
                    f"than the {mem_limit} a core of {hw.name} has (resources.synaptic_memory_bytes_per_core)")
            cores.append(core)
    return Mapping(cores=tuple(cores), chips=int(np.ceil(len(cores) / per_chip)))
