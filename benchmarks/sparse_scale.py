"""Sparse IR at scale: the CLI on generated models of growing size (fan-in 100), time and peak memory per command.

For each size n, a model file with connectivity rules is written (n/2 LIF + n/2 ALIF neurons, 40 inputs with
fan-in 10, recurrent fan-in 100 without self-connections, readout fan-in 1000, the evidence-accumulation task),
and each command runs in a fresh process so that its peak memory (ru_maxrss) is its own:

    check MODEL · compile MODEL --target loihi-sim · verify MODEL --target emulator · report MODEL · train MODEL -i 2
    emulate: the event-driven emulator alone, one sample of 100 steps (ms per step in wall and in CPU time,
             × real time at dt = 1 ms)

CPU s is the process's user + system time, interpreter start and imports included (about 0.4 s): on a shared
machine it is the steadier figure; wall s runs from the CLI call to its end.  Writes results/sparse_scale.json and prints a Markdown table (seconds and GB per command and size).  Timings on a
shared machine are noisy; compare sizes measured in one run.

    .venv/bin/python benchmarks/sparse_scale.py --sizes 1000 10000 100000
    .venv/bin/python benchmarks/sparse_scale.py --sizes 1000000 --commands check compile
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from neuroport import jsonio

ROOT = Path(__file__).resolve().parents[1]
REC_FAN_IN, IN_FAN_IN, OUT_FAN_IN = 100, 10, 1000
COMMANDS = {
    "check": ["check", "{model}"],
    "compile": ["compile", "{model}", "--target", "loihi-sim", "--samples", "1", "-o", "{folder}/artifact"],
    "verify": ["verify", "{model}", "--target", "emulator", "--samples", "{samples}"],
    "report": ["report", "{model}", "--samples", "{samples}"],
    "train": ["train", "{model}", "-i", "2", "-o", "{folder}/trained"],
}
# one command in a fresh interpreter: wall time of the CLI call, the process's CPU time (user + system, less
# sensitive to other load on a shared machine) and its own peak memory
RUNNER = """
import json, resource, sys, time
from neuroport import jsonio
from neuroport.cli import main
t0 = time.perf_counter()
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code or 0
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_s": use.ru_utime + use.ru_stime, "rc": code,
                  "peak_gb": use.ru_maxrss / 1024**2}))
"""


# the event-driven emulator alone: quantize (no calibration), then one sample of STEPS steps with Poisson input at
# 20 Hz per channel, timed after a warm-up run (numba compilation); ms per step and × real time (dt = 1 ms)
EMULATE = """
import json, resource, sys, time
import numpy as np
from neuroport.emulator.sparse import emulate_sparse
from neuroport.hw import load_hw
from neuroport.ir.loader import load_model
from neuroport.pipeline import quantize
path, steps = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
fixed = quantize(load_model(path), load_hw("loihi2"), calibrate=False)
x = (np.random.default_rng(0).random((1, steps, fixed.n_in)) < 0.02).astype(np.int64)
emulate_sparse(fixed, x[:, :2], probe_states=False)
t1, c1 = time.perf_counter(), time.process_time()
trace, stats = emulate_sparse(fixed, x, probe_states=False)
run_s, run_cpu_s = time.perf_counter() - t1, time.process_time() - c1
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_s": use.ru_utime + use.ru_stime, "rc": 0,
                  "peak_gb": use.ru_maxrss / 1024**2, "ms_per_step": 1e3 * run_s / steps,
                  "cpu_ms_per_step": 1e3 * run_cpu_s / steps,
                  "x_real_time": 1e-3 / (run_s / steps), "rate_hz": float(trace.spikes.mean()) * 1e3}))
"""
STEPS = 100


def model(n: int) -> dict:
    """The generated model of ``n`` recurrent neurons (module docstring)."""
    rule = lambda **kw: {"connectivity": kw, "init": {"distribution": "normal", "gain": 1.0}}  # noqa: E731
    lif = {"tau_m_ms": 20.0, "v_th": 0.6, "t_ref_ms": 5.0}
    return {
        "neuroport": 1, "name": f"sparse_{n}", "dt_ms": 1.0, "seed": 1, "input": {"name": "cues", "size": 40},
        "populations": [{"name": "lif", "model": "lif", "size": n // 2, **lif},
                        {"name": "alif", "model": "alif", "size": n - n // 2, **lif, "tau_a_ms": 2000.0, "beta": 0.0174}],
        "readout": {"name": "decision", "size": 2, "tau_out_ms": 20.0, "loss": "cross_entropy"},
        "projections": [
            {"name": "input", "source": "cues", "target": ["lif", "alif"], **rule(rule="fixed_fan_in", fan_in=IN_FAN_IN)},
            {"name": "recurrent", "source": ["lif", "alif"], "target": ["lif", "alif"],
             **rule(rule="fixed_fan_in", fan_in=REC_FAN_IN, self_connections=False)},
            {"name": "output", "source": ["lif", "alif"], "target": "decision",
             **rule(rule="fixed_fan_in", fan_in=min(OUT_FAN_IN, n))}],
        "learning": {"variant": "bsshslm_2020", "feedback": "random", "optimizer": {"name": "sgd", "learning_rate": 0.005},
                     "batch_size": 2},
        "task": {"name": "evidence_accumulation",
                 "params": {"n_cues": 3, "cue_ms": 20, "gap_ms": 10, "delay_ms": 30, "recall_ms": 20}},
    }


def run_command(args: list[str], timeout_s: float, script: str = RUNNER) -> dict:
    try:
        done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=timeout_s,
                              cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"seconds": timeout_s, "cpu_s": None, "rc": "timeout", "peak_gb": None}
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"seconds": None, "cpu_s": None, "rc": done.returncode, "peak_gb": None, "error": done.stderr.strip()[-300:]}
    if result["rc"]:
        result["error"] = done.stderr.strip()[-300:]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--commands", nargs="+", default=[*COMMANDS, "emulate"], choices=[*COMMANDS, "emulate"])
    ap.add_argument("--samples", type=int, default=4, help="task samples for verify and report")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per command")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "sparse_scale.json")
    opts = ap.parse_args()
    rows = []
    for n in opts.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.yaml"
            path.write_text(yaml.safe_dump(model(n), sort_keys=False))
            for name in opts.commands:
                if name == "emulate":
                    measured = run_command([str(path), str(STEPS)], opts.timeout, EMULATE)
                else:
                    measured = run_command([a.format(model=path, folder=tmp, samples=opts.samples) for a in COMMANDS[name]],
                                           opts.timeout)
                result = {"neurons": n, "synapses": n * (REC_FAN_IN + IN_FAN_IN) + 2 * min(OUT_FAN_IN, n),
                          "command": name, **measured}
                rows.append(result)
                print(json.dumps(result), flush=True)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    jsonio.write_json(opts.out, {"machine": platform.platform(), "python": platform.python_version(),
                                 "samples": opts.samples, "rows": rows})
    print("\n| neurons | synapses | command | wall s | CPU s | peak GB | rc | emulator ms/step (wall, CPU) |\n"
          "|---|---|---|---|---|---|---|---|")
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    for r in rows:
        print(f"| {r['neurons']:,} | {r['synapses']:,} | {r['command']} | {fmt(r['seconds'], '.1f')} | "
              f"{fmt(r.get('cpu_s'), '.1f')} | {fmt(r['peak_gb'], '.2f')} | {r['rc']} | "
              f"{fmt(r.get('ms_per_step'), '.2f')}, {fmt(r.get('cpu_ms_per_step'), '.2f')} |")


if __name__ == "__main__":
    main()
