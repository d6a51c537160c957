"""Time per e-prop training iteration: neuroport's numpy engine vs NEST's own e-prop models (1 and 2 threads),
same model, same batches, same run, at several network sizes; checks that the losses and weights agree.
Writes results/numpy_vs_nest.json and results/numpy_vs_nest.md.

    .venv/bin/python benchmarks/numpy_vs_nest.py --sizes 100 200 400 --batch 32 --iterations 2

The model is examples/evidence_accumulation.yaml (2250-step sequences, 40 inputs) with N recurrent neurons,
half LIF and half ALIF.  NEST's time includes building the network and its process start (~1 s, spread over the
iterations); the numpy engine is timed after one warm-up iteration (its compiled kernels are cached on disk after
the first use, as NEST's C++ is compiled at install).  Wall-clock times on this machine, one after the other in
the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from neuroport.backends.nest.engine import nest_train_on_batches

from neuroport import jsonio
from neuroport.ir import load_model
from neuroport.ir.network import assemble
from neuroport.training.eprop import draw_batches, rule_of, train_on_batches

ROOT = Path(__file__).resolve().parents[1]


def model_of_size(n: int, folder: Path) -> Path:
    doc = yaml.safe_load((ROOT / "examples/evidence_accumulation.yaml").read_text())
    doc["populations"][0]["size"], doc["populations"][1]["size"] = n // 2, n - n // 2
    path = folder / f"ea_{n}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def compare_size(n: int, batch: int, iterations: int, threads: list[int], folder: Path) -> dict:
    graph = load_model(model_of_size(n, folder))
    net, rule = assemble(graph), rule_of(graph)
    batches = draw_batches(graph, iterations, batch_size=batch)
    train_on_batches(net, rule, batches[:1])  # load the compiled kernels and touch the memory once
    ours, t_numpy = timed(train_on_batches, net, rule, batches)
    row = {"n_rec": n, "synapses": int(net.w_in_mask.sum() + net.w_rec_mask.sum() + net.w_out_mask.sum()),
           "numpy_s_per_iteration": t_numpy / iterations, "nest": {}}
    for k in threads:
        theirs, t_nest = timed(nest_train_on_batches, net, rule, batches, threads=k)
        loss_ours, loss_nest = np.array([h.loss for h in ours.history]), np.array([h.loss for h in theirs.history])
        weight_diff = max(float(np.abs(ours.weights[m] - theirs.weights[m]).max() / np.abs(ours.weights[m]).max())
                          for m in ours.weights)
        row["nest"][str(k)] = {"s_per_iteration": t_nest / iterations, "speedup_numpy": t_nest / t_numpy,
                               "max_rel_loss_diff": float(np.max(np.abs(loss_ours - loss_nest) / np.abs(loss_nest))),
                               "max_rel_weight_diff": weight_diff}
        print(f"N={n:5d} threads={k}: numpy {t_numpy / iterations:6.2f} s/it, NEST {t_nest / iterations:7.2f} s/it, "
              f"ratio {t_nest / t_numpy:5.1f}×, loss diff {row['nest'][str(k)]['max_rel_loss_diff']:.1e}", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 400])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", default=str(ROOT / "results"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [compare_size(n, args.batch, args.iterations, args.threads, Path(tmp)) for n in args.sizes]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "numpy_vs_nest.json").write_text(jsonio.dumps({"batch": args.batch, "iterations": args.iterations,
                                                        "machine": machine, "rows": rows}, indent=1))
    lines = ["| N | synapses | numpy s/it | " + " | ".join(f"NEST {k} thr s/it | ratio" for k in args.threads) +
             " | max rel. loss diff |", "|---" * (4 + 2 * len(args.threads)) + "|"]
    for r in rows:
        nest = [r["nest"][str(k)] for k in args.threads]
        cells = " | ".join(f"{x['s_per_iteration']:.2f} | {x['speedup_numpy']:.0f}×" for x in nest)
        diff = max(x["max_rel_loss_diff"] for x in nest)
        lines.append(f"| {r['n_rec']} | {r['synapses']} | {r['numpy_s_per_iteration']:.2f} | {cells} | {diff:.0e} |")
    (out / "numpy_vs_nest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
