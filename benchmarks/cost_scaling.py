"""How the cost of one numpy e-prop iteration (simulation + gradients) grows with neurons, batch and sequence
length; log-log fits.  Writes results/cost_scaling.json and results/cost_scaling.png.

    .venv/bin/python benchmarks/cost_scaling.py

Random LIF/ALIF networks (half each, dense recurrent, 40 Poisson inputs at 20 Hz, 2 readouts, MSE), one
variable at a time around N = 100, batch 16, T = 500 steps; best of 3 per point.  What the algorithm predicts:
time ∝ T (every pass is a walk through time) and ∝ batch (samples are independent; 2 cores only shift the
constant); in N between 1 (the per-neuron passes dominate) and 2 (spikes × fan-out and the N² gradient
accumulators dominate, dense recurrence).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from neuroport import jsonio
from neuroport.ir.learning_rule import EpropRule, Optimizer
from neuroport.ir.network import Network
from neuroport.tasks import Batch
from neuroport.training.eprop import eprop_gradients

ROOT = Path(__file__).resolve().parents[1]
BASE = {"neurons": 100, "batch": 16, "steps": 500}
SWEEPS = {"neurons": [50, 100, 200, 400, 800], "batch": [4, 8, 16, 32, 64], "steps": [250, 500, 1000, 2000, 4000]}


def network(n: int, rng: np.random.Generator) -> Network:
    full = lambda v: np.full(n, float(v))  # noqa: E731
    alif = np.arange(n) >= n // 2
    w_in, w_rec = rng.normal(0, 1 / np.sqrt(40), (n, 40)), rng.normal(0, 1 / np.sqrt(n), (n, n))
    np.fill_diagonal(w_rec, 0)
    w_out = rng.normal(0, 1 / np.sqrt(n), (2, n))
    return Network(dt_ms=1.0, n_in=40, n_rec=n, n_out=2, tau_m_ms=full(20), v_th=full(0.6), t_ref_ms=full(5),
                   beta=np.where(alif, 0.0174, 0.0), tau_a_ms=np.where(alif, 2000.0, np.inf), surrogate_gamma=full(0.3),
                   surrogate_beta=full(1.0), surrogate_function="piecewise_linear", tau_out_ms=np.full(2, 20.0), loss="mse",
                   w_in=w_in, w_rec=w_rec, w_out=w_out, w_in_mask=np.ones(w_in.shape, bool), w_rec_mask=w_rec != 0,
                   w_out_mask=np.ones(w_out.shape, bool), w_in_plastic=np.ones(w_in.shape, bool), w_rec_plastic=w_rec != 0,
                   w_out_plastic=np.ones(w_out.shape, bool))


def seconds_per_iteration(neurons: int, batch: int, steps: int) -> float:
    rng = np.random.default_rng(0)
    net = network(neurons, rng)
    x = (rng.random((batch, steps, 40)) < 0.02).astype(np.uint8)
    data = Batch(x, rng.normal(0, 1, (batch, steps, 2)), np.ones((batch, steps), bool))
    rule = EpropRule(feedback="random", feedback_weights=rng.normal(0, 1, (neurons, 2)), optimizer=Optimizer())
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        eprop_gradients(net, rule, rule.feedback_weights, data)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    seconds_per_iteration(20, 2, 20)  # load the compiled kernels
    results = {}
    for name, values in SWEEPS.items():
        times = [seconds_per_iteration(**{**BASE, name: v}) for v in values]
        exponent = float(np.polyfit(np.log(values), np.log(times), 1)[0])
        results[name] = {"values": values, "seconds": times, "exponent": exponent}
        print(f"{name:8s} {values} → {[f'{t:.3f}' for t in times]} s, exponent {exponent:.2f}", flush=True)
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "cost_scaling.json").write_text(jsonio.dumps({"base": BASE, "sweeps": results}, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for ax, (name, r) in zip(axes, results.items(), strict=True):
        ax.loglog(r["values"], r["seconds"], "o-")
        ax.set(xlabel=name, ylabel="s per iteration", title=f"exponent {r['exponent']:.2f}")
    fig.suptitle(f"numpy e-prop, one iteration (base {BASE})")
    fig.tight_layout()
    fig.savefig(out / "cost_scaling.png", dpi=110)


if __name__ == "__main__":
    main()
