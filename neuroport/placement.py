"""Cores onto chips: the core-level spike-traffic graph, partitioned by METIS, and the traffic that crosses chips.

After :mod:`neuroport.mapping` has packed neurons into cores, every recurrent neuron *s* sends one message per
spike to each core that holds one of its targets (the ``messages`` of the Loihi cost model).  The core graph
counts those messages per spike of every neuron:

    W[a, b] = |{ s on core a : s has a synapse onto a neuron of core b }|        (messages per spike, unitless)
    fan-out of core a = sum_b W[a, b]    (output axons: one per (neuron, destination core) pair)

Chips are then found by METIS (Karypis & Kumar, "A fast and high quality multilevel scheme for partitioning
irregular graphs", SIAM J. Sci. Comput. 20(1), 1998; through the ``pymetis`` binding) on the symmetric graph
``W + Wᵀ`` without self-loops, into ``k = ceil(cores / cores_per_chip)`` parts with a 0.1 % imbalance
tolerance, minimising the cut: the messages that cross chips.  METIS balances parts only up to that tolerance,
so a repair step moves cores out of any chip over ``cores_per_chip`` into the chip with room they exchange the
most messages with.  METIS is seeded, so a mapping is the same on every run.  METIS minimises core-to-core
messages, while a multicast spike crosses to a chip once however many of its cores it reaches; where the
in-order placement (core i on chip i // cores_per_chip) sends fewer inter-chip messages — random networks, in
which every neuron reaches every chip either way — it is kept instead, and ``method`` says so.

Traffic that crosses chips (per spike of every source neuron, i.e. independent of activity):

    remote chips of s   = |{ chip(b) : s reaches core b } \\ { chip(core(s)) }|
    inter-chip messages = sum_s remote chips of s        (one multicast message per spike per remote chip)
    inter-chip synapses = synapses whose source and target cores sit on different chips

Activity-weighted traffic is ``spikes_per_neuron @ remote_chips``; the reporters use it.  The same figures for
the in-order placement (core i on chip i // cores_per_chip) are kept for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit

#: METIS's seed and imbalance tolerance (ufactor 1 = 0.1 %): fixed, so that a mapping is reproducible
METIS_SEED, METIS_UFACTOR = 0, 1


@njit(cache=True)
def _distinct_pairs(ptr, src, core_of_target, seen, slot, pair_src, pair_core, pair_syn, n):  # pragma: no cover
    """Append to ``pair_*`` from index ``n`` the distinct (source neuron, destination core) pairs of a synapse list
    by target whose targets' cores are contiguous and ascending, and the synapses behind each; return the new
    end.  ``seen`` (-1 at first) holds the last core that received each source, ``slot`` the pair it made there.
    Time O(synapses), no sort."""
    for j in range(ptr.size - 1):
        core = core_of_target[j]
        for k in range(ptr[j], ptr[j + 1]):
            s = src[k]
            if seen[s] != core:
                seen[s], slot[s] = core, n
                pair_src[n], pair_core[n], pair_syn[n] = s, core, 0
                n += 1
            pair_syn[slot[s]] += 1
    return n


@njit(cache=True)
def _remote_chips(pair_src, own_chip, dest_chip, n_sources, n_chips):  # pragma: no cover
    """Per source: distinct chips other than its own among its pairs' destination cores (a bitmap of sources ×
    chips), and the synapse-weighted count is left to the caller."""
    hit = np.zeros((n_sources, n_chips), np.bool_)
    remote = np.zeros(n_sources, np.int64)
    for i in range(pair_src.size):
        s, chip = pair_src[i], dest_chip[i]
        if chip != own_chip[i] and not hit[s, chip]:
            hit[s, chip] = True
            remote[s] += 1
    return remote


@dataclass(frozen=True, eq=False)
class Pairs:
    """Distinct (recurrent source neuron, destination core) pairs over every layer, with their synapse counts."""

    source: np.ndarray
    core: np.ndarray
    synapses: np.ndarray

    @staticmethod
    def collect(layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_sources: int) -> Pairs:
        """``layers``: (indptr by target, recurrent source ids, global core of each target) per synapse list."""
        total = sum(src.size for _, src, _ in layers)
        pair_src, pair_core, pair_syn = (np.empty(total, np.int64) for _ in range(3))
        seen, slot, n = np.full(n_sources, -1, np.int64), np.zeros(n_sources, np.int64), 0
        for ptr, src, cores in layers:  # layers have disjoint cores, so ``seen`` carries over
            n = _distinct_pairs(ptr, src, cores, seen, slot, pair_src, pair_core, pair_syn, n)
        return Pairs(pair_src[:n], pair_core[:n], pair_syn[:n])

    def fan_out(self, core_of_neuron: np.ndarray, n_cores: int) -> np.ndarray:
        """Output axons of each core: the pairs whose source it holds."""
        return np.bincount(core_of_neuron[self.source], minlength=n_cores)

    def core_graph(self, core_of_neuron: np.ndarray, n_cores: int) -> sp.csr_matrix:
        """W[a, b]: messages per spike from core a to core b (module docstring)."""
        ones = np.ones(self.source.size, np.int64)
        return sp.coo_matrix((ones, (core_of_neuron[self.source], self.core)), shape=(n_cores, n_cores)).tocsr()


@dataclass(frozen=True, eq=False)
class Traffic:
    """Where cores sit and what crosses chips (module docstring); ``*_in_order`` is the in-order placement's."""

    method: str  # "METIS", "one chip" or "in order (…)"
    chip_of_core: np.ndarray
    remote_chips: np.ndarray  # per recurrent neuron: chips other than its own that hold one of its targets
    inter_chip_messages: int  # per spike of every neuron
    inter_chip_synapses: int
    messages: int  # all (neuron, core) messages per spike of every neuron, on chip or not
    inter_chip_messages_in_order: int
    inter_chip_synapses_in_order: int

    def to_dict(self) -> dict:
        return {"method": self.method, "inter_chip_messages_per_spike_each": self.inter_chip_messages,
                "inter_chip_synapses": self.inter_chip_synapses, "messages_per_spike_each": self.messages,
                "in_order": {"inter_chip_messages_per_spike_each": self.inter_chip_messages_in_order,
                             "inter_chip_synapses": self.inter_chip_synapses_in_order}}


def _metis(graph: sp.csr_matrix, parts: int) -> np.ndarray:
    """METIS k-way partition of a symmetric weighted graph (no self-loops) into ``parts``."""
    import pymetis  # a dependency of neuroport; imported here so that single-chip mappings never load it

    adjacency = pymetis.CSRAdjacency(graph.indptr.astype(np.int64), graph.indices.astype(np.int64))
    options = pymetis.Options(seed=METIS_SEED, ufactor=METIS_UFACTOR)
    result = pymetis.part_graph(parts, adjacency, eweights=graph.data.astype(np.int64), options=options)
    return np.asarray(result.vertex_part, dtype=np.int64)


def _repair(chip: np.ndarray, graph: sp.csr_matrix, parts: int, per_chip: int) -> np.ndarray:
    """Move cores out of chips above ``per_chip`` (METIS balances only within its tolerance): each time the core of
    an over-full chip that exchanges the most messages with a chip that has room goes there."""
    chip = chip.copy()
    load = np.bincount(chip, minlength=parts)
    while load.max() > per_chip:
        full = int(np.argmax(load))
        room = load < per_chip
        best, best_gain, best_to = -1, -np.inf, -1
        for core in np.flatnonzero(chip == full):
            row = slice(graph.indptr[core], graph.indptr[core + 1])
            links = np.bincount(chip[graph.indices[row]], weights=graph.data[row], minlength=parts)
            to = int(np.flatnonzero(room)[np.argmax(links[room])])
            if links[to] - links[full] > best_gain:
                best, best_gain, best_to = int(core), links[to] - links[full], to
        chip[best] = best_to
        load[full] -= 1
        load[best_to] += 1
    return chip


def _crossing(pairs: Pairs, core_of_neuron: np.ndarray, chip_of_core: np.ndarray, n_chips: int) -> tuple[np.ndarray, int, int]:
    """(remote chips per neuron, inter-chip messages, inter-chip synapses) of one placement."""
    own = chip_of_core[core_of_neuron[pairs.source]]
    dest = chip_of_core[pairs.core]
    remote_chips = _remote_chips(pairs.source, own, dest, core_of_neuron.size, n_chips)
    return remote_chips, int(remote_chips.sum()), int(pairs.synapses[own != dest].sum())


def place_chips(pairs: Pairs, core_of_neuron: np.ndarray, n_cores: int, per_chip: int) -> Traffic:
    """Cores onto ``ceil(n_cores / per_chip)`` chips by METIS on the core traffic graph (module docstring)."""
    parts = -(-n_cores // per_chip)
    in_order = np.arange(n_cores, dtype=np.int64) // per_chip
    if parts <= 1:
        chip, method = in_order, "one chip"
    else:
        w = pairs.core_graph(core_of_neuron, n_cores)
        sym = (w + w.T).tocsr()
        sym.setdiag(0)
        sym.eliminate_zeros()
        chip = _repair(_metis(sym, parts), sym, parts, per_chip) if sym.nnz else in_order
        method = "METIS"
    remote, messages, synapses = _crossing(pairs, core_of_neuron, chip, max(parts, 1))
    remote_in_order, messages_in_order, synapses_in_order = _crossing(pairs, core_of_neuron, in_order, max(parts, 1))
    if messages_in_order < messages:  # METIS's cut counts core-to-core messages; keep in order where it wins
        chip, remote, messages, synapses = in_order, remote_in_order, messages_in_order, synapses_in_order
        method = "in order (METIS's placement sent more inter-chip messages)"
    return Traffic(method, chip, remote, messages, synapses, int(pairs.source.size), messages_in_order, synapses_in_order)


def utilisation(used: np.ndarray, limit: int) -> dict[str, float]:
    """min / mean / max of ``used / limit`` over cores (fractions of the per-core limit)."""
    frac = np.asarray(used, dtype=np.float64) / limit
    if not frac.size:
        return {"min": 0.0, "mean": 0.0, "max": 0.0}
    return {"min": float(frac.min()), "mean": float(frac.mean()), "max": float(frac.max())}
