"""Results and performance tables from results/*.json; every number in them comes from a benchmark run.

:func:`render` is the docs' performance page (docs/gen/pages.py writes it at build time); :func:`headline` is the
README's results table, between the markers ``<!-- results:begin -->`` and ``<!-- results:end -->``:

    .venv/bin/python docs/gen/results_tables.py [--check]      # rewrite the README's table; --check: fail if stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def load(name: str) -> dict | None:
    path = ROOT / "results" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def emulator_vs_lava(d: dict) -> str:
    def row(r: dict, kind: str, exact: str, batch: str) -> list[str]:
        lava = r["lava"]["batch_1"]
        return [f"{r['neurons']}, {kind}", f"{lava['startup_s']:.1f}", f"{lava['loop_ms_per_step']:.2f}",
                f"{lava['io_ms_per_step']:.3f}", f"{r['loihi_sim_over_loop']:.2f}×", f"{r['emulator_ms_per_step_single']:.4f}",
                f"{r['emulator_ms_per_sample_step_batched']:.5f} ({batch})", f"{r['speedup_vs_loop_single']:.0f}×",
                f"{r['speedup_vs_loop_batched']:.0f}×", exact]

    rows = [row(r, "inference", str(r["bit_exact"]), f"batch {r['batch']}") for r in d["rows"]]
    rows += [row(r, "learning", f"{r['bit_exact_weights']} (weights)", f"{r['chips']} chips") for r in d.get("learning", [])]
    head = ["neurons", "Lava start-up s", "Lava loop ms/step", "Lava I/O ms/step", "loihi-sim / Lava loop",
            "emulator ms/step, 1 sample", "emulator ms per sample-step, batched", "emulator vs Lava loop, 1 sample",
            "batched throughput vs Lava loop", "bit-exact"]
    return (f"**Bit-exact emulator vs Lava** (`benchmarks/emulator_vs_lava.py`; {d['machine']})\n\n" + table(head, rows)
            + "\n\n" + kernel_bounds(d))


def kernel_bounds(d: dict) -> str:
    """Operations and memory traffic per step of the compiled kernels, the time the traffic implies at a numpy
    copy's bandwidth, and the kernels' measured CPU time per step (1 sample / 1 chip)."""
    rows = []
    for r in d["rows"]:
        b = r.get("kernel_bound")
        if b:
            rows.append([f"{r['neurons']}, inference", f"{b['integer_ops_per_step']:.0f}", f"{b['bytes_per_step']:.0f}",
                         f"{b['memory_bound_ms_per_step']:.5f}", f"{r['emulator_cpu_ms_per_step_single']:.5f}"])
    for r in d.get("learning", []):
        b = r["kernel_bound"]
        rows.append([f"{r['neurons']}, learning", f"≤ {b['integer_ops_per_step_max']}", f"≤ {b['bytes_per_step_max']}",
                     f"≤ {b['memory_bound_ms_per_step']:.4f}", f"{r['emulator_cpu_ms_per_step_single']:.4f}"])
    head = ["neurons", "integer operations / step", "bytes / step", "memory bound ms/step", "emulator CPU ms/step"]
    return "**Kernel operation counts and memory-traffic bound** (same run)\n\n" + table(head, rows)


def numpy_vs_nest(d: dict) -> str:
    rows = [[str(r["n_rec"]), f"{r['synapses']:,}", f"{r['numpy_s_per_iteration']:.2f}",
             *[f"{r['nest'][k]['s_per_iteration']:.2f} ({r['nest'][k]['speedup_numpy']:.0f}×)" for k in sorted(r["nest"])],
             f"{max(v['max_rel_loss_diff'] for v in r['nest'].values()):.0e}"] for r in d["rows"]]
    threads = sorted(d["rows"][0]["nest"])
    head = ["N", "synapses", "numpy s/it", *[f"NEST {k} thr s/it (ratio)" for k in threads], "max rel. loss diff"]
    return f"**numpy e-prop vs NEST e-prop** (`benchmarks/numpy_vs_nest.py`, batch {d['batch']})\n\n" + table(head, rows)


def scale(d: dict) -> str:
    rows = [[f"{r['neurons']:,}", f"{r['synapses']:,}", f"{r['ms_per_step']:.2f}", f"{r['real_time_factor']:.2f}",
             f"{r['rate_hz']:.1f}", f"{r['peak_rss_gb']:.1f}"] for r in d["rows"]]
    head = ["neurons", "synapses", "ms per step", "× real time", "rate Hz", "peak memory GB"]
    text = (f"**Sparse fixed-point emulation at scale** (`benchmarks/scale.py`; time ∝ neurons^"
            f"{d['time_vs_neurons_exponent']:.2f}, expected {d['expected_exponent']})\n\n" + table(head, rows))
    train = d.get("train")
    if train:
        rows = [[f"{r['neurons']:,}", f"{r['synapses']:,}", str(r["steps"]), f"{r['ms_per_step']:.1f}",
                 f"{r['forward_ms_per_step']:.1f}", f"{r['real_time_factor']:.1f}", f"{r['rate_hz']:.1f}",
                 f"{r['peak_rss_gb']:.2f}"] for r in train["rows"]]
        head = ["neurons", "synapses", "steps", "ms per step (forward + gradients + SGD)", "forward alone",
                "× real time", "rate Hz", "peak memory GB"]
        text += (f"\n\n**Sparse float e-prop training step** (`benchmarks/scale.py --train`; time ∝ synapses^"
                 f"{train['time_vs_synapses_exponent']:.2f}, expected {train['expected_exponent']})\n\n" + table(head, rows))
    return text


def cost_scaling(d: dict) -> str:
    rows = [[name, ", ".join(str(v) for v in s["values"]), f"{s['exponent']:.2f}"] for name, s in d["sweeps"].items()]
    return "**Cost of a numpy e-prop iteration** (`benchmarks/cost_scaling.py`)\n\n" + table(["variable", "values", "fitted exponent"], rows)


def machine(d: dict) -> str:
    where = d.get("machine")
    return f"\n\n*Measured on: {where}.*" if where else ""


def render() -> str:
    """The performance tables, each under the benchmark that wrote its JSON."""
    parts = ["Generated by `docs/gen/results_tables.py` from `results/*.json`, each written by the benchmark named in "
             "its heading (rerun the benchmark, then `make docs`). The development machine had 2 shared cores, so "
             "timings are noisy: ratios are measured side by side in one run."]
    for name, fn in (("emulator_vs_lava", emulator_vs_lava), ("numpy_vs_nest", numpy_vs_nest), ("scale", scale),
                     ("cost_scaling", cost_scaling)):
        data = load(name)
        if data is not None:
            parts.append(fn(data) + machine(data))
    return "\n\n".join(parts)


def headline() -> str:
    """The README's table: one line per headline result, with the command that reproduces it."""
    ea, pg, vs = load("evidence_accumulation"), load("pattern_generation"), load("eprop_vs_bptt")
    nest, lava, digits = load("numpy_vs_nest"), load("emulator_vs_lava"), load("digits_events")
    nest_diff = max(v["max_rel_loss_diff"] for r in nest["rows"] for v in r["nest"].values())
    nest_speed = [r["nest"]["1"]["speedup_numpy"] for r in nest["rows"]]
    small = lava["rows"][0]
    mid = next((r for r in lava["rows"] if r["neurons"] == 400), small)
    learn = next((r for r in lava.get("learning", []) if r["neurons"] == mid["neurons"]), None)
    learning = f", learning {learn['speedup_vs_loop_single']:.0f}×" if learn else ""
    rows = [
        ["evidence accumulation, random e-prop, batch 64",
         f"solved after {ea['iterations_to_solved']} iterations ({ea['published']['source']}: "
         f"{ea['published']['random_eprop']}); "
         f"{100 * ea['float']['accuracy']:.1f} % float, {100 * ea['fixed']['accuracy']:.1f} % in Loihi 2 fixed point",
         f"`python benchmarks/train_and_quantize.py --model examples/evidence_accumulation.yaml --iterations "
         f"{ea['iterations_run']} --batch {ea['batch']}`"],
        ["pattern generation, random e-prop, batch 1",
         f"MSE < 0.03 after {pg['iterations_to_solved']} iterations ({pg['published']['source']}: "
         f"~{pg['published']['random_eprop']}); "
         f"MSE {pg['float']['mse']:.4f} float, {pg['fixed']['mse']:.4f} fixed point",
         f"`python benchmarks/train_and_quantize.py --model examples/pattern_generation.yaml --iterations "
         f"{pg['iterations_run']} --batch {pg['batch']}`"],
        ["e-prop vs BPTT, evidence accumulation",
         f"{vs['runs']['random e-prop']['iterations_to_8pct']} vs {vs['runs']['BPTT']['iterations_to_8pct']} iterations "
         f"to < 8 % error ({vs['thesis']['source']}: {vs['thesis']['random_eprop']} vs {vs['thesis']['bptt']})",
         f"`python benchmarks/eprop_vs_bptt.py --iterations {vs['iterations']} --batch {vs['batch']}`"],
        ["numpy e-prop vs NEST 3.10's e-prop",
         f"same losses (max relative difference {nest_diff:.0e}); numpy {min(nest_speed):.0f}–{max(nest_speed):.0f}× "
         "faster than NEST on 1 thread", "`python benchmarks/numpy_vs_nest.py`"],
        ["fixed-point emulator vs Lava (loihi-sim)",
         f"bit-exact; {small['speedup_vs_loop_single']:.0f}× faster per step than Lava's own loop at {small['neurons']} "
         f"neurons, {mid['speedup_vs_loop_single']:.0f}× at {mid['neurons']}{learning}; loihi-sim "
         f"{mid['loihi_sim_over_loop']:.2f}× Lava's loop",
         "`python benchmarks/emulator_vs_lava.py`"],
        ["neuromorphic digits (events made from scikit-learn's digits)",
         f"{100 * digits['scores']['float']['accuracy']:.1f} % float, {100 * digits['scores']['fixed']['accuracy']:.1f} % "
         f"Loihi fixed point on {digits['scores']['test_files']} held-out files; loihi-sim bit-exact: "
         f"{digits['verify']['bit_exact']}", "`make digits`"],
    ]
    return table(["result", "measured", "reproduce"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head, rest = readme.split(BEGIN)
    _, tail = rest.split(END)
    updated = f"{head}{BEGIN}\n{headline()}\n{END}{tail}"
    if args.check:
        sys.exit(0 if updated == readme else "README results table is out of date: run docs/gen/results_tables.py")
    (ROOT / "README.md").write_text(updated, encoding="utf-8")


if __name__ == "__main__":
    main()
