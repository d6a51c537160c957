"""A projection's synapses as a list: target index, source index, weight (and delay) per synapse.

This is the sparse form of the float IR (design: docs/design/sparse-ir.md).  Synapse ``k`` connects source
neuron ``sources[k]`` (0 ≤ sources[k] < n_source, counted over the projection's concatenated source nodes) to
target neuron ``targets[k]`` (0 ≤ targets[k] < n_target) with weight ``weights[k]``; the synapses are kept in
canonical order, by target then source (compressed rows by target: the fan-in of target j is a contiguous run),
and no (target, source) pair occurs twice.  Memory: 4 + 4 + 8 bytes per synapse (+ 2 with per-synapse delays),
never n_target × n_source.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numba import njit

INDEX_DTYPE = np.int32  # neuron indices: up to 2^31 − 1 neurons per side


@dataclass(frozen=True, eq=False)
class Synapses:
    """Synapses of one projection in canonical order (module docstring)."""

    shape: tuple[int, int]  # (n_target, n_source)
    targets: np.ndarray  # int32 (n,)
    sources: np.ndarray  # int32 (n,)
    weights: np.ndarray  # (n,) float64 in the float IR, int16 mantissas in the fixed IR
    delays: np.ndarray | None = None  # int16 steps ≥ 1 per synapse; None: the projection's delay_steps

    @property
    def n_synapses(self) -> int:
        return int(self.targets.size)

    @property
    def nbytes(self) -> int:
        extra = 0 if self.delays is None else self.delays.nbytes
        return int(self.targets.nbytes + self.sources.nbytes + self.weights.nbytes + extra)

    def fan_in(self) -> np.ndarray:
        """Synapses per target neuron, (n_target,) int64."""
        return np.bincount(self.targets, minlength=self.shape[0])

    def fan_out(self) -> np.ndarray:
        """Synapses per source neuron, (n_source,) int64."""
        return np.bincount(self.sources, minlength=self.shape[1])

    def with_weights(self, weights: np.ndarray) -> Synapses:
        """The same synapses with new per-synapse weights (shape (n,))."""
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != self.weights.shape:
            raise ValueError(f"expected {self.weights.shape[0]} weights, got shape {weights.shape}")
        return replace(self, weights=weights)

    def dense(self, values: np.ndarray | None = None) -> np.ndarray:
        """(n_target, n_source) float matrix with ``values`` (default: the weights) at the synapses, 0 elsewhere."""
        values = self.weights if values is None else np.asarray(values)
        out = np.zeros(self.shape, dtype=values.dtype)
        out[self.targets, self.sources] = values
        return out

    def dense_mask(self) -> np.ndarray:
        """(n_target, n_source) bool matrix, True where a synapse exists."""
        out = np.zeros(self.shape, dtype=bool)
        out[self.targets, self.sources] = True
        return out

    def by_source(self) -> tuple[np.ndarray, np.ndarray]:
        """Compressed columns: (indptr (n_source + 1,) int64, order (n,) int64) such that the synapses of source i
        are ``order[indptr[i]:indptr[i+1]]``, in ascending target order (a stable sort of the canonical order)."""
        return grouped_order(self.sources, self.shape[1])

    @staticmethod
    def from_dense(weights: np.ndarray, mask: np.ndarray | None = None) -> Synapses:
        """The synapses of a dense (n_target, n_source) matrix: where ``mask`` is True (None: every entry)."""
        weights = np.asarray(weights, dtype=np.float64)
        exists = np.ones(weights.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        targets, sources = np.nonzero(exists)  # row-major: canonical order
        return Synapses(weights.shape, targets.astype(INDEX_DTYPE), sources.astype(INDEX_DTYPE),
                        weights[targets, sources].copy())

    @staticmethod
    def build(shape: tuple[int, int], targets: np.ndarray, sources: np.ndarray, weights: np.ndarray,
              delays: np.ndarray | None = None) -> Synapses:
        """Validate index/weight arrays in any order (:func:`synapse_problem`; raises ValueError with the problem)
        and sort them into canonical order."""
        problem = synapse_problem(shape, targets, sources, weights, delays)
        if problem:
            raise ValueError(problem)
        targets, sources = np.asarray(targets, dtype=np.int64), np.asarray(sources, dtype=np.int64)
        order = np.argsort(targets * shape[1] + sources, kind="stable")
        key = targets[order] * shape[1] + sources[order]
        if key.size > 1 and np.any(key[1:] == key[:-1]):
            k = int(np.flatnonzero(key[1:] == key[:-1])[0])
            raise ValueError(f"duplicate synapse: target {key[k] // shape[1]} ← source {key[k] % shape[1]} is "
                             "listed twice")
        delays = None if delays is None else np.asarray(delays, dtype=np.int16)[order]
        return Synapses((int(shape[0]), int(shape[1])), targets[order].astype(INDEX_DTYPE),
                        sources[order].astype(INDEX_DTYPE), np.asarray(weights, dtype=np.float64)[order], delays)


def synapse_problem(shape: tuple[int, int], targets: np.ndarray, sources: np.ndarray, weights: np.ndarray,
                    delays: np.ndarray | None = None) -> str | None:
    """What is wrong with a synapse list (None: nothing): lengths that differ, non-integer or out-of-range indices,
    non-finite weights, delays below 1.  Duplicates are found by :meth:`Synapses.build` once sorted."""
    arrays = {"targets": np.asarray(targets), "sources": np.asarray(sources), "weights": np.asarray(weights)}
    if delays is not None:
        arrays["delays"] = np.asarray(delays)
    lengths = {k: a.shape for k, a in arrays.items()}
    if any(a.ndim != 1 for a in arrays.values()) or len({a.size for a in arrays.values()}) > 1:
        return "shape mismatch between indices and weights: " + ", ".join(f"{k} {v}" for k, v in lengths.items())
    for key, size in (("targets", shape[0]), ("sources", shape[1])):
        idx = arrays[key]
        if idx.size and idx.dtype.kind not in "iu":
            return f"{key} must be integer indices, got {idx.dtype}"
        if idx.size and (idx.min() < 0 or idx.max() >= size):
            bad = int(idx[(idx < 0) | (idx >= size)][0])
            return f"{key} index {bad} is out of range: the projection has {size} {key[:-1]} neurons (0…{size - 1})"
    if not np.all(np.isfinite(arrays["weights"])):
        return f"weight of synapse {int(np.flatnonzero(~np.isfinite(arrays['weights']))[0])} is not finite"
    if delays is not None and arrays["delays"].size and (arrays["delays"].min() < 1 or arrays["delays"].dtype.kind not in "iu"):
        return "delays must be integers ≥ 1 (steps)"
    return None


@njit(cache=True)
def _counting_sort(keys, n_keys):  # pragma: no cover
    indptr = np.zeros(n_keys + 1, np.int64)
    for k in keys:
        indptr[k + 1] += 1
    for i in range(n_keys):
        indptr[i + 1] += indptr[i]
    fill = indptr[:-1].copy()
    order = np.empty(keys.size, np.int64)
    for position in range(keys.size):
        k = keys[position]
        order[fill[k]] = position
        fill[k] += 1
    return indptr, order


def grouped_order(keys: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable grouping of positions by integer key in [0, n_keys) (a counting sort, time ∝ n + n_keys):
    (indptr (n_keys + 1,), order) with the positions of key i at ``order[indptr[i]:indptr[i+1]]``, ascending."""
    return _counting_sort(np.ascontiguousarray(keys), int(n_keys))
