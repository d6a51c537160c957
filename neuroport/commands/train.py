"""``neuroport train MODEL``: train with float e-prop; write the trained model, its curve and plots."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict

import click

from neuroport import jsonio
from neuroport.commands.common import COUNT, SEED, JsonValue, data_option, echo_json, json_option, load_any_model
from neuroport.commands.train_loihi_sim import TARGETS, refuse_options, train_on_loihi_sim
from neuroport.emulator.float_run import simulate_graph
from neuroport.errors import NeuroportError
from neuroport.ir.writer import write_model
from neuroport.outputs import default_folder, make_folder
from neuroport.pipeline import task_batch
from neuroport.reporters.plots import plot_learning_curve, plot_raster

# engine → (trainer "module:function", the module it needs, the pip extra that installs it); imported when used
ENGINES = {
    "numpy": ("neuroport.training.eprop:train_eprop", None, None),
    "nest": ("neuroport.backends.nest.engine:train_nest", "nest", "nest"),
    "bptt": ("neuroport.training.bptt:train_bptt", "torch", "bptt"),
    "on-chip": ("neuroport.training.onchip:train_onchip", None, None),
    "sparse": ("neuroport.training.sparse_eprop:train_sparse", None, None),  # event-driven, memory ∝ synapses
    "eventprop": ("neuroport.training.eventprop:train_eventprop", None, None),  # exact event-based gradients, LIF only
}


# learning.variant → the float simulator ("module:function", imported when used) of variants whose neuron dynamics
# differ from bsshslm_2020's; other graphs run on the simulator of their neuron model (simulate_graph)
VARIANT_SIMULATORS = {"eprop_plus": "neuroport.training.eprop_plus:simulate_plus"}


def float_run(graph, inputs):
    """A float run (``.z`` spikes, ``.y`` readout) of ``graph`` with its own dynamics, for the sample plot."""
    variant = graph.learning.variant if graph.learning is not None else None
    if variant not in VARIANT_SIMULATORS:
        return simulate_graph(graph, inputs)
    module, name = VARIANT_SIMULATORS[variant].split(":")
    return getattr(importlib.import_module(module), name)(graph, inputs)


RATES_EXAMPLE = '{"decimate": 3, "l_shift": 7}'
SCHEDULE_EXAMPLE = '[[2000, {"decimate": 6}]]'
COMPUTED_RULE_FIELDS = ("psi_mult", "err_shift", "target_scale", "feedback")  # set from the model by default_rule


def rates_problem(rates: dict) -> str | None:
    """Why ``rates`` is not a set of OnChipRule overrides (integers or integer pairs), or None."""
    from dataclasses import fields

    from neuroport.emulator.onchip import OnChipRule

    known = [f.name for f in fields(OnChipRule) if f.name not in COMPUTED_RULE_FIELDS]
    for key, value in rates.items():
        if key not in known:
            return f"unknown rate {key!r}; known: {', '.join(known)}"
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return f"rate {key!r} must be an integer or a list of integers, not {json.dumps(value)}"
    return None


def schedule_problem(schedule: list) -> str | None:
    """Why ``schedule`` is not a list of [sequence ≥ 0, {rate overrides}] pairs, or None."""
    for i, entry in enumerate(schedule):
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], int) and entry[0] >= 0
                and not isinstance(entry[0], bool) and isinstance(entry[1], dict)):
            return f"entry {i} ({json.dumps(entry)}) is not a pair [sequence ≥ 0, {{overrides}}]"
        problem = rates_problem(entry[1])
        if problem:
            return f"entry {i}: {problem}"
    return None


def _progress(bar):
    """A per-iteration callback that advances ``bar`` and shows loss, error and firing rate."""
    def update(stats) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{stats.loss:.3g}", error=f"{stats.error:.1%}" if stats.error == stats.error else "-",
                        rate=f"{stats.rate_hz:.1f}Hz")
    return update


def trainer(engine: str):
    """The engine's training function; a clear error when its simulator is not installed."""
    target, needs, extra = ENGINES[engine]
    if needs and importlib.util.find_spec(needs) is None:
        raise NeuroportError(f"--engine {engine} needs the '{needs}' package: pip install 'neuroport[{extra}]'")
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


@click.command("train")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--engine", type=click.Choice(list(ENGINES)), default="numpy", show_default=True,
              help="numpy: neuroport's e-prop; nest: NEST's own e-prop models (the reference); bptt: backpropagation "
                   "through time (torch), the baseline e-prop is compared with; on-chip: integer e-prop inside the "
                   "fixed-point emulator with Lava's learning engine (same as --on-chip); sparse: event-driven e-prop "
                   "on synapse lists (chosen for models with connectivity rules); eventprop: exact gradients from spike times "
                   "(Wunderlich & Pehle 2021) for LIF classification models.")
@click.option("--on-chip", "on_chip", is_flag=True, help="Train on-chip: --engine on-chip.")
@click.option("--hw", "hw_name", default="loihi2", show_default=True, help="Hardware config for --on-chip.")
@click.option("--chips", type=COUNT, default=16, show_default=True,
              help="--on-chip: independent chips learning in parallel, one sequence each per iteration.")
@click.option("--rates", type=JsonValue(dict, RATES_EXAMPLE, rates_problem), default=None, help="--on-chip: OnChipRule overrides as JSON, e.g. '{\"decimate\": 3, \"l_shift\": 7}'.")
@click.option("--schedule", type=JsonValue(list, SCHEDULE_EXAMPLE, schedule_problem), default=None,
              help="--on-chip: rule overrides from a sequence on, JSON [[sequence, {overrides}], ...], e.g. "
                   "'[[2000, {\"decimate\": 6}]]' (the host rewriting the rule; weights and traces carry over).")
@click.option("--held-out", type=COUNT, default=None, help="--on-chip: held-out samples each chip is scored on [default: --chips].")
@click.option("--eval-every", type=COUNT, default=1, show_default=True, help="--on-chip: score the chips every N sequences.")
@click.option("--target", type=click.Choice(TARGETS), default="emulator", show_default=True,
              help="--on-chip: where the chip learns — the fixed-point emulator, or Lava's learning processes "
                   "(loihi-sim: one chip, checked against the emulator, checkpointed).")
@click.option("--sequences", type=COUNT, default=None, help="--target loihi-sim: sequences to stream [default: --iterations].")
@click.option("--checkpoint-every", type=COUNT, default=10, show_default=True,
              help="--target loihi-sim: write the chip state every K sequences (and at the end).")
@click.option("--check-every", type=COUNT, default=10, show_default=True,
              help="--target loihi-sim: compare the chip's weights with the emulator's every N sequences (and at the end).")
@click.option("--resume", is_flag=True, help="--target loihi-sim: continue from the newest checkpoint in the output folder.")
@click.option("--iterations", "-i", type=COUNT, default=100, show_default=True, help="Training iterations (batches).")
@click.option("--batch-size", type=COUNT, default=None, help="Override the model's learning.batch_size.")
@click.option("--mode", type=click.Choice(["sequence", "online"]), default="sequence", show_default=True,
              help="Gradient computation: sequence-batched (fast, BLAS) or online (streaming, the chip's way); same numbers.")
@click.option("--out", "-o", type=click.Path(file_okay=False), default=None, help="Output folder [default: build/<model>-trained].")
@click.option("--seed", type=SEED, default=None, help="Seed of the training data [default: the model's seed].")
@click.option("--threads", type=COUNT, default=1, show_default=True, help="NEST threads (--engine nest).")
@click.option("--ranks", type=COUNT, default=1, show_default=True,
              help="--engine nest: MPI ranks (each with --threads threads) under mpirun; needs a NEST built with MPI "
                   "(`make nest-mpi`, then NEUROPORT_NEST_PREFIX=$PWD/.nest-mpi).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Data-parallel: split every batch across N Dask worker processes on this machine (a LocalCluster); "
                   "their gradients are summed before the optimizer step (numpy, bptt, on-chip). 0 or unset: one process.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Data-parallel on a running Dask cluster (one shard per worker); also DASK_SCHEDULER_ADDRESS.")
@data_option
@json_option
def command(model: str, engine: str, on_chip: bool, hw_name: str, chips: int, rates: dict | None, schedule: list | None,
            held_out: int | None, target: str, sequences: int | None, checkpoint_every: int, check_every: int,
            resume: bool, eval_every: int, iterations: int, batch_size: int | None, mode: str, out: str | None,
            seed: int | None, threads: int, ranks: int, workers: int | None, scheduler: str | None, data: str | None,
            as_json: bool) -> None:
    """Train MODEL with e-prop on its task and write the trained model.

    \b
    Writes into the output folder:
      model.yaml + model.weights.npz   the trained model (use it with compile / verify / report)
      curve.json, curve.png            loss, error and firing rate per iteration
      sample.png                       spike raster and readout of one test sample

    \b
    Examples:
      neuroport train examples/evidence_accumulation.yaml --iterations 150 -o build/ea
      neuroport train examples/evidence_accumulation.yaml --engine nest -i 5    # the same numbers, from NEST
      neuroport train examples/evidence_accumulation.yaml --engine nest --ranks 2   # NEST on 2 MPI ranks
      neuroport train examples/evidence_accumulation.yaml --engine bptt -i 50   # the BPTT baseline
      neuroport train examples/evidence_accumulation.yaml --on-chip --chips 8 -i 20   # integer, on-line
      neuroport train examples/evidence_accumulation.yaml --on-chip --target loihi-sim --sequences 20 --check-every 10
      neuroport train examples/nmnist.yaml --data /path/to/NMNIST             # a local N-MNIST copy
      neuroport train examples/evidence_accumulation.yaml --workers 2        # each batch split over 2 processes
      neuroport train examples/evidence_accumulation.yaml --scheduler tcp://10.0.0.5:8786   # on a Dask cluster
    """
    from tqdm import tqdm

    from neuroport.explore.cluster import sharded

    ctx = click.get_current_context()
    given = {name for name in ctx.params if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT}
    refuse_options(target, on_chip, resume, given)
    if target == "loihi-sim":
        graph = load_any_model(model, data, batch=1, batch_field="--sequences")
        return train_on_loihi_sim(graph, sequences=sequences or iterations, hw_name=hw_name, seed=seed, rates=rates,
                                  schedule=schedule, checkpoint_every=checkpoint_every, check_every=check_every,
                                  resume=resume, out=out, as_json=as_json)
    engine = "on-chip" if on_chip else engine
    train = trainer(engine)
    shards = click.get_current_context().with_resource(sharded(engine, workers, scheduler))  # closed on exit
    options = {"numpy": {"mode": mode}, "nest": {"threads": threads, "ranks": ranks},
               "on-chip": {"hw_name": hw_name, "chips": chips, "rates": rates or {},
                           "schedule": [tuple(entry) for entry in schedule or []], "held_out": held_out,
                           "eval_every": eval_every}}
    parallel = {"shards": shards} if shards is not None else {}
    graph = load_any_model(model, data, batch=batch_size, batch_field="--batch-size")  # refused before allocation
    if engine == "numpy" and any(p.is_sparse for p in graph.projections):
        engine, train = "sparse", trainer("sparse")  # connectivity rules: the event-driven trainer
    if engine == "on-chip":
        return _train_on_chip(graph, train, iterations, seed, as_json, out, **options["on-chip"], **parallel)
    folder = make_folder(out or default_folder(graph.name, "trained"))
    with tqdm(total=iterations, desc=f"{engine} {graph.name}", unit="it", disable=as_json) as bar:
        result = train(graph, iterations, seed=seed, batch_size=batch_size, on_iteration=_progress(bar),
                       **options.get(engine, {}), **parallel)
    trained_path = write_model(result.graph, folder / "model.yaml")
    history = [asdict(h) for h in result.history]
    jsonio.write_json(folder / "curve.json", {"model": graph.name, "engine": engine, "history": history})
    label = {"bptt": "BPTT", "eventprop": "EventProp"}.get(engine, f"e-prop ({engine})")
    plot_learning_curve({label: history}, folder / "curve.png", title=graph.name)
    batch = task_batch(result.graph, 1, seed=(graph.seed + 1) * 7919)
    run = float_run(result.graph, batch.inputs)
    plot_raster(run.z[0], run.y[0], batch.targets[0], folder / "sample.png", graph.dt_ms)
    final = history[-1] if history else {}
    payload = {"model": str(trained_path), "engine": engine, "iterations": iterations, "final": final, "out": str(folder)}
    if as_json:
        echo_json(payload)
    else:
        click.echo(f"trained model → {trained_path}  (final loss {final.get('loss', float('nan')):.4g}, "
                   f"error {final.get('error', float('nan')):.1%}); curve and plots in {folder}")


def _train_on_chip(graph, train, iterations: int, seed: int | None, as_json: bool, out: str | None, *, hw_name: str,
                   chips: int, **onchip) -> None:
    """--on-chip: writes the artifact with chip 0's learned weights and the curve."""
    from tqdm import tqdm

    from neuroport.ir.artifact import save_artifact

    folder = make_folder(out or default_folder(graph.name, "onchip"))
    with tqdm(total=iterations, desc=f"on-chip {graph.name} ({chips} chips)", unit="seq", disable=as_json) as bar:
        result = train(graph, iterations, hw_name=hw_name, chips=chips, seed=seed, on_iteration=_progress(bar), **onchip)
    artifact = save_artifact(result.fixed, folder / "artifact", extra={"trained": "on-chip", "chips": chips})
    history = [asdict(h) for h in result.history]
    jsonio.write_json(folder / "curve.json", {"model": graph.name, "engine": "on-chip", "hw": hw_name,
                                              "chips": chips, "history": history})
    plot_learning_curve({f"on-chip ({hw_name}, {chips} chips)": history}, folder / "curve.png", title=graph.name)
    final = history[-1] if history else {}
    payload = {"artifact": str(artifact), "engine": "on-chip", "iterations": iterations, "final": final, "out": str(folder)}
    if as_json:
        echo_json(payload)
    else:
        click.echo(f"on-chip trained artifact → {artifact} (final readout MSE {final.get('loss', float('nan')):.4g}, "
                   f"error {final.get('error', float('nan')):.1%}); curve in {folder}")
