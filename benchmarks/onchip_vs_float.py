"""On-chip e-prop (integer, Lava's learning engine, in the fixed-point emulator) vs float e-prop, from the same
initial weights on the same sequences.  Writes results/onchip_vs_float.json, .png and .md.

    .venv/bin/python benchmarks/onchip_vs_float.py --iterations 40 --chips 16

Iteration i: each of the ``chips`` chips streams sample b of batch i and learns on-line at every step; float
e-prop (the model's rule: Adam, random feedback) takes one step on the same batch of ``chips`` samples.
"Solved" = the running mean of the error over 10 iterations below 8 %.  The on-chip error is each chip's, with
learning off, on a held-out batch after every iteration (on-line learning would otherwise be scored while it
learns the scored window); the float error is that of each batch before its update (fresh data for the model).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from neuroport.ir import load_model
from neuroport.ir.network import assemble
from neuroport.reporters.plots import plot_learning_curve
from neuroport.training.eprop import draw_batches, rule_of, train_on_batches
from neuroport.training.onchip import train_onchip

ROOT = Path(__file__).resolve().parents[1]


def iterations_to_solve(errors: list[float], threshold: float = 0.08, window: int = 10) -> int | None:
    for end in range(window, len(errors) + 1):
        if sum(errors[end - window:end]) / window < threshold:
            return end
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "examples/evidence_accumulation.yaml"))
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--chips", type=int, default=16)
    ap.add_argument("--hw", default="loihi2")
    ap.add_argument("--rates", default="{}", help='on-chip rule overrides as JSON, e.g. \'{"out_impulse": 1, "l_shift": 7}\'')
    ap.add_argument("--out", default=str(ROOT / "results"))
    args = ap.parse_args()
    graph = load_model(args.model)
    log = lambda name: lambda s: print(f"{name:8s} it {s.iteration:3d} error {s.error:6.1%} (while learning {s.train_error:6.1%}) "  # noqa: E731
                                       f"mse {s.loss:.4f} rate {s.rate_hz:5.1f} Hz", flush=True)
    t0 = time.perf_counter()
    onchip = train_onchip(graph, args.iterations, hw_name=args.hw, chips=args.chips, rates=json.loads(args.rates),
                          on_iteration=log("on-chip"))
    t_onchip = time.perf_counter() - t0
    batches = draw_batches(graph, args.iterations, batch_size=args.chips)
    t0 = time.perf_counter()
    floating = train_on_batches(assemble(graph), rule_of(graph), batches, on_iteration=log("float"))
    t_float = time.perf_counter() - t0
    runs = {f"on-chip ({args.hw}, {args.chips} chips)": onchip.history, f"float e-prop (batch {args.chips})": floating.history}
    summary = {"model": graph.name, "iterations": args.iterations, "chips": args.chips, "hw": args.hw,
               "seconds": {"on-chip": t_onchip, "float": t_float},
               "runs": {name: {"iterations_to_8pct": iterations_to_solve([h.error for h in hist]),
                               "final_running_error": sum(h.error for h in hist[-10:]) / min(10, len(hist)),
                               "history": [asdict(h) for h in hist]} for name, hist in runs.items()}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "onchip_vs_float.json").write_text(json.dumps(summary, indent=1))
    plot_learning_curve({k: [asdict(h) for h in v] for k, v in runs.items()}, out / "onchip_vs_float.png",
                        title=f"{graph.name}: on-chip vs float e-prop")
    rows = ["| training | iterations to < 8 % running error | running error, last 10 iterations | wall time |", "|---|---|---|---|"]
    for name, r in summary["runs"].items():
        got = r["iterations_to_8pct"]
        seconds = t_onchip if name.startswith("on-chip") else t_float
        rows.append(f"| {name} | {got if got is not None else f'not within {args.iterations}'} | "
                    f"{100 * r['final_running_error']:.1f} % | {seconds:.0f} s |")
    (out / "onchip_vs_float.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
