"""Scale: a sparse recurrent network emulated in fixed point (Loihi profile, bit-exact event-driven emulator
:mod:`neuroport.emulator.sparse`), one sample, at growing sizes up to 10^6 neurons with ~100 recurrent synapses
per neuron.  Writes results/scale.json and results/scale.png (log-log time per step against neurons, with the
fitted exponent).

    .venv/bin/python benchmarks/scale.py --sizes 10000 100000 1000000 --steps 1000

Network: n LIF neurons (τ_m 20 ms as a 12-bit decay, threshold 200 << 6, refractory 5 steps), fan-in 100
recurrent synapses with weights N(0, 30) (even 8-bit mantissas), and 1000 Poisson inputs at 20 Hz with fan-in
10 and weights N(20, 20) driving it.  Expected cost per step: neurons + spikes × fan-out, i.e. linear in n at a
fixed firing rate — the fitted exponent says whether that holds.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np

from neuroport.emulator.sparse import SparseDense, run_sparse
from neuroport.ir.fixed_graph import FixedNeurons

ROOT = Path(__file__).resolve().parents[1]
N_IN, IN_RATE_HZ, IN_FAN_IN, REC_FAN_IN = 1000, 20.0, 10, 100


def neurons(n: int) -> FixedNeurons:
    full = lambda v: np.full(n, v, dtype=np.int64)  # noqa: E731
    return FixedNeurons(kind="alif", dv=full(200), vth=full(200), da=full(0), a_inc=full(0), n_ref=full(5),
                        du=full(0), bias=full(0), populations=(("lif", "lif", 0, n),))


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: kB


def one_size(n: int, steps: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    w_in = SparseDense.random(N_IN, n, IN_FAN_IN, rng, weight_std=20, weight_exp=0, weight_mean=20)
    w_rec = SparseDense.random(n, n, REC_FAN_IN, rng, weight_std=30, weight_exp=0, no_self=True)
    inputs = rng.random((steps, N_IN)) < IN_RATE_HZ * 1e-3
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    run = run_sparse(neurons(n), w_in, w_rec, inputs)
    seconds = time.perf_counter() - t0
    spikes = int(run.spike_steps.size)
    row = {"neurons": n, "synapses": w_in.n_synapses + w_rec.n_synapses, "steps": steps, "build_s": build,
           "run_s": seconds, "ms_per_step": 1e3 * seconds / steps, "steps_per_s": steps / seconds,
           "real_time_factor": seconds / (steps * 1e-3), "spikes": spikes, "rate_hz": spikes / (n * steps * 1e-3),
           "synaptic_events": int(run.synaptic_events), "saturation_events": int(run.saturation_events),
           "synapse_bytes": int(w_in.indices.nbytes + w_in.weights.nbytes + w_rec.indices.nbytes + w_rec.weights.nbytes),
           "peak_rss_gb": peak_rss_gb()}
    print(f"n={n:>9,d}: {row['ms_per_step']:8.2f} ms/step, {row['real_time_factor']:6.2f}× real time, "
          f"rate {row['rate_hz']:5.1f} Hz, {row['synapses']:,} synapses, peak RSS {row['peak_rss_gb']:.1f} GB", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "results"))
    args = ap.parse_args()
    run_sparse(neurons(10), SparseDense.random(N_IN, 10, 2, np.random.default_rng(0), 20, 0),
               SparseDense.random(10, 10, 2, np.random.default_rng(0), 20, 0), np.zeros((2, N_IN), bool))  # compile
    rows = [one_size(n, args.steps, args.seed) for n in args.sizes]
    x, y = np.log([r["neurons"] for r in rows]), np.log([r["run_s"] for r in rows])
    exponent = float(np.polyfit(x, y, 1)[0]) if len(rows) > 1 else float("nan")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"machine": f"{platform.machine()}, python {platform.python_version()}", "rows": rows,
               "time_vs_neurons_exponent": exponent, "expected_exponent": 1.0}
    (out / "scale.json").write_text(json.dumps(summary, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.loglog([r["neurons"] for r in rows], [r["ms_per_step"] for r in rows], "o-", label=f"fitted exponent {exponent:.2f}")
    ax.set(xlabel="neurons (fan-in 100)", ylabel="ms per step (one sample)", title="sparse fixed-point emulation")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "scale.png", dpi=110)
    print(f"time ∝ neurons^{exponent:.2f} (expected 1 at a fixed rate)")


if __name__ == "__main__":
    main()
