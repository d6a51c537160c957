"""Evidence accumulation with random e-prop (batch 64, the thesis' setting): iterations until the misclassification
rate falls below 8 %, then float vs Loihi-quantized test accuracy.  Writes results/evidence_accumulation.json and
results/evidence_accumulation.png.

    .venv/bin/python benchmarks/evidence_accumulation.py [--max-iterations 400] [--batch 64]

"Solved" = the running mean of the training error over the last 10 iterations below 8 %, the criterion of
Hajek's thesis (Table 5.2: random e-prop 308 iterations, BPTT 156, batch 64).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.ir.writer import write_model
from neuroport.pipeline import compare, quantize, task_batch
from neuroport.reporters.plots import plot_learning_curve
from neuroport.training.eprop import train_eprop

ROOT = Path(__file__).resolve().parents[1]


class Solved(Exception):
    pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "examples/evidence_accumulation.yaml"))
    ap.add_argument("--max-iterations", type=int, default=400)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--test-samples", type=int, default=256)
    ap.add_argument("--out", default=str(ROOT / "results"))
    args = ap.parse_args()
    graph = load_model(args.model)
    errors: list[float] = []
    t0 = time.perf_counter()

    def watch(stats):
        errors.append(stats.error)
        print(f"it {stats.iteration:4d} loss {stats.loss:8.3f} error {stats.error:6.1%} rate {stats.rate_hz:5.1f} Hz", flush=True)

    result = train_eprop(graph, args.max_iterations, batch_size=args.batch, on_iteration=watch)
    seconds = time.perf_counter() - t0
    running = np.convolve(errors, np.ones(10) / 10, mode="valid")
    below = np.flatnonzero(running < 0.08)
    solved_at = int(below[0] + 10) if below.size else None
    test = task_batch(result.graph, args.test_samples, seed=999)
    cmp = compare(result.graph, quantize(result.graph, load_hw("loihi2")), test)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_model(result.graph, out / "evidence_accumulation_trained.yaml")
    history = [asdict(h) for h in result.history]
    plot_learning_curve({"random e-prop (numpy)": history}, out / "evidence_accumulation.png", title="evidence accumulation")
    record = {
        "task": "evidence_accumulation", "feedback": graph.learning.feedback, "batch": args.batch,
        "iterations_run": args.max_iterations, "iterations_to_below_8pct": solved_at,
        "thesis_iterations": {"random_eprop": 308, "symmetric_eprop": 309, "adaptive_eprop": 331, "bptt": 156},
        "train_seconds": seconds, "seconds_per_iteration": seconds / args.max_iterations,
        "test_samples": args.test_samples, **cmp.to_dict(), "history": history,
    }
    (out / "evidence_accumulation.json").write_text(json.dumps(record, indent=1, default=float))
    print(json.dumps({k: v for k, v in record.items() if k != "history"}, indent=1, default=float))


if __name__ == "__main__":
    main()
