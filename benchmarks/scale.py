"""Scale: a sparse recurrent network emulated in fixed point (Loihi profile, bit-exact event-driven emulator
:mod:`neuroport.emulator.sparse`), one sample, at growing sizes up to 10^6 neurons with ~100 recurrent synapses
per neuron.  Writes results/scale.json and results/scale.png (log-log time per step against neurons, with the
fitted exponent).

    .venv/bin/python benchmarks/scale.py --sizes 10000 100000 1000000 --steps 1000

Network: n LIF neurons (τ_m 20 ms as a 12-bit decay, threshold 200 << 6, refractory 5 steps), fan-in 100
recurrent synapses with weights N(0, 30) (even 8-bit mantissas), and 1000 Poisson inputs at 20 Hz with fan-in
10 and weights N(20, 20) driving it.  Expected cost per step: neurons + spikes × fan-out, i.e. linear in n at a
fixed firing rate — the fitted exponent says whether that holds.

With ``--train``: one sparse float e-prop training step (:mod:`neuroport.training.sparse_eprop`: event-driven
forward pass, per-synapse gradients summed over presynaptic spikes, SGD) per size, each size in a fresh process so
that its peak memory is its own; written under the key ``train`` of results/scale.json (the inference results are
kept) and plotted in results/scale_train.png, with the fitted exponent of time against synapses (expected 1 at a
fixed rate: cost neurons × steps + spikes × fan-out, forward and backward).

    .venv/bin/python benchmarks/scale.py --train --sizes 10000 100000 1000000 2000000 --steps 100 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np

from neuroport import jsonio
from neuroport.emulator.sparse import SparseDense, run_sparse
from neuroport.ir.fixed_graph import FixedNeurons
from neuroport.tasks import Batch
from neuroport.training.sparse_eprop import Csr, SparseNetwork, simulate_sparse, train_step

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


def merge_json(path: Path, entries: dict) -> None:
    """Write ``entries`` into the JSON object at ``path``, keeping its other keys."""
    old = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(jsonio.dumps({**old, **entries}, indent=1))


TRAIN_LR, TRAIN_C_REG, TRAIN_F_TARGET_HZ = 1e-3, 1.0, 10.0


def train_network(n: int, rng: np.random.Generator) -> SparseNetwork:
    """The inference network in float: LIF τ_m 20 ms, v_th 1, 5 ms refractory, 100 recurrent synapses per source
    N(0, 0.15) (mean fan-in 100), input fan-in 10 N(0.1, 0.1); one leaky readout (τ 20 ms, MSE)."""
    full = lambda v: np.full(n, v, dtype=np.float64)  # noqa: E731
    w_in = Csr.random(N_IN, n, IN_FAN_IN * n // N_IN, rng, weight_mean=0.1, weight_std=0.1)
    w_rec = Csr.random(n, n, REC_FAN_IN, rng, weight_mean=0.0, weight_std=0.15, no_self=True)
    kappa = np.array([np.exp(-1 / 20)])
    return SparseNetwork(1.0, full(np.exp(-1 / 20)), full(1.0), full(1.0), full(0.0), np.full(n, 5, np.int64),
                         full(0.3), full(1.0), "piecewise_linear", kappa, "mse", w_in, w_rec,
                         rng.normal(0.0, 1.0 / np.sqrt(n), (1, n)))


def train_batch(steps: int, rng: np.random.Generator) -> Batch:
    """Batch 1: Poisson inputs at 20 Hz, target one period of a sine over the sequence, every step scored."""
    inputs = (rng.random((1, steps, N_IN)) < IN_RATE_HZ * 1e-3).astype(np.uint8)
    target = np.sin(2 * np.pi * np.arange(steps) / steps)[None, :, None]
    return Batch(inputs, target, np.ones((1, steps), dtype=bool))


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def train_one_size(n: int, steps: int, seed: int, repeats: int) -> dict:
    """Build, then time a forward pass alone and a training step (forward + gradients + SGD), batch 1, each the
    fastest of ``repeats``."""
    tiny = np.random.default_rng(1)
    train_step(train_network(1000, tiny), train_batch(5, tiny), TRAIN_LR)  # compile (or load numba's cache)
    rng = np.random.default_rng(seed)
    net, build_s = _timed(train_network, n, rng)
    batch, b_random = train_batch(steps, rng), rng.normal(0.0, 1.0 / np.sqrt(n), (n, 1))
    forward_all, train_all = [], []
    for _ in range(repeats):  # the machine is shared: report the least disturbed of a few repeats
        new = grads = None  # free the previous step's arrays before the next
        forward_all.append(_timed(simulate_sparse, net, batch.inputs[0])[1])
        (new, grads), seconds = _timed(train_step, net, batch, TRAIN_LR, feedback="random", b_random=b_random,
                                       c_reg=TRAIN_C_REG, f_target_hz=TRAIN_F_TARGET_HZ)
        train_all.append(seconds)
    forward_s, train_s = min(forward_all), min(train_all)
    input_events = int(batch.inputs.sum()) * (IN_FAN_IN * n // N_IN)
    state_bytes = net.w_in.nbytes + net.w_rec.nbytes + 2 * 8 * (net.w_in.n_synapses + net.w_rec.n_synapses) + 8 * steps * n
    row = {"neurons": n, "synapses": net.w_in.n_synapses + net.w_rec.n_synapses, "steps": steps, "batch": 1,
           "build_s": build_s, "forward_s": forward_s, "train_s": train_s, "ms_per_step": 1e3 * train_s / steps,
           "forward_ms_per_step": 1e3 * forward_s / steps,
           "train_s_repeats": train_all, "forward_s_repeats": forward_all, "steps_per_s": steps / train_s,
           "real_time_factor": train_s / (steps * 1e-3), "rate_hz": grads.rate_hz, "spikes": grads.n_spikes,
           "synaptic_events": grads.n_spikes * REC_FAN_IN + input_events, "loss": grads.loss,
           "weight_change_rms": float(np.sqrt(np.mean((new.w_rec.weights - net.w_rec.weights) ** 2))),
           "state_gb": state_bytes / 1024**3, "peak_rss_gb": peak_rss_gb()}
    print(f"train n={n:>9,d}: {row['ms_per_step']:8.2f} ms/step (forward {row['forward_ms_per_step']:.2f}), "
          f"{row['real_time_factor']:6.1f}× real time, rate {row['rate_hz']:5.1f} Hz, {row['synapses']:,} synapses, "
          f"peak RSS {row['peak_rss_gb']:.2f} GB", flush=True)
    return row


def train_sizes(sizes: list[int], steps: int, seed: int, repeats: int) -> list[dict]:
    """One fresh process per size (its peak RSS is that size's alone)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    rows = []
    for n in sizes:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            rows.append(pool.submit(train_one_size, n, steps, seed, repeats).result())
    return rows


def write_train(rows: list[dict], out: Path) -> None:
    """Merge the training rows into scale.json (key ``train``) and plot ms per step against synapses."""
    x, y = np.log([r["synapses"] for r in rows]), np.log([r["train_s"] for r in rows])
    exponent = float(np.polyfit(x, y, 1)[0]) if len(rows) > 1 else float("nan")
    out.mkdir(parents=True, exist_ok=True)
    merge_json(out / "scale.json", {"train": {
        "machine": f"{platform.machine()}, python {platform.python_version()}", "rows": rows,
        "what": "one sparse float e-prop step (forward + gradients + SGD), batch 1, LIF, random feedback; "
                "fastest of the repeats (shared 2-core machine)",
        "time_vs_synapses_exponent": exponent, "expected_exponent": 1.0}})
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    syn = [r["synapses"] for r in rows]
    ax.loglog(syn, [r["ms_per_step"] for r in rows], "o-", label=f"training step, exponent {exponent:.2f}")
    ax.loglog(syn, [r["forward_ms_per_step"] for r in rows], "s--", label="forward pass alone")
    ax.set(xlabel="synapses (fan-in ~100)", ylabel="ms per time step (batch 1)", title="sparse float e-prop")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "scale_train.png", dpi=110)
    print(f"training time ∝ synapses^{exponent:.2f} (expected 1 at a fixed rate)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "results"))
    ap.add_argument("--train", action="store_true", help="time sparse float e-prop training steps instead")
    ap.add_argument("--repeats", type=int, default=3, help="--train: timed repeats per size (the fastest is kept)")
    args = ap.parse_args()
    if args.train:
        write_train(train_sizes(args.sizes, args.steps, args.seed, args.repeats), Path(args.out))
        return
    run_sparse(neurons(10), SparseDense.random(N_IN, 10, 2, np.random.default_rng(0), 20, 0),
               SparseDense.random(10, 10, 2, np.random.default_rng(0), 20, 0), np.zeros((2, N_IN), bool))  # compile
    rows = [one_size(n, args.steps, args.seed) for n in args.sizes]
    x, y = np.log([r["neurons"] for r in rows]), np.log([r["run_s"] for r in rows])
    exponent = float(np.polyfit(x, y, 1)[0]) if len(rows) > 1 else float("nan")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"machine": f"{platform.machine()}, python {platform.python_version()}", "rows": rows,
               "time_vs_neurons_exponent": exponent, "expected_exponent": 1.0}
    merge_json(out / "scale.json", summary)
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
