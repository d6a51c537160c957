"""Run a space's points: each one Dask task (:func:`neuroport.explore.point.run_point`), stored as it finishes.

With a client, every point not yet done is submitted at once and collected with ``as_completed``; a point whose
worker dies is rescheduled by Dask on another worker (``distributed.scheduler.allowed-failures`` times) and, if
it keeps killing workers, recorded as failed with the scheduler's error: the other points go on, and every
finished point is already in the store.  Without a client the points run here, one after the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neuroport.explore.point import run_point, stored_config
from neuroport.explore.space import Point
from neuroport.explore.store import PointStore


def lost_record(point: Point, err: BaseException) -> dict[str, Any]:
    """The record of a point whose task did not return (its worker died, the cluster went away)."""
    return {"key": point.key, "config": stored_config(point.config), "status": "failed",
            "error": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'the task was lost'}", "seconds": None}


def run_points(points: list[Point], store: PointStore, client: Any = None,
               on_record: Callable[[dict[str, Any]], None] | None = None) -> list[str]:
    """Compute every point not ``done`` in ``store``; returns the keys computed now."""
    todo = [p for p in points if not store.done(p.key)]
    done = on_record or (lambda record: None)
    if client is None:
        for point in todo:
            record = run_point(point.key, point.config)
            store.put(record)
            done(record)
        return [p.key for p in todo]
    from distributed import as_completed

    futures = {client.submit(run_point, p.key, p.config, key=f"neuroport-point-{p.key}", pure=False): p for p in todo}
    for future in as_completed(futures, loop=client.loop):
        point = futures[future]
        try:
            record = future.result()
        except Exception as err:  # noqa: BLE001 — KilledWorker, CancelledError, a lost connection: recorded
            record = lost_record(point, err)
        store.put(record)
        done(record)
    return [p.key for p in todo]
