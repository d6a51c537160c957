"""Speed of the bit-accurate emulator against Lava's CPU simulation of the same process graph (loihi-sim),
measured side by side in one run, bit-exactness checked on the compared runs.  Inference: the plain network;
learning: on-chip e-prop (Lava's LearningDense/LearningSparse + neuroport's learning neuron and error readout
against the emulator's OnChipTrainer), the learned weights compared exactly.  Writes results/emulator_vs_lava.json.

    .venv/bin/python benchmarks/emulator_vs_lava.py [--steps 500] [--batch 64] [--sizes 100,200,400] [--learning-steps 300]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from neuroport import jsonio
from neuroport.backend import load_backend
from neuroport.emulator.fixed import emulate
from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.pipeline import quantize, task_batch

ROOT = Path(__file__).resolve().parents[1]


def sized_model(n: int, tmp: Path) -> Path:
    """The evidence-accumulation example with n recurrent neurons (half LIF, half ALIF)."""
    doc = yaml.safe_load((ROOT / "examples/evidence_accumulation.yaml").read_text())
    doc["populations"][0]["size"] = n // 2
    doc["populations"][1]["size"] = n - n // 2
    path = tmp / f"ea_{n}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def measure(n: int, steps: int, batch: int, tmp: Path) -> dict:
    graph = load_model(sized_model(n, tmp))
    fixed = quantize(graph, load_hw("loihi2"))
    x = task_batch(graph, batch, seed=5).inputs[:, :steps]
    backend = load_backend("loihi-sim")
    t0 = time.perf_counter()
    check = backend.verify_against_emulator(fixed, x[:1], max_samples=1)  # one Lava run + one emulator run
    t_check = time.perf_counter() - t0
    t0 = time.perf_counter()
    backend.run(backend.lower(fixed, load_hw("loihi2")), x[:1])
    lava_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    emulate(fixed, x[:1], probe_states=False)
    emu_single_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    emulate(fixed, x, probe_states=False)
    emu_batch_s = time.perf_counter() - t0
    per = lambda s, samples: s / (steps * samples)  # noqa: E731
    return {
        "neurons": n, "steps": steps, "batch": batch, "bit_exact": check["bit_exact"], "check_seconds": t_check,
        "lava_ms_per_sample_step": 1e3 * per(lava_s, 1),
        "emulator_ms_per_sample_step_single": 1e3 * per(emu_single_s, 1),
        "emulator_ms_per_sample_step_batched": 1e3 * per(emu_batch_s, batch),
        "speedup_single": lava_s / emu_single_s,
        "speedup_batched_throughput": per(lava_s, 1) / per(emu_batch_s, batch),
        "note": "Lava time includes compiling and starting its runtime (one OS process per Lava process), as a user pays it",
    }


def learning_batch(graph, steps: int, samples: int):
    """``samples`` sequences cut to ``steps`` steps, the error counted over their last quarter (as a recall window)."""
    from neuroport.tasks import Batch

    b = task_batch(graph, samples, seed=5)
    mask = b.loss_mask[:, :steps].copy()
    mask[:, -steps // 4:] = True
    return Batch(b.inputs[:, :steps], b.targets[:, :steps], mask, b.labels)


def measure_learning(n: int, steps: int, chips: int, tmp: Path) -> dict:
    """One chip learning one sequence in Lava and in the emulator (weights compared), and ``chips`` chips at once."""

    from neuroport.backends.loihi.onchip import train_on_loihi_sim

    from neuroport.training.onchip import onchip_setup

    graph = load_model(sized_model(n, tmp))
    chip = onchip_setup(graph)
    fixed, rule, tau_m, tau_out = chip.fixed, chip.rule, chip.tau_m_steps, chip.tau_out_steps
    one, many = learning_batch(graph, steps, 1), learning_batch(graph, steps, chips)
    t0 = time.perf_counter()
    lava = train_on_loihi_sim(fixed, rule, one, tau_m, tau_out)
    lava_s = time.perf_counter() - t0
    chip.trainer(1).run(one)  # compile once (numba cache)
    single = chip.trainer(1)
    t0 = time.perf_counter()
    single.run(one)
    emu_single_s = time.perf_counter() - t0
    batched = chip.trainer(chips)
    t0 = time.perf_counter()
    batched.run(many)
    emu_batch_s = time.perf_counter() - t0
    exact = all((lava.weights[k] == single.weights(k)[0]).all() for k in lava.weights)
    per = lambda s, samples: s / ((steps + 1) * samples)  # noqa: E731
    return {
        "neurons": n, "steps": steps, "chips": chips, "bit_exact_weights": bool(exact),
        "lava_ms_per_sample_step": 1e3 * per(lava_s, 1),
        "emulator_ms_per_sample_step_single": 1e3 * per(emu_single_s, 1),
        "emulator_ms_per_sample_step_batched": 1e3 * per(emu_batch_s, chips),
        "speedup_single": lava_s / emu_single_s,
        "speedup_batched_throughput": per(lava_s, 1) / per(emu_batch_s, chips),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--sizes", default="100,200,400")
    ap.add_argument("--learning-steps", type=int, default=300, help="steps of the learning comparison (0: skip it)")
    ap.add_argument("--chips", type=int, default=16, help="chips learning at once in the batched learning run")
    ap.add_argument("--out", default=str(ROOT / "results"))
    args = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        sizes = [int(n) for n in args.sizes.split(",")]
        rows = [measure(n, args.steps, args.batch, Path(tmp)) for n in sizes]
        learning = [measure_learning(n, args.learning_steps, args.chips, Path(tmp)) for n in sizes] if args.learning_steps else []
    for r in rows:
        print(f"N={r['neurons']:4d}  bit_exact={r['bit_exact']}  Lava {r['lava_ms_per_sample_step']:.3f} ms/step  "
              f"emulator {r['emulator_ms_per_sample_step_single']:.4f} (single) {r['emulator_ms_per_sample_step_batched']:.5f} "
              f"(batch {r['batch']}) ms/sample-step  → ×{r['speedup_single']:.0f} single, ×{r['speedup_batched_throughput']:.0f} batched")
    for r in learning:
        print(f"learning N={r['neurons']:4d}  weights bit_exact={r['bit_exact_weights']}  Lava {r['lava_ms_per_sample_step']:.2f} "
              f"ms/step  emulator {r['emulator_ms_per_sample_step_single']:.4f} (single) "
              f"{r['emulator_ms_per_sample_step_batched']:.5f} ({r['chips']} chips) ms/sample-step  "
              f"→ ×{r['speedup_single']:.0f} single, ×{r['speedup_batched_throughput']:.0f} batched")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "emulator_vs_lava.json").write_text(jsonio.dumps({"machine": "2-core shared machine", "rows": rows,
                                                            "learning": learning}, indent=1))


if __name__ == "__main__":
    main()
