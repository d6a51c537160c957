"""Speed-up of Dask: a 16-point exploration on a LocalCluster of 1 and of 2 workers, and data-parallel training
with the batch split over 1 and 2 workers — run side by side in one process, so the ratios compare like with like
on a machine whose load changes (the absolute seconds do not transfer; the ratios are what to read).

Two baselines, since neuroport's kernels are themselves multi-threaded (numba ``prange`` over the samples of a
batch): one worker with ONE thread (what Dask's scaling is: same per-worker work, one more worker), and one worker
with the thread pools of ALL cores (what a user gains by going from one process to a cluster on the same machine).

    .venv/bin/python benchmarks/explore_scaling.py [--samples 64] [--train-iterations 5] [--batch 64]

Exploration: the trained evidence-accumulation model on loihi1/loihi2 × weight_bits 1–8 (16 points), each point
quantized, emulated on SAMPLES held-out sequences and costed.  Training: ITERATIONS e-prop iterations of the
evidence-accumulation model (100 neurons, 1400 steps) with batches of BATCH, in one process and split over 1 and 2
worker processes (:class:`neuroport.training.parallel.DaskShards`); the weights must agree to 1e-12.
Writes results/explore_scaling.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from neuroport import jsonio

ROOT = Path(__file__).resolve().parents[1]


def space_file(folder: Path, samples: int) -> Path:
    doc = {"explore": 1, "name": "scaling", "samples": samples,
           "axes": {"model": [str(ROOT / "results/evidence_accumulation_trained.yaml")], "hw": ["loihi1", "loihi2"],
                    "weight_bits": list(range(1, 9))}}
    path = folder / "space.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def time_exploration(space: Path, workers: int, threads: int, out: Path) -> tuple[float, list]:
    from neuroport.explore.cluster import dask_client
    from neuroport.explore.run import run_points
    from neuroport.explore.space import load_space
    from neuroport.explore.store import PointStore

    points = load_space(space).points()
    with dask_client(workers, None, threads) as client:
        client.run(lambda: __import__("neuroport.pipeline"))  # imports and numba caches warm on every worker
        start = time.perf_counter()
        run_points(points, PointStore(out), client)
        seconds = time.perf_counter() - start
    store = PointStore(out)
    return seconds, [store.get(p.key) for p in points]


def time_training(graph, iterations: int, batch: int, workers: int | None, threads: int) -> tuple[float, dict]:
    from neuroport.explore.cluster import dask_client
    from neuroport.training.eprop import train_eprop
    from neuroport.training.parallel import DaskShards

    if workers is None:
        start = time.perf_counter()
        result = train_eprop(graph, iterations, batch_size=batch)
        return time.perf_counter() - start, {p.name: p.weights for p in result.graph.projections}
    with dask_client(workers, None, threads) as client:
        shards = DaskShards(client)
        train_eprop(graph, 1, batch_size=2 * workers, shards=shards)  # warm-up: imports and numba caches
        start = time.perf_counter()
        result = train_eprop(graph, iterations, batch_size=batch, shards=shards)
        return time.perf_counter() - start, {p.name: p.weights for p in result.graph.projections}


def max_relative(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[k] - b[k])) / max(np.max(np.abs(a[k])), 1e-300)) for k in a)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--train-iterations", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    from neuroport.explore.cluster import default_workers
    from neuroport.ir import load_model

    cores = default_workers()
    record = {"cores": cores, "note": "shared machine: ratios measured side by side in one run; "
              "'1 worker x 1 thread' is Dask's own scaling, '1 worker x all cores' the multi-threaded baseline"}
    with tempfile.TemporaryDirectory() as tmp:
        space = space_file(Path(tmp), args.samples)
        t11, rows1 = time_exploration(space, 1, 1, Path(tmp) / "w1t1")
        t1c, _ = time_exploration(space, 1, cores, Path(tmp) / "w1tc")
        t21, rows2 = time_exploration(space, 2, 1, Path(tmp) / "w2t1")
    same = [r["results"] for r in rows1] == [r["results"] for r in rows2]
    record["explore"] = {"points": len(rows1), "samples": args.samples, "seconds_1_worker_1_thread": t11,
                         "seconds_1_worker_all_cores": t1c, "seconds_2_workers_1_thread": t21,
                         "speedup": t11 / t21, "speedup_vs_threaded_worker": t1c / t21, "tables_equal": same,
                         "failed": sum(r["status"] != "ok" for r in rows1)}
    print(json.dumps(record["explore"]))
    graph = load_model(ROOT / "examples/evidence_accumulation.yaml")
    t0, w0 = time_training(graph, args.train_iterations, args.batch, None, cores)
    t11, _ = time_training(graph, args.train_iterations, args.batch, 1, 1)
    t1c, _ = time_training(graph, args.train_iterations, args.batch, 1, cores)
    t21, w2 = time_training(graph, args.train_iterations, args.batch, 2, 1)
    record["train"] = {"iterations": args.train_iterations, "batch": args.batch, "seconds_one_process": t0,
                       "seconds_1_worker_1_thread": t11, "seconds_1_worker_all_cores": t1c,
                       "seconds_2_workers_1_thread": t21, "speedup": t11 / t21,
                       "speedup_vs_threaded_worker": t1c / t21, "speedup_2_workers_vs_one_process": t0 / t21,
                       "max_relative_weight_difference": max_relative(w0, w2)}
    print(json.dumps(record["train"]))
    jsonio.write_json(ROOT / "results/explore_scaling.json", record)


if __name__ == "__main__":
    main()
