"""Speed of the bit-accurate emulator against Lava's CPU simulation of the same process graph (loihi-sim),
measured side by side in one run, bit-exactness checked on the compared sample.  Writes results/emulator_vs_lava.json.

    .venv/bin/python benchmarks/emulator_vs_lava.py [--steps 500] [--batch 64] [--sizes 100,200,400]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--sizes", default="100,200,400")
    ap.add_argument("--out", default=str(ROOT / "results"))
    args = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(int(n), args.steps, args.batch, Path(tmp)) for n in args.sizes.split(",")]
    for r in rows:
        print(f"N={r['neurons']:4d}  bit_exact={r['bit_exact']}  Lava {r['lava_ms_per_sample_step']:.3f} ms/step  "
              f"emulator {r['emulator_ms_per_sample_step_single']:.4f} (single) {r['emulator_ms_per_sample_step_batched']:.5f} "
              f"(batch {r['batch']}) ms/sample-step  → ×{r['speedup_single']:.0f} single, ×{r['speedup_batched_throughput']:.0f} batched")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "emulator_vs_lava.json").write_text(json.dumps({"machine": "2-core shared machine", "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
