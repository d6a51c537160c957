"""Where the work runs: a ``distributed.LocalCluster`` on this machine, or any running Dask scheduler.

``open_client(workers, scheduler)``:
  * ``scheduler`` (or the ``DASK_SCHEDULER_ADDRESS`` environment variable) — attach to that scheduler, e.g. one
    started with ``dask scheduler`` / ``dask worker``, by dask-jobqueue on SLURM/PBS, or on Kubernetes.  An
    unreachable scheduler is a :class:`ClusterError` after ``CONNECT_TIMEOUT_S``.
  * else ``workers`` ≥ 1 — a LocalCluster of that many worker processes, one thread each, with numba's and BLAS's
    thread pools sized so that the workers share the cores instead of oversubscribing them.
  * ``workers == 0`` — no cluster: the caller runs in-process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from neuroport.errors import NeuroportError

CONNECT_TIMEOUT_S = 5  # seconds to reach a scheduler before giving up (the CLI's answer must come within 10 s)
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


class ClusterError(NeuroportError):
    """The Dask cluster cannot be reached or started."""


def scheduler_address(scheduler: str | None) -> str | None:
    """The scheduler to attach to: ``--scheduler``, else ``DASK_SCHEDULER_ADDRESS``, else None (local)."""
    return scheduler or os.environ.get(SCHEDULER_ENV) or None


def default_workers() -> int:
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def worker_env(workers: int, threads: int | None = None) -> dict[str, str]:
    """Thread pools of each worker process: ``threads``, by default the cores divided among the workers (at least
    one thread each)."""
    threads = str(threads or max(1, default_workers() // max(workers, 1)))
    return {name: threads for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def attach(address: str) -> Any:
    """A client of the scheduler at ``address``; :class:`ClusterError` if it does not answer in time."""
    from distributed import Client

    try:
        return Client(address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ClusterError(f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT_S} s ({reason[:160]}); "
                           f"start one with `dask scheduler` + `dask worker ADDRESS`, or fix --scheduler / "
                           f"{SCHEDULER_ENV}") from None


def local_cluster(workers: int, threads: int | None = None) -> tuple[Any, Any]:
    """(cluster, client) of a LocalCluster with ``workers`` single-threaded worker processes, no dashboard; each
    worker's numba/BLAS pools get ``threads`` threads (default: :func:`worker_env`'s share of the cores)."""
    from distributed import Client, LocalCluster

    if workers < 1:
        raise ClusterError(f"--workers must be ≥ 1 for a local cluster (0 runs in-process), got {workers}")
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR, env=worker_env(workers, threads))
    return cluster, Client(cluster, set_as_default=False)


@contextmanager
def dask_client(workers: int | None, scheduler: str | None, threads: int | None = None) -> Iterator[Any]:
    """Yield a client (attached or on a fresh LocalCluster whose workers get ``threads`` numba/BLAS threads), or
    None for ``workers == 0``; closed afterwards."""
    address = scheduler_address(scheduler)
    if address is None and workers == 0:
        yield None
        return
    cluster, client = (None, attach(address)) if address else local_cluster(
        default_workers() if workers is None else workers, threads)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


SHARDED_ENGINES = ("numpy", "bptt", "on-chip")  # the trainers that can split a batch (neuroport.training.parallel)
WAIT_FOR_WORKERS_S = 60


@contextmanager
def sharded(engine: str, workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """``neuroport train``'s data-parallel shards: None (one process) unless ``--workers N ≥ 1`` or a scheduler is
    given; then a :class:`~neuroport.training.parallel.DaskShards` with one shard per worker."""
    if scheduler_address(scheduler) is None and not workers:
        yield None
        return
    if engine not in SHARDED_ENGINES:
        raise ClusterError(f"--engine {engine} does not split batches across Dask workers (--workers/--scheduler); "
                           f"data-parallel engines: {', '.join(SHARDED_ENGINES)}")
    from neuroport.training.parallel import DaskShards

    with dask_client(workers, scheduler) as client:
        try:
            client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)
        except TimeoutError:
            raise ClusterError(f"the Dask scheduler has no workers after {WAIT_FOR_WORKERS_S} s; start some with "
                               f"`dask worker {client.scheduler.address}`") from None
        yield DaskShards(client)
