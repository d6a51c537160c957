"""EDP against accuracy (or MSE) for quantization options: weight mantissa widths on a Loihi config.
Writes results/edp_vs_accuracy.json and .png.

    .venv/bin/python benchmarks/edp_vs_accuracy.py [--model results/evidence_accumulation_trained.yaml] [--bits 8,6,5,4,3]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from neuroport import jsonio
from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.pipeline import Prepared, compare, cost_report, quantize, task_batch
from neuroport.reporters.plots import _pyplot

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "results/evidence_accumulation_trained.yaml"))
    ap.add_argument("--hw", default="loihi1")
    ap.add_argument("--bits", default="8,6,5,4,3")
    ap.add_argument("--samples", type=int, default=128)
    args = ap.parse_args()
    graph, base = load_model(args.model), load_hw(args.hw)
    batch = task_batch(graph, args.samples, seed=12345)
    rows = []
    for bits in (int(b) for b in args.bits.split(",")):
        hw = replace(base, numerics={**base.numerics, "weight": replace(base.numerics["weight"], bits=bits)})
        fixed = quantize(graph, hw)
        result = compare(graph, fixed, batch)
        energy = cost_report(Prepared(graph, None, hw, fixed), "emulator", result.stats)
        rows.append({"weight_bits": bits, **result.fixed_score, "float": result.float_score, "edp_js": energy.edp_js,
                     "energy_j": energy.energy_j, "latency_s": energy.latency_s})
        print(rows[-1])
    metric = "accuracy" if "accuracy" in rows[0] else "mse"
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot([r["edp_js"] for r in rows], [r[metric] for r in rows], "o-")
    for r in rows:
        ax.annotate(f"{r['weight_bits']} bit", (r["edp_js"], r[metric]), fontsize=8)
    ax.axhline(rows[0]["float"][metric], color="grey", ls="--", lw=0.8, label="float")
    ax.set(xlabel=f"EDP per inference on {args.hw} (J·s)", ylabel=metric, title=graph.name)
    ax.legend()
    fig.tight_layout()
    (ROOT / "results").mkdir(exist_ok=True)
    fig.savefig(ROOT / "results/edp_vs_accuracy.png", dpi=110)
    (ROOT / "results/edp_vs_accuracy.json").write_text(jsonio.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
