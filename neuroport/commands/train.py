"""``neuroport train MODEL``: train with float e-prop; write the trained model, its curve and plots."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from neuroport.commands.common import echo_json, json_option, load_any_model
from neuroport.emulator.reference import simulate
from neuroport.ir.network import assemble
from neuroport.ir.writer import write_model
from neuroport.pipeline import task_batch
from neuroport.reporters.plots import plot_learning_curve, plot_raster
from neuroport.training.eprop import train_eprop

ENGINES = ("numpy",)  # NEST and BPTT engines: not built yet (see the README's status table)


@click.command("train")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--engine", type=click.Choice(ENGINES), default="numpy", show_default=True, help="Training engine.")
@click.option("--iterations", "-i", default=100, show_default=True, help="Training iterations (batches).")
@click.option("--batch-size", type=int, default=None, help="Override the model's learning.batch_size.")
@click.option("--mode", type=click.Choice(["sequence", "online"]), default="sequence", show_default=True,
              help="Gradient computation: sequence-batched (fast, BLAS) or online (streaming, the chip's way); same numbers.")
@click.option("--out", "-o", type=click.Path(file_okay=False), default=None, help="Output folder [default: build/<model>-trained].")
@click.option("--seed", type=int, default=None, help="Seed of the training data [default: the model's seed].")
@json_option
def command(model: str, engine: str, iterations: int, batch_size: int | None, mode: str, out: str | None,
            seed: int | None, as_json: bool) -> None:
    """Train MODEL with e-prop on its task and write the trained model.

    \b
    Writes into the output folder:
      model.yaml + model.weights.npz   the trained model (use it with compile / verify / report)
      curve.json, curve.png            loss, error and firing rate per iteration
      sample.png                       spike raster and readout of one test sample

    \b
    Example:
      neuroport train examples/evidence_accumulation.yaml --iterations 150 -o build/ea
    """
    from tqdm import tqdm

    graph = load_any_model(model)
    folder = Path(out or f"build/{graph.name}-trained")
    folder.mkdir(parents=True, exist_ok=True)
    with tqdm(total=iterations, desc=f"e-prop {graph.name}", unit="it", disable=as_json) as bar:
        def progress(stats):
            bar.update(1)
            bar.set_postfix(loss=f"{stats.loss:.3g}", error=f"{stats.error:.1%}" if stats.error == stats.error else "-",
                            rate=f"{stats.rate_hz:.1f}Hz")
        result = train_eprop(graph, iterations, seed=seed, mode=mode, batch_size=batch_size, on_iteration=progress)
    trained_path = write_model(result.graph, folder / "model.yaml")
    history = [asdict(h) for h in result.history]
    (folder / "curve.json").write_text(json.dumps({"model": graph.name, "engine": engine, "history": history}, indent=1))
    plot_learning_curve({f"e-prop ({engine})": history}, folder / "curve.png", title=graph.name)
    batch = task_batch(result.graph, 1, seed=(graph.seed + 1) * 7919)
    run = simulate(assemble(result.graph), batch.inputs)
    plot_raster(run.z[0], run.y[0], batch.targets[0], folder / "sample.png", graph.dt_ms)
    final = history[-1] if history else {}
    payload = {"model": str(trained_path), "iterations": iterations, "final": final, "out": str(folder)}
    if as_json:
        echo_json(payload)
    else:
        click.echo(f"trained model → {trained_path}  (final loss {final.get('loss', float('nan')):.4g}, "
                   f"error {final.get('error', float('nan')):.1%}); curve and plots in {folder}")
