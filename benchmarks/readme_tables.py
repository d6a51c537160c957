"""Render the README's performance tables from results/*.json, between the markers
``<!-- performance:begin -->`` and ``<!-- performance:end -->``; every number in them comes from a benchmark run.

    .venv/bin/python benchmarks/readme_tables.py [--check]      # --check: fail if the README is out of date
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- performance:begin -->", "<!-- performance:end -->"


def load(name: str) -> dict | None:
    path = ROOT / "results" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def emulator_vs_lava(d: dict) -> str:
    rows = [[str(r["neurons"]), f"{r['lava_ms_per_sample_step']:.1f}", f"{r['emulator_ms_per_sample_step_single']:.4f}",
             f"{r['emulator_ms_per_sample_step_batched']:.5f} (batch {r['batch']})", f"{r['speedup_single']:.0f}×",
             f"{r['speedup_batched_throughput']:.0f}×", str(r["bit_exact"])] for r in d["rows"]]
    rows += [[f"{r['neurons']}, learning", f"{r['lava_ms_per_sample_step']:.1f}", f"{r['emulator_ms_per_sample_step_single']:.4f}",
              f"{r['emulator_ms_per_sample_step_batched']:.5f} ({r['chips']} chips)", f"{r['speedup_single']:.0f}×",
              f"{r['speedup_batched_throughput']:.0f}×", f"{r['bit_exact_weights']} (weights)"] for r in d.get("learning", [])]
    head = ["neurons", "Lava loihi-sim ms/step", "emulator ms/step, 1 sample", "emulator ms per sample-step, batched",
            "ratio, 1 sample", "ratio, batched throughput", "bit-exact"]
    return "**Bit-exact emulator vs Lava** (`benchmarks/emulator_vs_lava.py`)\n\n" + table(head, rows)


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


def machine() -> str:
    return (f"Measured on the development machine: {platform.machine()}, {os.cpu_count()} cores (shared, noisy: "
            f"ratios are measured side by side in one run), Python {platform.python_version()}.")


def render() -> str:
    parts = [machine()]
    for name, fn in (("emulator_vs_lava", emulator_vs_lava), ("numpy_vs_nest", numpy_vs_nest), ("scale", scale),
                     ("cost_scaling", cost_scaling)):
        data = load(name)
        if data is not None:
            parts.append(fn(data))
    return "\n\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    readme = (ROOT / "README.md").read_text()
    head, rest = readme.split(BEGIN)
    _, tail = rest.split(END)
    updated = f"{head}{BEGIN}\n{render()}\n{END}{tail}"
    if args.check:
        sys.exit(0 if updated == readme else "README performance tables are out of date: run benchmarks/readme_tables.py")
    (ROOT / "README.md").write_text(updated)


if __name__ == "__main__":
    main()
