"""Speed of the bit-accurate emulator against Lava's CPU simulation of the same process graph (loihi-sim), like
for like and side by side in one run, bit-exactness checked on the compared runs.

Lava's time is split in three: **start-up** (building the process graph, compiling it and creating the runtime:
one OS process per Lava process), **loop** (Lava's own simulation loop, ``run``) and **I/O** (bulk readback of the
recorded tables and the resets between samples/sequences, backends/loihi/host_io.py).  The emulator is timed
from its set-up (quantized graph in hand; for learning the OnChipTrainer's construction included) to its outputs,
recording what Lava records: inference with every state probed (v, a, z, y of every step); learning with the
readout of every step and the learned weights.  Inference and learning; batch 1 and batched; ratios per step.

    .venv/bin/python benchmarks/emulator_vs_lava.py [--sizes 100,400,1000] [--steps 200] [--batch 64]
        [--lava-batch 4] [--learning-steps 100] [--chips 16]

Learning kernel bound (neuroport/emulator/onchip_kernel.py): per learning step and chip, each engine reads and
writes its tag matrix (t) once and its weight matrix (w) on the rows whose learning signal is non-zero, int16
in the kernel (4 × 2 B per synapse at most), with ≈ 6 integer operations per product term (multiply, two
shifts, two clips, add) and 3 per variable (rounding, range check, mask); the JSON states both counts and the
time the traffic implies at the bandwidth of a numpy copy measured here (CPU time).  The kernel is event-driven
in the presynaptic spikes: a settled engine visits only the columns its traces have touched while they are at most
a third of them (else whole rows, vectorized), so the bound is the upper end.

Inference kernel bound (neuroport/emulator/fixed_kernel.py): per sample-step, each presynaptic event adds one row
of Wᵀ (n_target int16 reads and int64 adds, no multiply for a spike); each neuron ≈ 20 integer operations (two
decays: multiply, add, shift; two saturations; threshold; refractory); the probed states v, a, u (3 × 8 B per
neuron), the spikes (1 B) and the readout (8 B per output) are written.  The JSON states the events, operations
and bytes per step and the time the bytes imply at the copy bandwidth.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from neuroport import jsonio
from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.pipeline import emulate_fixed, quantize, task_batch

ROOT = Path(__file__).resolve().parents[1]
MACHINE = ("shared 2-core machine, loaded by other jobs: absolute times are noisy; Lava and the emulator measured side "
           "by side in one run, the emulator's times the best of a few repeats")
EMULATOR_REPEATS = 5


def sized_model(n: int, tmp: Path) -> Path:
    """The evidence-accumulation example with n recurrent neurons (half LIF, half ALIF)."""
    doc = yaml.safe_load((ROOT / "examples/evidence_accumulation.yaml").read_text())
    doc["populations"][0]["size"] = n // 2
    doc["populations"][1]["size"] = n - n // 2
    path = tmp / f"ea_{n}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def timed(fn, repeats: int = 1):
    """fn's result and its best wall time over ``repeats`` calls (on a loaded machine a short call is often
    descheduled; the best of a few is the cost of the work itself)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def cpu_s() -> float:
    """CPU seconds of this process and of its children that have ended (Lava's processes, once stopped)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def lava_run(fn, steps: int, samples: int):
    """fn(timings)'s result and Lava's start-up (s), loop and I/O per sample-step (ms) — wall times — and the CPU
    time of the whole run (every Lava process) per sample-step, which the load of the machine does not inflate."""
    timings: dict = {}
    cpu0 = cpu_s()
    out = fn(timings)
    per = 1e3 / (steps * samples)
    return out, {"startup_s": timings["startup_s"], "loop_ms_per_step": timings["loop_s"] * per,
                 "io_ms_per_step": timings["io_s"] * per,
                 "total_ms_per_step": (timings["startup_s"] + timings["loop_s"] + timings["io_s"]) * per,
                 "cpu_ms_per_step_all_included": (cpu_s() - cpu0) * per}


def emulator_cpu_ms(fn, steps: int, samples: int) -> float:
    """The emulator's CPU time (all its threads) per sample-step, best of EMULATOR_REPEATS."""
    best = float("inf")
    for _ in range(EMULATOR_REPEATS):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return 1e3 * best / (steps * samples)


def measure_inference(n: int, steps: int, batch: int, lava_batch: int, tmp: Path) -> dict:
    """Lava on ``lava_batch`` samples in one runtime (and on 1), the emulator on 1 and on ``batch``, all states recorded."""
    from neuroport.backends.loihi.runner import run_samples

    graph = load_model(sized_model(n, tmp))
    fixed = quantize(graph, load_hw("loihi2"))
    x = task_batch(graph, batch, seed=5).inputs[:, :steps]
    emulate_fixed(fixed, x[:1, :5], probe_states=True)  # compile once (numba cache), as a user's second run
    lava = {}
    for samples in (1, lava_batch):
        lava[samples] = lava_run(lambda timings, k=samples: run_samples(fixed, x[:k], timings), steps + 1, samples)
    (emu, _), emu_1_s = timed(lambda: emulate_fixed(fixed, x[:1], probe_states=True), EMULATOR_REPEATS)
    (emu_b, _), emu_b_s = timed(lambda: emulate_fixed(fixed, x, probe_states=True), EMULATOR_REPEATS)
    emu_cpu = emulator_cpu_ms(lambda: emulate_fixed(fixed, x[:1], probe_states=True), steps, 1)
    out = lava[lava_batch][0]
    exact = all(np.array_equal(a, b) for a, b in ((out["z"], emu_b.spikes[:lava_batch]), (out["v"], emu_b.states["v"][:lava_batch]),
                                                   (out["a"], emu_b.states["a"][:lava_batch]), (out["y"], emu_b.readout[:lava_batch])))
    exact = exact and np.array_equal(lava[1][0]["z"], emu.spikes)
    row = summary(n, steps, batch, lava, lava_batch, 1e3 * emu_1_s / steps, 1e3 * emu_b_s / (steps * batch), exact,
                  emu_cpu)
    row["kernel_bound"] = inference_bound(fixed, x[:1], emu.spikes)
    return row


def inference_bound(fixed, x: np.ndarray, spikes: np.ndarray) -> dict:
    """Operations and memory traffic of one inference sample-step (module docstring), from the run's own events."""
    steps = x.shape[1]
    n, n_out = fixed.n_rec, fixed.n_out
    events_in, events_rec = x.sum() / steps, spikes.sum() / steps
    adds = events_in * n + events_rec * (n + n_out)
    ops = adds + 20 * n + 4 * n_out
    traffic = 2 * adds + 8 * 3 * n + n + 8 * n_out
    bandwidth = copy_bandwidth()
    return {"input_events_per_step": float(events_in), "spikes_per_step": float(events_rec),
            "synaptic_adds_per_step": float(adds), "integer_ops_per_step": float(ops),
            "bytes_per_step": float(traffic), "copy_bandwidth_gb_s": bandwidth / 1e9,
            "memory_bound_ms_per_step": 1e3 * traffic / bandwidth}


def copy_bandwidth() -> float:
    """Bytes per second (read + write) of a 16 MiB numpy copy, best of a few, in CPU time (the load of the machine
    does not inflate it)."""
    buffer, copy_s = np.ones(2**24 // 8, np.int64), float("inf")
    for _ in range(EMULATOR_REPEATS):
        t0 = time.process_time()
        buffer.copy()
        copy_s = min(copy_s, time.process_time() - t0)
    return 2 * buffer.nbytes / copy_s


def summary(n, steps, batch, lava, lava_batch, emu_1_ms, emu_b_ms, exact, emu_cpu_ms) -> dict:
    one, many = lava[1][1], lava[lava_batch][1]
    loop = one["loop_ms_per_step"]
    return {"neurons": n, "steps": steps, "batch": batch, "lava_batch": lava_batch, "bit_exact": bool(exact),
            "lava": {"batch_1": one, f"batch_{lava_batch}": many},
            "lava_loop_ms_per_step": loop,
            "loihi_sim_ms_per_step": one["loop_ms_per_step"] + one["io_ms_per_step"],
            "loihi_sim_over_loop": (one["loop_ms_per_step"] + one["io_ms_per_step"]) / loop,
            "loihi_sim_batched_over_loop": (many["loop_ms_per_step"] + many["io_ms_per_step"]) / many["loop_ms_per_step"],
            "emulator_ms_per_step_single": emu_1_ms, "emulator_ms_per_sample_step_batched": emu_b_ms,
            "speedup_vs_loop_single": loop / emu_1_ms, "speedup_vs_loop_batched": many["loop_ms_per_step"] / emu_b_ms,
            "speedup_vs_total_single": one["total_ms_per_step"] / emu_1_ms,
            "emulator_cpu_ms_per_step_single": emu_cpu_ms,
            "cpu_ratio_single": one["cpu_ms_per_step_all_included"] / emu_cpu_ms}


def learning_batch(graph, steps: int, samples: int):
    """``samples`` sequences cut to ``steps`` steps, the error counted over their last quarter (as a recall window)."""
    from neuroport.tasks import Batch

    b = task_batch(graph, samples, seed=5)
    mask = b.loss_mask[:, :steps].copy()
    mask[:, -steps // 4:] = True
    return Batch(b.inputs[:, :steps], b.targets[:, :steps], mask, b.labels)


def measure_learning(n: int, steps: int, chips: int, lava_sequences: int, tmp: Path) -> dict:
    """Lava: one chip streaming 1 and ``lava_sequences`` sequences; the emulator: one chip (its construction
    timed) and ``chips`` chips at once; readout and weights compared exactly."""
    from neuroport.backends.loihi.onchip import LavaOnChipNetwork

    from neuroport.training.onchip import onchip_setup

    graph = load_model(sized_model(n, tmp))
    chip = onchip_setup(graph)
    fixed, rule, tau_m, tau_out = chip.fixed, chip.rule, chip.tau_m_steps, chip.tau_out_steps
    stream, many = learning_batch(graph, steps, lava_sequences), learning_batch(graph, steps, chips)
    one = sub_batch(stream, 1)
    chip.trainer(1).run(sub_batch(one, 1, 5))  # compile once (numba cache), as a user's second run
    lava = {}
    for count in (1, lava_sequences):
        network = lambda timings, k=count: LavaOnChipNetwork(  # noqa: E731
            fixed, rule, sub_batch(stream, k), tau_m, tau_out, record_spikes=False).train(k, timings=timings)
        lava[count] = lava_run(network, steps + 1, count)

    def emulator_one():
        trainer = chip.trainer(1)
        readout = trainer.run(one).readout
        return trainer, readout

    (single, readout), emu_1_s = timed(emulator_one, EMULATOR_REPEATS)
    _, emu_b_s = timed(lambda: chip.trainer(chips).run(many), EMULATOR_REPEATS)
    first = lava[1][0]
    exact = np.array_equal(first.readout, readout) and all(np.array_equal(first.weights[k], single.weights(k)[0])
                                                            for k in first.weights)
    emu_cpu = emulator_cpu_ms(emulator_one, steps + 1, 1)
    row = summary(n, steps, chips, lava, lava_sequences, 1e3 * emu_1_s / (steps + 1), 1e3 * emu_b_s / ((steps + 1) * chips),
                  exact, emu_cpu)
    row["chips"] = row.pop("batch")
    row["bit_exact_weights"] = row.pop("bit_exact")
    row["kernel_bound"] = kernel_bound(single)
    return row


def sub_batch(batch, count: int, steps: int | None = None):
    from neuroport.tasks import Batch

    return Batch(batch.inputs[:count, :steps], batch.targets[:count, :steps], batch.loss_mask[:count, :steps])


def kernel_bound(trainer) -> dict:
    """Memory traffic and integer operations of one learning step of one chip at most (module docstring), and the
    time the traffic implies at the bandwidth of a numpy copy measured here (CPU time); compare with
    ``emulator_cpu_ms_per_step_single``."""
    from neuroport.emulator.loihi_learning import _table
    from neuroport.emulator.onchip_kernel import SYNAPSE_DTYPE

    synapses = products = 0
    for engine in trainer.engines.values():
        size = int(engine.state.w[0].size)
        synapses += size
        products += size * int(_table(engine.rule)[1].sum())
    bandwidth = copy_bandwidth()
    traffic = 4 * np.dtype(SYNAPSE_DTYPE).itemsize * synapses  # read w, t; write w, t
    return {"synapses": synapses, "bytes_per_step_max": traffic, "copy_bandwidth_gb_s": bandwidth / 1e9,
            "memory_bound_ms_per_step": 1e3 * traffic / bandwidth, "product_terms_per_step_max": products,
            "integer_ops_per_step_max": 6 * products + 3 * 2 * synapses}


def report(rows: list[dict], learning: list[dict]) -> None:
    for r in rows + learning:
        kind = "learning " if "chips" in r else "inference"
        one = r["lava"]["batch_1"]
        print(f"{kind} N={r['neurons']:4d}  Lava start-up {one['startup_s']:.1f} s, loop {one['loop_ms_per_step']:.2f} "
              f"ms/step, I/O {one['io_ms_per_step']:.3f} ms/step (loihi-sim/loop ×{r['loihi_sim_over_loop']:.2f})  "
              f"emulator {r['emulator_ms_per_step_single']:.4f} ms/step → ×{r['speedup_vs_loop_single']:.0f} vs Lava's "
              f"loop, batched ×{r['speedup_vs_loop_batched']:.0f}; CPU time ×{r['cpu_ratio_single']:.0f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=64, help="emulator batch (inference)")
    ap.add_argument("--lava-batch", type=int, default=4, help="samples/sequences Lava runs in one runtime")
    ap.add_argument("--sizes", default="100,400,1000")
    ap.add_argument("--learning-steps", type=int, default=100, help="steps of the learning comparison (0: skip it)")
    ap.add_argument("--chips", type=int, default=16, help="chips learning at once in the batched learning run")
    ap.add_argument("--out", default=str(ROOT / "results"))
    args = ap.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    rows, learning = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            rows.append(measure_inference(n, args.steps, args.batch, args.lava_batch, Path(tmp)))
            report(rows[-1:], [])
            if args.learning_steps:
                learning.append(measure_learning(n, args.learning_steps, args.chips, args.lava_batch, Path(tmp)))
                report([], learning[-1:])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jsonio.write_json(out / "emulator_vs_lava.json", {"machine": MACHINE, "rows": rows, "learning": learning}, indent=1)


if __name__ == "__main__":
    main()
