"""Data-parallel training: a batch split across workers, its gradient the sum of the shards' gradients.

Every trainer sums its gradients over the samples of a batch before the optimizer step
(:mod:`neuroport.training.eprop`), so a batch of B samples split into contiguous shards S_1 … S_n gives

    g(batch) = Σ_{s=1..n} g(S_s)        summed in shard order, g(S_1) + g(S_2) + … (a fixed order)

with each g(S_s) computed by the trainer's own gradient function on its shard.  The only difference from the
single-process run is where the floating-point sums over samples are cut: the shards' gradients agree with the
whole batch's to rounding (≈ 1e-16 relative), which tests/test_parallel.py bounds at 1e-12 on the weights and
the loss curve after training.  The loss and the misclassified count are sums; the firing rate is the mean over
shards weighted by their sizes.

Where the shards run is a :class:`Shards`: :class:`InProcessShards` (the same split, no Dask: the reference the
Dask runs must equal bit for bit) or :class:`DaskShards` (a ``distributed.Client``; the network's weights are
``client.scatter(..., broadcast=True)`` once per iteration, each shard task gets a reference to them, not a copy).
On-chip training splits its independent chips instead: each worker holds the chips of its shard as a Dask actor
(:class:`ChipShard` in :mod:`neuroport.training.onchip`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Protocol

import numpy as np

from neuroport.tasks import Batch
from neuroport.training.gradients import Gradients


def shard_bounds(size: int, n_shards: int) -> list[tuple[int, int]]:
    """Contiguous [start, stop) of each shard (numpy.array_split's sizes; empty shards dropped)."""
    edges = np.cumsum([0] + [len(part) for part in np.array_split(np.arange(size), max(1, min(n_shards, size)))])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def split_batch(batch: Batch, n_shards: int) -> list[Batch]:
    """The batch's samples in ``n_shards`` contiguous shards (views)."""
    return [Batch(inputs=batch.inputs[a:b], targets=batch.targets[a:b], loss_mask=batch.loss_mask[a:b],
                  labels=None if batch.labels is None else batch.labels[a:b]) for a, b in shard_bounds(batch.size, n_shards)]


def sum_in_order(parts: Sequence[Any]) -> Any:
    """((p_1 + p_2) + p_3) + …: the fixed summation order of the shards."""
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def weighted_rate(rates: Sequence[float], sizes: Sequence[int]) -> float:
    """Mean firing rate of the whole batch from the shards' means."""
    return float(sum(r * n for r, n in zip(rates, sizes, strict=True)) / sum(sizes))


def combine_gradients(parts: Sequence[Gradients], sizes: Sequence[int]) -> Gradients:
    """The batch's :class:`Gradients` from its shards'."""
    return Gradients(w_in=sum_in_order([p.w_in for p in parts]), w_rec=sum_in_order([p.w_rec for p in parts]),
                     w_out=sum_in_order([p.w_out for p in parts]), loss=sum_in_order([p.loss for p in parts]),
                     n_errors=sum(p.n_errors for p in parts), rate_hz=weighted_rate([p.rate_hz for p in parts], sizes))


def concat_fields(parts: Sequence[Any]) -> Any:
    """A dataclass of per-sample arrays (batch first) from its shards', field by field (None stays None)."""
    values = {f.name: [getattr(p, f.name) for p in parts] for f in fields(parts[0])}
    return replace(parts[0], **{k: None if v[0] is None else np.concatenate(v, axis=0) for k, v in values.items()})


class Shards(Protocol):
    """Where the shards of a batch run."""

    n_shards: int

    def map(self, fn: Callable[[Any, Any], Any], common: Any, parts: Sequence[Any]) -> list[Any]:
        """[fn(common, part) for part in parts], in order; ``common`` is sent to the workers once."""

    def actors(self, cls: type, args: Sequence[tuple]) -> list[Any]:
        """One stateful ``cls(*a)`` per shard."""

    def call(self, handles: Sequence[Any], method: str, args: Sequence[tuple]) -> list[Any]:
        """[handle.method(*a)] for every shard, run concurrently; results in shard order."""


@dataclass
class InProcessShards:
    """The shard split run in this process, one shard after the other (no Dask)."""

    n_shards: int

    def map(self, fn, common, parts):
        return [fn(common, part) for part in parts]

    def actors(self, cls, args):
        return [cls(*a) for a in args]

    def call(self, handles, method, args):
        return [getattr(h, method)(*a) for h, a in zip(handles, args, strict=True)]


class DaskShards:
    """Shards on the workers of a ``distributed.Client``: one shard per worker (``n_shards`` = workers)."""

    def __init__(self, client: Any, n_shards: int | None = None) -> None:
        self.client = client
        self.workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
        self.n_shards = n_shards or len(self.workers)

    def _where(self, index: int) -> dict[str, Any]:
        return {"workers": [self.workers[index % len(self.workers)]], "allow_other_workers": True}

    def map(self, fn, common, parts):
        shared = self.client.scatter(common, broadcast=True, hash=False)  # once per call: the iteration's weights
        futures = [self.client.submit(fn, shared, part, pure=False, **self._where(i)) for i, part in enumerate(parts)]
        return self.client.gather(futures)

    def actors(self, cls, args):
        with self.client.as_current():  # an actor handle finds its client as the current one
            futures = [self.client.submit(cls, *a, actor=True, workers=[self.workers[i % len(self.workers)]])
                       for i, a in enumerate(args)]
            return [f.result() for f in futures]

    def call(self, handles, method, args):
        with self.client.as_current():
            pending = [getattr(h, method)(*a) for h, a in zip(handles, args, strict=True)]
            return [p.result() for p in pending]


@dataclass(frozen=True, eq=False)
class GradientJob:
    """What every shard of an iteration shares (broadcast once): the network and the rule, and B."""

    net: Any
    rule: Any
    b_matrix: np.ndarray | None


@dataclass(frozen=True)
class ShardedGradient:
    """A gradient function ``(net, rule, B, batch) → Gradients`` (e-prop's, BPTT's) computed shard by shard on
    ``shards`` and summed in shard order.  ``fn`` must be picklable (a module-level function or a partial)."""

    fn: Callable[..., Gradients]
    shards: Shards

    def __call__(self, net, rule, b_matrix, batch: Batch) -> Gradients:
        parts = split_batch(batch, self.shards.n_shards)
        results = self.shards.map(_gradient_of_shard, (self.fn, GradientJob(net, rule, b_matrix)), parts)
        return combine_gradients(results, [p.size for p in parts])


def _gradient_of_shard(common: tuple[Callable[..., Gradients], GradientJob], batch: Batch) -> Gradients:
    fn, job = common
    return fn(job.net, job.rule, job.b_matrix, batch)


class PresetUniforms:
    """Stands in for a ``numpy.random.Generator`` whose only use is one ``random(shape)`` draw: it hands out the
    uniform numbers the whole batch's generator drew, the rows of this shard (reward-based action sampling)."""

    def __init__(self, uniforms: np.ndarray) -> None:
        self.uniforms = uniforms

    def random(self, shape: tuple[int, ...]) -> np.ndarray:
        if tuple(shape) != self.uniforms.shape:
            raise ValueError(f"preset uniforms have shape {self.uniforms.shape}, asked for {tuple(shape)}")
        return self.uniforms
