"""Evidence accumulation at 10 % connectivity with DEEP R rewiring, against the dense run and Hajek's thesis.

Trains examples/evidence_accumulation_sparse.yaml with the CLI's own trainer — it runs
``neuroport train <model> -i N --batch-size 64 -o results/evidence_accumulation_sparse`` (trained model, curve.json,
curve.png, sample.png there) — then writes results/ea_rewiring.json and results/ea_rewiring.png:

- iterations to "solved": the running mean of the training error over 10 iterations below 8 % (the criterion of
  results/evidence_accumulation.json, written by benchmarks/train_and_quantize.py, and of the thesis);
- the thesis' 1219 iterations with rewiring at 10 % connectivity and its dense random e-prop (308, Table 5.2),
  and our dense run from results/evidence_accumulation.json (same criterion, batch 64);
- the final connectivity per projection (it must equal the initial count) and the share of synapses that moved;
- held-out accuracy of the trained model in float and quantized for Loihi 2 (emulator);
- with ``--ablation-iterations N``: the same model and data with its initial 10 % masks frozen (learning.rewiring
  removed), trained by the same trainer (train_eprop), written to results/ea_rewiring_fixed_mask.json.

    nice -n 5 .venv/bin/python benchmarks/ea_rewiring.py --iterations 600        # trains, then evaluates
    .venv/bin/python benchmarks/ea_rewiring.py --reuse                           # evaluates the saved run
    nice -n 5 .venv/bin/python benchmarks/ea_rewiring.py --reuse --ablation-iterations 300   # + frozen masks
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from neuroport import jsonio
from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.pipeline import compare, quantize, task_batch
from neuroport.training.eprop import train_eprop

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples/evidence_accumulation_sparse.yaml"
THESIS = {"source": "Hajek 2019 (e-prop with DEEP R, 10 % connectivity; dense: Table 5.2, batch 64)",
          "rewiring_10_percent": 1219, "dense_random_eprop": 308}
WINDOW, THRESHOLD = 10, 0.08


def solved_at(errors: list[float]) -> int | None:
    """First iteration count at which the running mean over WINDOW iterations is below THRESHOLD."""
    running = np.convolve(errors, np.ones(WINDOW) / WINDOW, mode="valid")
    below = np.flatnonzero(running < THRESHOLD)
    return int(below[0] + WINDOW) if below.size else None


def train(iterations: int, batch: int, folder: Path) -> float:
    """Run ``neuroport train`` (the CLI) and return its wall time in seconds."""
    cmd = [sys.executable, "-m", "neuroport.cli", "train", str(MODEL), "-i", str(iterations), "--batch-size", str(batch),
           "-o", str(folder)]
    print(" ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - t0
    (folder / "train_seconds.json").write_text(jsonio.dumps({"iterations": iterations, "seconds": seconds}))
    return seconds


def fixed_mask_run(iterations: int, batch: int, path: Path) -> dict:
    """Ablation: the sparse model with its initial masks frozen (no rewiring), same trainer and batches."""
    graph = load_model(MODEL)
    graph = replace(graph, learning=replace(graph.learning, rewiring=None))
    t0 = time.perf_counter()
    history = [asdict(h) for h in train_eprop(graph, iterations, batch_size=batch).history]
    errors = [h["error"] for h in history]
    record = {"model": f"{MODEL.relative_to(ROOT)} without learning.rewiring (masks frozen)", "batch": batch,
              "iterations_run": iterations, "iterations_to_solved": solved_at(errors),
              "train_seconds": time.perf_counter() - t0, "errors": errors}
    path.write_text(jsonio.dumps(record, indent=1))
    return record


def connectivity(initial, trained) -> dict[str, dict]:
    """Synapse counts before and after training, and the share of trained synapses absent at the start."""
    out = {}
    for p0, p1 in zip(initial.projections, trained.projections, strict=True):
        if p0.mask is None:
            continue
        moved = int(np.count_nonzero(p1.mask & ~p0.mask))
        out[p0.name] = {"possible": int(p0.mask.size), "initial": p0.n_synapses, "final": p1.n_synapses,
                        "density": p1.n_synapses / p0.mask.size, "new_synapses": moved,
                        "new_share": moved / max(p1.n_synapses, 1)}
    return out


def plot(errors: list[float], dense: dict | None, fixed: dict | None, sparse_at: int | None, path: Path) -> None:
    from neuroport.reporters.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    curves = {"10 % + DEEP R (ours)": errors}
    if dense:
        curves["dense (ours)"] = [h["error"] for h in dense["history"]]
    if fixed:
        curves["10 %, masks frozen (ours)"] = fixed["errors"]
    for label, errs in ((k, v) for k, v in curves.items() if len(v) >= WINDOW):
        running = np.convolve(errs, np.ones(WINDOW) / WINDOW, mode="valid")
        ax.plot(np.arange(WINDOW, len(errs) + 1), 100 * running, label=f"{label}, running mean of {WINDOW}")
    ax.axhline(100 * THRESHOLD, color="grey", lw=0.8, ls="--")
    ax.axvline(THESIS["rewiring_10_percent"], color="tab:red", lw=0.8, ls=":", label="thesis, 10 % + rewiring (1219)")
    if sparse_at:
        ax.axvline(sparse_at, color="tab:blue", lw=0.8, ls=":")
    ax.set(xlabel="iteration (batch 64)", ylabel="misclassified (%)", xscale="log",
           title="Evidence accumulation: 10 % connectivity with rewiring vs dense")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=600)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--test-samples", type=int, default=256)
    ap.add_argument("--out", default=str(ROOT / "results"))
    ap.add_argument("--reuse", action="store_true", help="Evaluate the run already in <out>/evidence_accumulation_sparse.")
    ap.add_argument("--ablation-iterations", type=int, default=0, help="Also train with frozen masks (0: reuse a saved one).")
    args = ap.parse_args()
    out = Path(args.out)
    folder = out / "evidence_accumulation_sparse"
    if not args.reuse:
        train(args.iterations, args.batch, folder)
    timing_file = folder / "train_seconds.json"
    seconds = json.loads(timing_file.read_text())["seconds"] if timing_file.exists() else None
    fixed_file = out / "ea_rewiring_fixed_mask.json"
    fixed = fixed_mask_run(args.ablation_iterations, args.batch, fixed_file) if args.ablation_iterations else \
        (json.loads(fixed_file.read_text()) if fixed_file.exists() else None)
    history = json.loads((folder / "curve.json").read_text())["history"]
    errors = [h["error"] for h in history]
    trained = load_model(folder / "model.yaml")
    dense_file = out / "evidence_accumulation.json"
    dense = json.loads(dense_file.read_text()) if dense_file.exists() else None
    at = solved_at(errors)
    test = task_batch(trained, args.test_samples, seed=999)
    cmp = compare(trained, quantize(trained, load_hw("loihi2")), test)
    record = {
        "model": str(MODEL.relative_to(ROOT)), "trainer": "neuroport train (numpy e-prop + DEEP R)",
        "batch": args.batch, "iterations_run": len(history),
        "solved_criterion": f"running mean error over {WINDOW} iterations < {THRESHOLD:.0%}",
        "iterations_to_solved": at, "thesis": THESIS,
        "dense_ours": None if dense is None else {"iterations_to_solved": dense["iterations_to_solved"],
                                                  "seconds_per_iteration": dense["seconds_per_iteration"]},
        "fixed_mask_no_rewiring": None if fixed is None else {
            k: fixed[k] for k in ("iterations_run", "iterations_to_solved", "train_seconds")},
        "train_seconds": seconds, "seconds_per_iteration": None if seconds is None else seconds / len(history),
        "connectivity": connectivity(load_model(MODEL), trained),
        "test_samples": args.test_samples, "float_accuracy": cmp.float_score.get("accuracy"),
        "loihi2_fixed_accuracy": cmp.fixed_score.get("accuracy"),
        "final_running_error": float(np.mean(errors[-WINDOW:])),
    }
    (out / "ea_rewiring.json").write_text(jsonio.dumps({**record, "errors": errors}, indent=1, default=float))
    plot(errors, dense, fixed, at, out / "ea_rewiring.png")
    print(json.dumps(record, indent=1, default=float))


if __name__ == "__main__":
    main()
