"""Neuromorphic digits end to end: scikit-learn's 8×8 digits as N-MNIST-style saccade events → float e-prop
→ Loihi fixed point → loihi-sim (Lava) bit-exact check → energy, latency and EDP.  ``make digits`` runs it.

    .venv/bin/python benchmarks/digits_events.py [--iterations 600] [--data data/digits_events] [--lava-samples 4]

1. Converts the digits into ``--data`` (N-MNIST layout, a seeded 75/25 train/test split) unless already there.
2. Trains examples/digits_events.yaml with float e-prop on the training files (``neuroport train``'s engine).
3. Scores the float model and its Loihi quantization (fixed-point emulator, the oracle; calibrated on training
   files) on every held-out test file.
4. Writes the trained model with ``split: test`` to results/digits_events_trained.yaml and runs
   ``neuroport verify --target loihi-sim`` (Lava vs emulator, bit for bit, on ``--lava-samples`` test files) and
   ``neuroport report --target loihi-sim --compare loihi1,loihi2`` on it.
Writes results/digits_events.json, results/digits_events.md and results/digits_events_curve.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from neuroport import jsonio
from neuroport.ir import load_model
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.writer import write_model
from neuroport.pipeline import compare, prepare
from neuroport.reporters.plots import plot_learning_curve
from neuroport.tasks import task_of
from neuroport.tasks.digits_events import convert_digits
from neuroport.training.eprop import train_eprop

ROOT = Path(__file__).resolve().parents[1]
NEUROPORT = str(Path(sys.executable).with_name("neuroport"))


def with_task(graph: FloatGraph, **params) -> FloatGraph:
    """``graph`` with task parameters replaced (``root``, ``split``)."""
    return replace(graph, task=replace(graph.task, params={**graph.task.params, **params}))


def ensure_data(root: Path) -> dict[str, int]:
    """Convert the digits into ``root`` unless its Train/ and Test/ folders already hold .bin files."""
    if not (any(root.glob("Train/*/*.bin")) and any(root.glob("Test/*/*.bin"))):
        print(f"converting scikit-learn's digits into events under {root} (about a minute)", flush=True)
        convert_digits(root)
    return {split: len(list(root.glob(f"{split.title()}/*/*.bin"))) for split in ("train", "test")}


def train(graph: FloatGraph, iterations: int) -> tuple[FloatGraph, list[dict], float]:
    """Float e-prop; returns the trained graph, its learning curve and the training time in seconds."""
    errors: list[float] = []

    def watch(stats) -> None:
        errors.append(stats.error)
        if stats.iteration % 25 == 0 or stats.iteration == iterations - 1:
            print(f"it {stats.iteration:4d} loss {stats.loss:8.3f} error (last 25) {np.mean(errors[-25:]):6.1%} "
                  f"rate {stats.rate_hz:5.1f} Hz", flush=True)

    t0 = time.perf_counter()
    result = train_eprop(graph, iterations, on_iteration=watch)
    return result.graph, [asdict(h) for h in result.history], time.perf_counter() - t0


def held_out_scores(trained: FloatGraph) -> dict:
    """Float and Loihi fixed-point (emulator) accuracy on every test file; quantization calibrated on training
    files only."""
    prep = prepare(trained, "loihi-sim", None)
    task = task_of(with_task(trained, split="test"))
    test = task.sequences(range(len(task.files)))
    result = compare(trained, prep.fixed, test)
    return {"hw": prep.hw.name, "test_files": test.size, **result.to_dict()}


def cli_json(*args: str) -> dict:
    """Run ``neuroport ARGS --json`` and parse its output."""
    cmd = [NEUROPORT, *args, "--json"]
    print("$ " + " ".join(cmd), flush=True)
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout)


def edp_rows(report: dict) -> list[dict]:
    """One row per hw config of ``neuroport report --json``."""
    keys = ("hw", "energy_j", "latency_s", "edp_js", "cores", "chips")
    return [{k: r.get(k) for k in keys} for r in report["reports"]]


def markdown(record: dict) -> str:
    """results/digits_events.md."""
    s, ver = record["scores"], record["verify"]
    lines = [
        "# Neuromorphic digits (scikit-learn 8×8 digits → N-MNIST-style events), end to end", "",
        f"Written by `benchmarks/digits_events.py` (`make digits`); {record['data']['train']} training and "
        f"{record['data']['test']} held-out test files, model `examples/digits_events.yaml`.", "",
        "| measure | value |", "|---|---|",
        f"| float e-prop training | {record['iterations']} iterations × batch {record['batch_size']}, "
        f"{record['train_seconds']:.0f} s |",
        f"| float test accuracy ({s['test_files']} files) | {100 * s['float']['accuracy']:.1f} % |",
        f"| Loihi fixed-point test accuracy ({s['hw']}, emulator) | {100 * s['fixed']['accuracy']:.1f} % |",
        f"| accuracy drop | {s['accuracy_drop_pp']:+.1f} pp |",
        f"| spike agreement float vs fixed | {100 * s['spike_agreement']:.1f} % |",
        f"| loihi-sim (Lava) vs emulator, {ver['backend']['samples']} test files | bit_exact = {ver['bit_exact']} "
        f"({ver['backend']['detail']}) |", "",
        "| hw | energy / inference | latency / inference | EDP (J·s) | cores |", "|---|---|---|---|---|",
    ]
    lines += [f"| {r['hw']} | {r['energy_j']:.3g} J | {r['latency_s']:.3g} s | {r['edp_js']:.3g} | {r['cores']} |"
              for r in record["edp"]]
    lines += ["", "Per-operation costs behind each row (from `neuroport report`):", ""]
    lines += [f"- {r['hw']}: {note}" for r in record["report"]["reports"] for note in r["notes"]]
    lines += ["", "Commands:", "", *[f"    {c}" for c in record["commands"]], ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "examples/digits_events.yaml"))
    ap.add_argument("--data", default=str(ROOT / "data/digits_events"))
    ap.add_argument("--iterations", type=int, default=600)
    ap.add_argument("--lava-samples", type=int, default=4)
    ap.add_argument("--report-samples", type=int, default=8)
    ap.add_argument("--out", default=str(ROOT / "results"))
    args = ap.parse_args()
    data, out = Path(args.data).resolve(), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    counts = ensure_data(data)
    graph = with_task(load_model(args.model), root=str(data))
    trained, history, seconds = train(graph, args.iterations)
    scores = held_out_scores(trained)
    print(f"float {100 * scores['float']['accuracy']:.1f} %, loihi fixed point {100 * scores['fixed']['accuracy']:.1f} %", flush=True)
    model = str(write_model(with_task(trained, split="test"), out / "digits_events_trained.yaml"))
    n, shown, shown_data = str(args.lava_samples), os.path.relpath(model, ROOT), os.path.relpath(data, ROOT)
    verify = cli_json("verify", model, "--target", "loihi-sim", "--samples", n, "--backend-samples", n, "--data", str(data))
    report = cli_json("report", model, "--target", "loihi-sim", "--compare", "loihi1,loihi2", "--samples",
                      str(args.report_samples), "--data", str(data))
    plot_learning_curve({f"{graph.learning.feedback} e-prop (numpy)": history}, out / "digits_events_curve.png",
                        title="digits_events")
    record = {"task": "digits_events", "data": counts, "iterations": args.iterations,
              "batch_size": graph.learning.batch_size, "train_seconds": seconds, "scores": scores,
              "verify": verify, "edp": edp_rows(report), "report": report, "history": history,
              "commands": [f"neuroport verify {shown} --target loihi-sim --samples {n} "
                           f"--backend-samples {n} --data {shown_data} --json",
                           f"neuroport report {shown} --target loihi-sim --compare loihi1,loihi2 "
                           f"--samples {args.report_samples} --data {shown_data} --json"]}
    (out / "digits_events.json").write_text(jsonio.dumps(record, indent=1, default=float))
    (out / "digits_events.md").write_text(markdown(record))
    print(markdown(record))


if __name__ == "__main__":
    main()
