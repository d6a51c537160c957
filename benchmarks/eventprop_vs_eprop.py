"""EventProp beside e-prop and BPTT on the digits-events task (examples/digits_events.yaml: scikit-learn's digits as
N-MNIST-style events, one recurrent LIF layer), at hidden sizes 100, 200 and 400: held-out accuracy, seconds per
epoch and training memory.  Writes results/eventprop_comparison.json and .md (--name).

    .venv/bin/python benchmarks/eventprop_vs_eprop.py [--iterations 60] [--sizes 100,200,400] [--test-files 449]

Per hidden size, the three engines start from the same initial weights (the model's seed) and take one Adam step
per batch on the same batches (``draw_batches``) through the same optimizer loop (``train_on_batches``); they
differ only in the gradient: e-prop (random feedback, numpy sequence mode), BPTT (torch autograd through the
surrogate ψ, float32) and EventProp (exact spike-time gradients of the box-synapse model,
:mod:`neuroport.training.eventprop`).  Each run is a fresh process with one thread (NUMBA_NUM_THREADS,
OMP_NUM_THREADS, torch.set_num_threads), so seconds are comparable side by side in one invocation; memory is the
largest growth of the process's resident set during training over its value before (polled every millisecond
from a thread; the data are loaded and the compiled kernels warmed up first).  Seconds per epoch = seconds per iteration × training files / batch size.

Accuracy is scored on the held-out test files with the deployed discrete model (float reference, and the Loihi 2
fixed-point emulator after quantization calibrated on training files: ``neuroport.pipeline.compare``); for EventProp
also with its own continuous-time model (argmax of the window-averaged readout), the model its gradient is exact for.
The data are converted from scikit-learn's digits into --data unless already there (benchmarks/digits_events.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from neuroport import jsonio

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("e-prop", "bptt", "eventprop")


def sized_graph(model: str, size: int, data: str):
    """The model with its one population resized (initial weights drawn from the model's seed) and the data root."""
    import yaml

    from neuroport.ir.loader import load_model

    doc = yaml.safe_load(Path(model).read_text())
    doc["populations"][0]["size"] = size
    doc["task"]["params"]["root"] = data
    path = ROOT / "build" / f"eventprop_vs_eprop_{size}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_model(path)


def gradient_function(engine: str, eventprop_c_reg: float | None = None):
    """The engine's (net, rule, B, batch) → Gradients, or None for e-prop (the optimizer loop's default)."""
    if engine == "bptt":
        import torch

        from neuroport.training.bptt import bptt_gradients

        torch.set_num_threads(1)
        return lambda net, rule, _b, batch: bptt_gradients(net, rule, batch, dtype=torch.float32)
    if engine == "eventprop":
        from neuroport.training.eventprop import eventprop_gradients, penalty_of

        def with_c_reg(net, rule):  # --eventprop-c-reg replaces the model's learning.regularization.c_reg
            return penalty_of(net, rule if eventprop_c_reg is None else replace(rule, c_reg=eventprop_c_reg))

        return lambda net, rule, _b, batch: eventprop_gradients(net, batch, with_c_reg(net, rule))
    return None


def rss_mb() -> float:
    """This process's resident set now (Linux /proc/self/statm: pages)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


class PeakMemory:
    """Largest growth of the resident set over its value at entry, polled every millisecond from a thread."""

    def __enter__(self):
        self.base = self.peak = rss_mb()
        self.running = True
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        return self

    def _poll(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.001)

    def __exit__(self, *_exc) -> None:
        self.running = False
        self.thread.join()
        self.growth_mb = max(self.peak, rss_mb()) - self.base


def eventprop_own_accuracy(graph, test) -> tuple[float, float]:
    """(accuracy of EventProp's continuous-time model on ``test``, mean bytes of spike events kept per sample)."""
    from neuroport.ir.network import assemble
    from neuroport.training.eventprop import class_targets, constants_of, readout_loss, run_events

    net = assemble(graph)
    k, weights = constants_of(net), {"w_in": net.w_in, "w_rec": net.w_rec, "w_out": net.w_out}
    targets, correct, stored = class_targets(test), 0, []
    for b in range(test.size):
        events = run_events(weights, k, test.inputs[b])
        evidence = readout_loss(events, net.w_out, k, test.loss_mask[b], targets[b], net.n_rec)[1]
        correct += int(np.argmax(evidence) == test.labels[b])
        stored.append(events.times.nbytes + events.neurons.nbytes + events.prev.nbytes + events.vdot.nbytes)
    return correct / test.size, float(np.mean(stored))


def save_data(path: Path, args) -> None:
    """Draw the training batches and the held-out test files once (reading the event files is the slow part) for
    every run: the batches depend on the model's seed and task only, not on the hidden size."""
    from neuroport.training.eprop import draw_batches, task_of

    graph = sized_graph(args.model, 100, args.data)
    batches = draw_batches(graph, args.iterations, batch_size=args.batch)
    test_task = task_of(replace(graph, task=replace(graph.task, params={**graph.task.params, "split": "test"})))
    chosen = np.random.default_rng(0).permutation(len(test_task.files))[: args.test_files]  # every class
    test = test_task.sequences(np.sort(chosen))
    arrays = {f"{name}_{i}": getattr(batch, name) for i, batch in enumerate([*batches, test])
              for name in ("inputs", "targets", "loss_mask", "labels")}
    np.savez(path, n_train=len(task_of(graph).files), **arrays)


def load_data(path: Path) -> tuple[list, object, int]:
    """(training batches, test batch, number of training files) saved by :func:`save_data`."""
    from neuroport.tasks import Batch

    data = np.load(path)
    count = sum(1 for key in data.files if key.startswith("inputs_"))
    batches = [Batch(*(data[f"{name}_{i}"] for name in ("inputs", "targets", "loss_mask", "labels")))
               for i in range(count)]
    return batches[:-1], batches[-1], int(data["n_train"])


def run_one(engine: str, size: int, args) -> dict:
    """Train one engine at one size in this process and score it (see the module docstring)."""
    from neuroport.ir.network import assemble, with_weights
    from neuroport.pipeline import compare, prepare
    from neuroport.training.eprop import rule_of, train_on_batches

    graph = sized_graph(args.model, size, args.data)
    net, rule = assemble(graph), rule_of(graph)
    batches, test, n_train = load_data(Path(args.shared))
    gradients = gradient_function(engine, args.eventprop_c_reg)
    warm = replace(batches[0], inputs=batches[0].inputs[:2], targets=batches[0].targets[:2],
                   loss_mask=batches[0].loss_mask[:2], labels=batches[0].labels[:2])
    train_on_batches(net, rule, [warm], gradients=gradients)  # compile the kernels before measuring
    with PeakMemory() as memory:
        start = time.perf_counter()
        result = train_on_batches(net, rule, batches, gradients=gradients)
        seconds = time.perf_counter() - start
    w = result.weights
    trained = with_weights(graph, w["w_in"], w["w_rec"], w["w_out"])
    scores = compare(trained, prepare(trained, "loihi-sim", None).fixed, test).to_dict()
    record = {"engine": engine, "hidden": size, "iterations": args.iterations, "batch": args.batch,
              "train_files": n_train, "test_files": test.size, "steps": test.n_steps, "train_seconds": seconds,
              "seconds_per_iteration": seconds / args.iterations,
              "seconds_per_epoch": seconds / args.iterations * n_train / args.batch,
              "peak_memory_growth_mb": memory.growth_mb, "float_accuracy": scores["float"]["accuracy"],
              "fixed_accuracy": scores["fixed"]["accuracy"], "spike_agreement": scores["spike_agreement"],
              "last10_train_error": float(np.mean([h.error for h in result.history[-10:]])),
              "final_rate_hz": result.history[-1].rate_hz}
    if engine == "eventprop":
        record["own_model_accuracy"], record["event_bytes_per_sample"] = eventprop_own_accuracy(trained, test)
    return record


def markdown(record: dict) -> str:
    lines = ["# EventProp beside e-prop and BPTT: digits-events", "",
             f"Written by `benchmarks/eventprop_vs_eprop.py` ({record['command']}); model `examples/digits_events.yaml` "
             f"with its hidden LIF layer resized; {record['runs'][0]['iterations']} iterations × batch "
             f"{record['runs'][0]['batch']} per run (same initial weights, batches and Adam loop for the three engines), "
             f"one thread each, {record['runs'][0]['train_files']} training / {record['runs'][0]['test_files']} test "
             "files. Accuracy on the held-out files with the deployed discrete model (float; Loihi 2 fixed point); "
             "EventProp also with its own continuous-time model. EventProp's rate penalty: c_reg = "
             + ("the model's (learning.regularization)" if record["eventprop_c_reg"] is None
                else f"{record['eventprop_c_reg']:g} (--eventprop-c-reg)") + ".", "",
             "| hidden | engine | test acc. float | test acc. Loihi fixed | EventProp model acc. | train error (last 10) "
             "| s / iteration | s / epoch | peak memory growth (MB) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in record["runs"]:
        own = f"{100 * r['own_model_accuracy']:.1f} %" if "own_model_accuracy" in r else "–"
        lines.append(f"| {r['hidden']} | {r['engine']} | {100 * r['float_accuracy']:.1f} % | "
                     f"{100 * r['fixed_accuracy']:.1f} % | {own} | {100 * r['last10_train_error']:.1f} % | "
                     f"{r['seconds_per_iteration']:.2f} | {r['seconds_per_epoch']:.1f} | {r['peak_memory_growth_mb']:.0f} |")
    events = [r for r in record["runs"] if "event_bytes_per_sample" in r]
    lines += ["", "EventProp keeps per sample only its spike events (time, neuron, release link, dv/dt) for the "
              "backward pass: " + ", ".join(f"{r['hidden']} neurons: {r['event_bytes_per_sample'] / 1024:.0f} KiB "
                                            f"(one float64 steps × neurons state history: "
                                            f"{r['steps'] * r['hidden'] * 8 / 1024:.0f} KiB)" for r in events) + ".", "",
              f"Machine: {record['machine']}; timings on a shared machine are noisy: compare within this table only.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "examples/digits_events.yaml"))
    ap.add_argument("--data", default=str(ROOT / "data/digits_events"))
    ap.add_argument("--sizes", default="100,200,400")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--iterations", type=int, default=60)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--test-files", type=int, default=449)
    ap.add_argument("--out", default=str(ROOT / "results"))
    ap.add_argument("--name", default="eventprop_comparison", help="Result file names (NAME.json, NAME.md).")
    ap.add_argument("--eventprop-c-reg", type=float, default=None,
                    help="EventProp's rate-penalty strength instead of the model's learning.regularization.c_reg.")
    ap.add_argument("--one", nargs=2, metavar=("ENGINE", "SIZE"), help=argparse.SUPPRESS)  # a child run
    ap.add_argument("--shared", default=str(ROOT / "build" / "eventprop_vs_eprop_data.npz"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.data = str(Path(args.data).resolve())
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args)))
        return
    from tqdm import tqdm

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from digits_events import ensure_data

    ensure_data(Path(args.data))
    print(f"reading {args.iterations} batches of {args.batch} and {args.test_files} test files", flush=True)
    save_data(Path(args.shared), args)
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    runs = []
    plan = [(e, int(s)) for s in args.sizes.split(",") for e in args.engines.split(",")]
    for engine, size in tqdm(plan, desc="engine × size", unit="run"):
        child = [sys.executable, __file__, "--one", engine, str(size), "--iterations", str(args.iterations),
                 "--batch", str(args.batch), "--test-files", str(args.test_files), "--model", args.model,
                 "--data", args.data, "--shared", args.shared]
        if args.eventprop_c_reg is not None:
            child += ["--eventprop-c-reg", str(args.eventprop_c_reg)]
        done = subprocess.run(child, check=True, capture_output=True, text=True, env=env, cwd=ROOT)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        tqdm.write(json.dumps(runs[-1]))
    shown = " ".join(a for a in sys.argv[1:]) or "defaults"
    record = {"command": f"`.venv/bin/python benchmarks/eventprop_vs_eprop.py {shown}`".replace(" defaults", ""),
              "eventprop_c_reg": args.eventprop_c_reg,
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs", "runs": runs}
    out = Path(args.out)
    jsonio.write_json(out / f"{args.name}.json", record)
    (out / f"{args.name}.md").write_text(markdown(record))
    print(markdown(record))


if __name__ == "__main__":
    main()
