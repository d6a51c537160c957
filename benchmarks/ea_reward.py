"""Evidence accumulation as reinforcement learning with reward-based e-prop (actor-critic): iterations to solved.

Trains ``examples/evidence_accumulation_reward.yaml`` with ``neuroport train`` (the trained model, curve.json,
curve.png and sample.png land in ``results/evidence_accumulation_reward/``), then scores the greedy policy
(argmax of the readout summed over the recall window) on held-out trials and writes ``results/ea_reward.json``
and ``results/ea_reward.png``.

"Solved" is the criterion of the supervised result (benchmarks/train_and_quantize.py, results/evidence_accumulation.json):
the running mean over 10 iterations of the greedy misclassification below 8 %, one iteration = one batch of
episodes, counted as the index of the last iteration in the first such window + 1.  Compared with the thesis'
reward-based e-prop (8880 iterations) and supervised random e-prop here.

    nice -n 5 .venv/bin/python benchmarks/ea_reward.py --iterations 200
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from neuroport import jsonio
from neuroport.emulator.reference import simulate
from neuroport.ir.loader import load_model
from neuroport.ir.network import assemble
from neuroport.reporters.plots import _pyplot
from neuroport.tasks import task_of
from neuroport.training.reward_episodes import evidence_mask

ROOT = Path(__file__).parents[1]
THESIS_REWARD_ITERATIONS = 8880  # the thesis' reward-based e-prop on evidence accumulation (brief of issue #10)
WINDOW, THRESHOLD = 10, 0.08
DECISIONS = {"every_step": "every step of the recall window", "last_step": "the last step of the recall window only",
             "window_mean": "the end of the recall window, one per trial, from softmax of the readout averaged over it"}
TEST_SEED, TEST_SAMPLES = 104729, 256


def solved_at(errors: list[float]) -> int | None:
    """Iterations until the running mean of ``WINDOW`` errors is below ``THRESHOLD`` (None: never)."""
    running = np.convolve(errors, np.ones(WINDOW) / WINDOW, mode="valid")
    below = np.flatnonzero(running < THRESHOLD)
    return int(below[0] + WINDOW) if below.size else None


def greedy_test_error(model: Path) -> float:
    """Misclassification of the greedy policy, argmax_k Σ_t m[t] y_k[t] over the steps the policy reads (the decision
    steps, or the window for window_mean), on held-out trials."""
    graph = load_model(model)
    batch = task_of(graph).batch(np.random.default_rng(TEST_SEED), TEST_SAMPLES)
    run = simulate(assemble(graph), batch.inputs, record_states=False)
    evidence = np.sum(run.y * evidence_mask(batch, graph.learning.reward.decision)[..., None], axis=1)
    return float(np.mean(np.argmax(evidence, axis=1) != batch.labels))


def plot(history: list[dict], solved: int | None, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    it = [h["iteration"] + 1 for h in history]
    errors = np.array([h["error"] for h in history])
    ax.plot(it, 100 * errors, lw=0.8, alpha=0.6, label="greedy error (batch)")
    ax.plot(it, [100 * h["train_error"] for h in history], lw=0.8, alpha=0.6, label="sampled actions wrong")
    if len(errors) >= WINDOW:
        running = np.convolve(errors, np.ones(WINDOW) / WINDOW, mode="valid")
        ax.plot(it[WINDOW - 1:], 100 * running, lw=1.6, label=f"running mean ({WINDOW})")
    ax.axhline(100 * THRESHOLD, color="k", ls="--", lw=0.8, label="8 % (solved)")
    if solved:
        ax.axvline(solved, color="g", ls=":", lw=1.0, label=f"solved at {solved}")
    ax.set(xlabel="iteration (batch of episodes)", ylabel="%", title="evidence accumulation, reward-based e-prop")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def variant_of(model: Path, out: Path, *, decision: str | None, seed: int | None, settings: list[str]) -> Path:
    """A copy of ``model`` in ``out`` (source.yaml) with ``learning.reward.decision``, the model's ``seed`` (weights,
    feedback, batches, actions) and ``settings`` ("dotted.yaml.path=VALUE", VALUE read as YAML; ``null`` removes the
    field) replaced; its weights must be drawn, not read from files."""
    doc = yaml.safe_load(model.read_text())
    if decision:
        doc["learning"].setdefault("reward", {})["decision"] = decision
    if seed is not None:
        doc["seed"] = seed
    for setting in settings:
        path, sep, value = setting.partition("=")
        if not sep or not path or not value.strip():
            raise SystemExit(f"--set {setting!r}: expected PATH=VALUE (VALUE null removes the field)")
        *parents, key = path.split(".")
        node = doc
        for name in parents:
            node = node.setdefault(name, {})
        if yaml.safe_load(value) is None:
            node.pop(key, None)
        else:
            node[key] = yaml.safe_load(value)
    out.mkdir(parents=True, exist_ok=True)
    if any("weights" in p for p in doc["projections"]):
        raise SystemExit("--decision / --model-seed / --set need a model whose weights are drawn, not read from files")
    path = out / "source.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def train_in_process(args: argparse.Namespace, command: list[str]) -> None:
    """``neuroport train``'s numpy engine in this process, saving the curve every ``--progress-every`` iterations."""
    from dataclasses import asdict

    from neuroport.ir.writer import write_model
    from neuroport.training.eprop import train_eprop

    out, history = Path(args.out), []
    out.mkdir(parents=True, exist_ok=True)

    def progress(stats) -> None:
        history.append(asdict(stats))
        if len(history) % args.progress_every == 0:
            (out / "progress.json").write_text(jsonio.dumps({"command": command[1:], "history": history}))

    result = train_eprop(load_model(args.model), args.iterations, batch_size=args.batch_size, on_iteration=progress)
    write_model(result.graph, out / "model.yaml")
    (out / "curve.json").write_text(jsonio.dumps({"engine": "numpy", "history": history}, indent=1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "examples" / "evidence_accumulation_reward.yaml"))
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--out", default=str(ROOT / "results" / "evidence_accumulation_reward"))
    parser.add_argument("--json", dest="json_path", default=str(ROOT / "results" / "ea_reward.json"))
    parser.add_argument("--decision", choices=tuple(DECISIONS), default=None,
                        help="override learning.reward.decision (the model is copied into --out as source.yaml)")
    parser.add_argument("--model-seed", type=int, default=None,
                        help="override the model's seed (initial weights, feedback, batches and actions; the model "
                             "is copied into --out as source.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override a model field for an ablation, e.g. learning.reward.c_entropy=0 or "
                             "learning.optimizer.decay=null (repeatable; the model is copied into --out as source.yaml)")
    parser.add_argument("--progress-every", type=int, default=0,
                        help="train in this process (what `neuroport train` runs, same outputs but the plots) and "
                             "write the curve so far to OUT/progress.json every N iterations (long runs)")
    args = parser.parse_args(argv)
    if args.decision or args.model_seed is not None or args.set:
        args.model = str(variant_of(Path(args.model), Path(args.out), decision=args.decision, seed=args.model_seed,
                                    settings=args.set))
    command = [str(Path(sys.executable).parent / "neuroport"), "train", args.model, "-i", str(args.iterations),
               "-o", args.out, "--json"] + (["--batch-size", str(args.batch_size)] if args.batch_size else [])
    start = time.perf_counter()
    if args.progress_every:
        train_in_process(args, command)
    else:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    history = json.loads((Path(args.out) / "curve.json").read_text())["history"]
    errors = [h["error"] for h in history]
    solved = solved_at(errors)
    graph = load_model(args.model)
    supervised = json.loads((ROOT / "results" / "evidence_accumulation.json").read_text())
    result = {
        "task": f"evidence_accumulation as reinforcement learning: actions sampled at {DECISIONS[graph.learning.reward.decision]}, "
                f"reward {graph.learning.reward.reward_correct:g} if correct else {graph.learning.reward.reward_wrong:g}",
        "model": str(Path(args.model).relative_to(ROOT)) if Path(args.model).is_relative_to(ROOT) else args.model,
        "command": (f"benchmarks/ea_reward.py {' '.join(sys.argv[1:] if argv is None else argv)} (in-process numpy engine)"
                    if args.progress_every else " ".join(["neuroport"] + command[1:]).replace(f"{ROOT}/", "")),
        "variant": "reward_based", "feedback": graph.learning.feedback,
        "reward": {k: getattr(graph.learning.reward, k) for k in ("gamma", "c_value", "c_entropy", "reward_correct",
                                                                  "reward_wrong", "decision", "value_tau_ms")},
        "optimizer": {"name": graph.learning.optimizer.name, "learning_rate": graph.learning.optimizer.learning_rate,
                      "decay": ({"factor": graph.learning.optimizer.decay_factor,
                                 "every_iterations": graph.learning.optimizer.decay_every}
                                if graph.learning.optimizer.decays else None)},
        "model_seed": graph.seed,
        "batch": args.batch_size or graph.learning.batch_size, "iterations_run": len(history),
        "solved_criterion": f"running mean over {WINDOW} iterations of the greedy misclassification < {THRESHOLD:.0%}",
        "iterations_to_solved": solved,
        "compared": {"thesis_reward_based": THESIS_REWARD_ITERATIONS,
                     "supervised_random_eprop_here": supervised["iterations_to_solved"],
                     "supervised_batch": supervised["batch"]},
        "running_error_last": float(np.mean(errors[-WINDOW:])),
        "test_samples": TEST_SAMPLES, "greedy_test_error": greedy_test_error(Path(args.out) / "model.yaml"),
        "train_seconds": seconds, "seconds_per_iteration": seconds / max(len(history), 1),
        "history": history,
    }
    Path(args.json_path).write_text(jsonio.dumps(result, indent=1))
    plot(history, solved, Path(args.json_path).with_suffix(".png"))
    print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=1))


if __name__ == "__main__":
    main()
