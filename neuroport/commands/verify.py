"""``neuroport verify MODEL --target T``: float vs fixed point on task data, and backend vs emulator."""

from __future__ import annotations

import click

from neuroport.commands.common import (
    COUNT,
    COUNT_OR_ZERO,
    SEED,
    allow_lossy_option,
    data_option,
    echo_json,
    json_option,
    load_any_model,
    loss_warnings,
)
from neuroport.pipeline import compare, cost_report, prepare, task_batch
from neuroport.reporters.energy import fmt_si


def _fmt_score(score: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" if k == "mse" else f"{k} {100 * v:.1f} %" for k, v in score.items())


@click.command("verify")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="emulator", show_default=True, help="Target from `neuroport targets`.")
@click.option("--hw", "hw_name", default=None, help="Hardware config; default: the target's.")
@click.option("--samples", "-n", type=COUNT, default=64, show_default=True, help="Task samples to compare on.")
@click.option("--seed", type=SEED, default=12345, show_default=True, help="Seed of the task samples (test data).")
@click.option("--backend-samples", type=COUNT_OR_ZERO, default=2, show_default=True,
              help="Samples also run on the backend and compared with the emulator step by step (a Lava run takes seconds).")
@allow_lossy_option
@data_option
@json_option
def command(model: str, target: str, hw_name: str | None, samples: int, seed: int, backend_samples: int,
            allow_lossy: bool, data: str | None, as_json: bool) -> None:
    """Measure what quantization costs, and check the backend against the emulator.

    \b
    1. Float reference vs the fixed-point emulator on SAMPLES sequences of the model's task: accuracy (or MSE)
       of each, the drop, spike agreement, firing rates and every saturation/wrap event counted.
    2. For a hardware backend (e.g. loihi-sim): the backend's spikes and integer states against the emulator,
       step by step; `bit_exact` is true only if every one is equal.

    \b
    Example:
      neuroport verify examples/evidence_accumulation.yaml --target loihi-sim --samples 32 --json
    """
    graph = load_any_model(model, data)
    prep = prepare(graph, target, hw_name, allow_lossy)
    batch = task_batch(graph, samples, seed)
    result = compare(graph, prep.fixed, batch)
    energy = cost_report(prep, target, result.stats)
    payload = {"model": graph.name, "target": target, "hw": prep.hw.name, "samples": samples, **result.to_dict(),
               "energy_j": energy.energy_j, "latency_s": energy.latency_s, "edp_js": energy.edp_js,
               "lost_tensors": len(prep.losses), "warnings": loss_warnings(prep.losses)}
    backend_check = getattr(prep.backend, "verify_against_emulator", None)
    if backend_check is not None:
        payload["backend"] = backend_check(prep.fixed, batch.inputs, max_samples=backend_samples)
        payload["bit_exact"] = payload["backend"]["bit_exact"]
    if as_json:
        echo_json(payload)
        return
    click.echo(f"verify {graph.name} on {samples} samples of {graph.task.name} ({prep.hw.name})")
    click.echo(f"  float reference  {_fmt_score(result.float_score)}   rate {result.float_rate_hz:.1f} Hz")
    click.echo(f"  fixed point      {_fmt_score(result.fixed_score)}   rate {result.fixed_rate_hz:.1f} Hz")
    drop = result.drop()
    for k, v in drop.items():
        click.echo(f"  {k.replace('_', ' ')}  {v:+.2f}")
    click.echo(f"  spike agreement  {100 * result.spike_agreement:.2f} % of neuron-steps")
    sat = dict(result.stats.overflow)
    click.echo(f"  saturation/wrap  {sat if sat else 'none'}")
    click.echo(f"  lost tensors     {len(prep.losses)}" + (" (--allow-lossy)" if prep.losses else ""))
    click.echo(f"  estimate         {fmt_si(energy.energy_j, 'J')}, {fmt_si(energy.latency_s, 's')} per inference, "
               f"EDP {energy.edp_js:.3g} J·s on {prep.hw.name}")
    for warning in payload["warnings"]:
        click.echo(f"  {warning}")
    if "backend" in payload:
        b = payload["backend"]
        click.echo(f"  {target} vs emulator: bit_exact {b['bit_exact']} ({b['detail']})")
        if "not_run" in b:
            click.echo(f"  not run          {b['not_run']}")
