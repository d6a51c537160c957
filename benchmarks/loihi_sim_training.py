"""On-chip e-prop on loihi-sim: one chip (Lava processes with Lava's learning engine) streams training sequences
of a task and learns at every step; the emulator's OnChipTrainer streams the same sequences.  At every checkpoint
the two chips' weights are compared exactly, and the weights are scored with learning off on a held-out batch
(the emulator runs the frozen network; it equals loihi-sim inference bit for bit, ``neuroport verify``).
Writes results/loihi_sim_training.{json,png} (``--stem``), with Lava's start-up, simulation loop and host I/O
(bulk, backends/loihi/host_io.py) timed apart.

Lava runs ~10 ms per chip step (a 2250-step evidence-accumulation sequence takes ~20 s), so ``--warmup N`` lets
the emulator stream the first N sequences; both chips then continue from those weights (with fresh learning-engine
random streams, as a chip loaded with them would) over the next ``--sequences``.

    .venv/bin/python benchmarks/loihi_sim_training.py [--model examples/evidence_accumulation.yaml]
        [--warmup 250] [--sequences 150] [--eval-every 25] [--held-out 64] [--rates JSON (default: BEST_RATES)]
        [--stem loihi_sim_training]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from neuroport.quantization.loihi import lava_dense_weights
from onchip_vs_float import BEST_RATES  # the best on-chip rule for evidence accumulation (results/onchip_vs_float.md)

from neuroport import jsonio
from neuroport.emulator.fixed import emulate
from neuroport.emulator.onchip import OnChipTrainer
from neuroport.ir import load_model
from neuroport.ir.network import assemble
from neuroport.tasks import Batch, task_of
from neuroport.training.eprop import draw_batches
from neuroport.training.onchip import HELD_OUT_SEED, onchip_setup, sequence_stats

ROOT = Path(__file__).resolve().parents[1]


def score(fixed, weights: dict, held_out: Batch, net) -> dict:
    """Held-out error and readout MSE of the frozen network with ``weights`` (the on-chip readout alignment)."""
    learned = replace(fixed, **{k: replace(getattr(fixed, k), weights=w) for k, w in weights.items()})
    padded = np.concatenate([held_out.inputs, np.zeros_like(held_out.inputs[:, :1])], axis=1)
    trace, _ = emulate(learned, padded, probe_states=False)
    y = trace.readout[:, 1:] / fixed.v_scale
    stats = sequence_stats(0, net.loss, y, held_out, int(trace.spikes.sum()), fixed.n_rec, net.dt_ms)
    return {"error": stats.error, "mse": stats.loss, "rate_hz": stats.rate_hz}


def sequences(batch: Batch, start: int, stop: int) -> Batch:
    return Batch(batch.inputs[start:stop], batch.targets[start:stop], batch.loss_mask[start:stop])


def with_weights(fixed, weights: dict):
    """The graph with learned ``weights`` as a chip loaded with them holds them (Lava's Dense drops the last bit of
    mixed-sign initial weights; learned ones are not truncated again until a reload)."""
    return replace(fixed, **{k: replace(getattr(fixed, k), weights=lava_dense_weights(w)) for k, w in weights.items()})


def warm_up(fixed, rule, stream: Batch, n: int, tau_m: float, tau_out: float):
    """The emulator streams the first ``n`` sequences through one chip; returns the graph with its weights."""
    chip = OnChipTrainer(fixed, rule, 1, tau_m, tau_out)
    for k in range(n):
        chip.run(sequences(stream, k, k + 1))
    return with_weights(fixed, {name: chip.weights(name)[0] for name in fixed.dense()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "examples/evidence_accumulation.yaml"))
    ap.add_argument("--warmup", type=int, default=250, help="sequences streamed by the emulator first")
    ap.add_argument("--sequences", type=int, default=150, help="sequences streamed by loihi-sim (and the emulator)")
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--held-out", type=int, default=64)
    ap.add_argument("--rates", default=json.dumps(BEST_RATES), help="OnChipRule overrides as JSON")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "results"))
    ap.add_argument("--stem", default="loihi_sim_training", help="output file names (STEM.json, STEM.png)")
    args = ap.parse_args()
    from neuroport.backends.loihi.onchip import LavaOnChipNetwork

    graph = load_model(Path(args.model))
    net, chip = assemble(graph), onchip_setup(graph, rates=json.loads(args.rates))
    fixed, rule, tau_m, tau_out = chip.fixed, chip.rule, chip.tau_m_steps, chip.tau_out_steps
    stream = draw_batches(graph, args.warmup + args.sequences, seed=args.seed, batch_size=1)
    stream = Batch(*(np.concatenate([getattr(b, f) for b in stream]) for f in ("inputs", "targets", "loss_mask")))
    held_out = task_of(graph).batch(np.random.default_rng(HELD_OUT_SEED), args.held_out)
    fixed = warm_up(fixed, rule, stream, args.warmup, tau_m, tau_out)
    train = sequences(stream, args.warmup, args.warmup + args.sequences)
    emulator = OnChipTrainer(fixed, rule, 1, tau_m, tau_out)
    start = {k: d.weights for k, d in fixed.dense().items()}
    curve = [{"sequences": args.warmup, "exact": True, **score(fixed, start, held_out, net)}]
    print(f"{args.warmup:4d} sequences (emulator warm-up)  held-out error {curve[0]['error']:.3f}", flush=True)
    t0 = time.perf_counter()

    def checkpoint(k: int, chip) -> None:
        emulator.run(sequences(train, k, k + 1))
        if (k + 1) % args.eval_every and k + 1 != args.sequences:
            return
        lava_w = chip.weights()
        exact = all(np.array_equal(lava_w[n], emulator.weights(n)[0]) for n in lava_w)
        curve.append({"sequences": args.warmup + k + 1, "exact": exact, "lava_s": time.perf_counter() - t0,
                      **score(fixed, lava_w, held_out, net)})
        print(f"{args.warmup + k + 1:4d} sequences  Lava == emulator: {exact}  held-out error {curve[-1]['error']:.3f}  "
              f"MSE {curve[-1]['mse']:.4f}  ({curve[-1]['lava_s']:.0f} s)", flush=True)

    timings: dict = {}
    LavaOnChipNetwork(fixed, rule, train, tau_m, tau_out, record_spikes=False).train(args.sequences, checkpoint, timings)
    steps = args.sequences * (train.n_steps + 1)
    lava = {**timings, "wall_s": time.perf_counter() - t0, "s_per_sequence": (time.perf_counter() - t0) / args.sequences,
            "loop_ms_per_step": 1e3 * timings["loop_s"] / steps, "io_ms_per_step": 1e3 * timings["io_s"] / steps}
    print(f"Lava: start-up {timings['startup_s']:.1f} s, loop {lava['loop_ms_per_step']:.2f} ms/step, host I/O "
          f"{lava['io_ms_per_step']:.3f} ms/step, {lava['s_per_sequence']:.1f} s per sequence (checkpoints included)")
    write(curve, args, Path(args.out), graph.name, lava)


def write(curve: list[dict], args, out: Path, name: str, lava: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    payload = {"model": name, "warmup_sequences_emulator": args.warmup, "sequences_loihi_sim": args.sequences,
               "held_out": args.held_out, "rates": json.loads(args.rates),
               "all_checkpoints_bit_exact": all(c["exact"] for c in curve), "lava": lava, "curve": curve}
    (out / f"{args.stem}.json").write_text(jsonio.dumps(payload, indent=1))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([c["sequences"] for c in curve], [100 * c["error"] for c in curve], "o-", label="loihi-sim (Lava), one chip")
    ax.axvline(args.warmup, color="grey", lw=0.8, ls="--")
    ax.text(args.warmup, ax.get_ylim()[1], " emulator warm-up ends", va="top", fontsize=8, color="grey")
    ax.set_xlabel("training sequences streamed through the chip")
    ax.set_ylabel(f"held-out error, % ({args.held_out} samples)")
    ax.set_title(f"{name}: on-chip e-prop on loihi-sim")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / f"{args.stem}.png", dpi=120)


if __name__ == "__main__":
    main()
