"""Evidence accumulation: iterations to solve it with random e-prop (numpy) and with BPTT (torch), same network,
same initial weights, same batches, same optimizer; next to the thesis' figures.  Writes
results/eprop_vs_bptt.json, results/eprop_vs_bptt.png and results/eprop_vs_bptt.md (the table in docs/results/index.md).

    .venv/bin/python benchmarks/eprop_vs_bptt.py --iterations 200 --batch 64

"Solved" = the running mean of the training error over 10 iterations below 8 % (Hajek 2019, Table 5.2: random
e-prop 308 iterations, BPTT 156, batch 64).
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from neuroport import jsonio
from neuroport.ir import load_model
from neuroport.ir.network import assemble
from neuroport.reporters.plots import plot_learning_curve
from neuroport.training.bptt import bptt_train_on_batches
from neuroport.training.eprop import draw_batches, rule_of, train_on_batches

ROOT = Path(__file__).resolve().parents[1]
THESIS = {"source": "Hajek 2019, Table 5.2 (batch 64)", "random_eprop": 308, "bptt": 156}


def iterations_to_solve(errors: list[float], threshold: float = 0.08, window: int = 10) -> int | None:
    """First iteration (1-based count) at which the running mean over ``window`` iterations is below threshold."""
    if len(errors) < window:
        return None
    running = np.convolve(errors, np.ones(window) / window, mode="valid")
    below = np.flatnonzero(running < threshold)
    return int(below[0] + window) if below.size else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "examples/evidence_accumulation.yaml"))
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", default=str(ROOT / "results"))
    args = ap.parse_args()
    graph = load_model(args.model)
    batches = draw_batches(graph, args.iterations, batch_size=args.batch)
    net, rule = assemble(graph), rule_of(graph)
    runs = {}
    for name, train in (("random e-prop", train_on_batches), ("BPTT", bptt_train_on_batches)):
        t0 = time.perf_counter()
        log = lambda s, name=name: print(f"{name:14s} it {s.iteration:4d} loss {s.loss:7.3f} error {s.error:6.1%}", flush=True)  # noqa: E731
        result = train(net, rule, batches, on_iteration=log)
        seconds = time.perf_counter() - t0
        errors = [h.error for h in result.history]
        runs[name] = {"iterations_to_8pct": iterations_to_solve(errors), "seconds": seconds,
                      "seconds_per_iteration": seconds / args.iterations, "history": [asdict(h) for h in result.history]}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"model": graph.name, "batch": args.batch, "iterations": args.iterations, "thesis": THESIS,
               "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
               "runs": runs}
    (out / "eprop_vs_bptt.json").write_text(jsonio.dumps(summary, indent=1))
    plot_learning_curve({k: v["history"] for k, v in runs.items()}, out / "eprop_vs_bptt.png",
                        title=f"{graph.name}: e-prop vs BPTT (batch {args.batch})")
    rows = ["| method | iterations to < 8 % error (neuroport) | thesis (Hajek 2019) | s / iteration |", "|---|---|---|---|"]
    for name, key in (("random e-prop", "random_eprop"), ("BPTT", "bptt")):
        got = runs[name]["iterations_to_8pct"]
        rows.append(f"| {name} | {got if got is not None else f'not within {args.iterations}'} | {THESIS[key]} | "
                    f"{runs[name]['seconds_per_iteration']:.2f} |")
    (out / "eprop_vs_bptt.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
