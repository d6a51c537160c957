"""``neuroport report MODEL``: energy, latency and EDP per inference, per hardware config."""

from __future__ import annotations

import click

from neuroport.backend import load_backend
from neuroport.commands.common import (
    COUNT,
    NameList,
    allow_lossy_option,
    data_option,
    echo_json,
    json_option,
    load_any_model,
    loss_warnings,
)
from neuroport.hw import load_hw
from neuroport.pipeline import costs, task_batch
from neuroport.reporters.energy import fmt_si
from neuroport.reporters.sanafe_engine import DEFAULT_COST_STEPS, check_engine, format_crosscheck


def cpu_baseline(graph, inputs) -> dict:
    """Wall time of the float reference on this machine per inference (batched, best of 3)."""
    import time

    from neuroport.emulator.float_run import simulate_graph

    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        simulate_graph(graph, inputs)  # the float simulator of the graph's neuron model
        times.append(time.perf_counter() - t0)
    return {"seconds_per_inference": min(times) / inputs.shape[0], "energy_j": None, "device": "this machine's CPU",
            "note": "time of the numpy float reference; energy is not estimated without a power measurement"}


def _crosscheck(graph, target: str, hw, inputs, cost_steps: int, allow_lossy: bool) -> dict:
    """Analytic vs SANA-FE on the emulator's activity for this config (neuroport.reporters.sanafe_engine)."""
    from neuroport.mapping import map_graph
    from neuroport.pipeline import quantize
    from neuroport.reporters.sanafe_engine import crosscheck

    fixed = quantize(graph, hw, allow_lossy=allow_lossy)
    return crosscheck(target, fixed, hw, map_graph(fixed, hw), inputs, cost_steps)


def _write_html(path: str, name: str, reports: list, rates: dict, cpu: dict, metrics, warnings: list[str]) -> None:
    import tempfile
    from pathlib import Path

    from neuroport.reporters.html import write_html
    from neuroport.reporters.plots import plot_energy_breakdown, plot_population_activity

    with tempfile.TemporaryDirectory() as tmp:
        images = [plot_energy_breakdown(reports, Path(tmp) / "energy.png"), plot_population_activity(rates, Path(tmp) / "activity.png")]
        extra = {**{f"warning {i + 1}": w for i, w in enumerate(warnings)},
                 "CPU baseline, s per inference": f"{cpu['seconds_per_inference']:.3g} ({cpu['note']})", **metrics.to_dict()}
        write_html(path, f"neuroport report: {name}", reports, images, extra)


@click.command("report")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="emulator", show_default=True, help="Target whose costs to report.")
@click.option("--hw", "hw_name", default=None, help="Hardware config; default: the target's.")
@click.option("--compare", "compare_hw", type=NameList(), default=None, help="Comma-separated hw configs to report side by side, e.g. loihi1,loihi2.")
@click.option("--samples", "-n", type=COUNT, default=8, show_default=True, help="Task samples emulated to count operations.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write the energy breakdown as a PNG.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Write a self-contained HTML report (tables, energy and activity plots).")
@click.option("--cost-engine", "cost_engine", default="analytic", show_default=True,
              help="analytic (the per-op model, fast at any size), or sanafe: also cost the same activity on SANA-FE "
                   "(Loihi 1 configs; extra 'sanafe') and show both engines side by side with their ratio.")
@click.option("--cost-steps", "cost_steps", type=COUNT, default=DEFAULT_COST_STEPS, show_default=True,
              help="At most this many SANA-FE steps (whole samples where they fit; else the first steps of one).")
@allow_lossy_option
@data_option
@json_option
def command(model: str, target: str, hw_name: str | None, compare_hw: list[str] | None, samples: int, plot: str | None,
            html_path: str | None, cost_engine: str, cost_steps: int, allow_lossy: bool, data: str | None, as_json: bool) -> None:
    """Report energy, latency and energy-delay product per inference, with the breakdown and its sources.

    \b
    Operations are counted by the bit-accurate emulator on SAMPLES task sequences; per-operation costs come
    from the hw config, each with its source and how sure it is (paper, model, estimate, unverified).

    \b
    With --cost-engine sanafe the same spike trains, core placement and steps are also run on SANA-FE's Loihi
    description (sanafe 2.2.9; Boyle et al., IEEE TCAD 2025) and both engines are shown per component (synaptic
    ops, neuron updates and spikes, messages, mesh hops, barrier/sync, static power) with the ratio analytic /
    SANA-FE (docs/design/costs.md).

    \b
    Examples:
      neuroport report examples/evidence_accumulation.yaml --compare loihi1,loihi2
      neuroport report results/evidence_accumulation_trained.yaml --target loihi-sim --hw loihi1 --cost-engine sanafe --json
    """
    graph = load_any_model(model, data)
    configs = compare_hw or [hw_name]
    default_hw = load_backend(target).capabilities(None).default_hw
    hws = [load_hw(cfg or default_hw) for cfg in configs]
    use_sanafe = [check_engine(cost_engine, hw) for hw in hws][0] if hws else False
    inputs = task_batch(graph, samples, seed=graph.seed).inputs
    results = [costs(graph, target, hw, inputs, allow_lossy) for hw in hws]
    checks = [_crosscheck(graph, target, hw, inputs, cost_steps, allow_lossy) for hw in hws] if use_sanafe else [None] * len(hws)
    reports, metrics = [r.energy for r in results], [r.metrics for r in results]
    cpu = cpu_baseline(graph, inputs)
    rates = {r.hw_name: res.rates_hz for r, res in zip(reports, results, strict=True)}
    if plot:
        from neuroport.reporters.plots import plot_energy_breakdown

        plot_energy_breakdown(reports, plot)
    if html_path:
        _write_html(html_path, graph.name, reports, rates, cpu, metrics[0], [w for r in results for w in loss_warnings(r.losses)])
    if as_json:
        echo_json({"model": graph.name, "samples": samples,
                   "reports": [{**r.energy.to_dict(), "neurobench": r.metrics.to_dict(), "activity_from": r.activity_source,
                                "rates_hz": r.rates_hz, "cost_engines": cc, "warnings": loss_warnings(r.losses)}
                               for r, cc in zip(results, checks, strict=True)], "cpu_baseline": cpu})
        return
    for r, res, cc in zip(reports, results, checks, strict=True):
        click.echo(f"{graph.name} on {r.hw_name} ({r.target}): {r.cores} cores, {r.chips} chip(s), {r.n_steps} steps per inference")
        click.echo(f"  activity counted by the {res.activity_source}")
        for warning in loss_warnings(res.losses):
            click.echo(f"  {warning}")
        for ln in r.lines:
            count = f"{ln.count:,.0f}" if float(ln.count).is_integer() else f"{ln.count:,.4g}"
            click.echo(f"  {ln.item:<38} {count:>12} × {fmt_si(ln.unit.value, ln.unit_name):>9} = {fmt_si(ln.energy_j, 'J'):>10}  [{ln.unit.sureness}]")
        click.echo(f"  {'total energy':<38} {fmt_si(r.energy_j, 'J'):>36}")
        click.echo(f"  latency {fmt_si(r.latency_s, 's')} ({fmt_si(r.step_time_s, 's')} per step), EDP {r.edp_js:.3g} J·s, "
                   f"throughput {r.throughput_per_s:,.4g} inferences/s")
        click.echo(f"  latency model: {r.latency_model}")
        for note in r.notes:
            click.echo(f"  note: {note}")
        for line in format_crosscheck(cc) if cc else []:
            click.echo(line)
    click.echo(f"CPU baseline (this machine, float reference in numpy, batch {samples}): "
               f"{fmt_si(cpu['seconds_per_inference'], 's')} per inference; energy not measured (no power meter here)")
    m = metrics[0]
    click.echo(f"NeuroBench-style, per sample: {m.effective_acs:,.0f} effective ACs, {m.dense_ops:,.0f} dense ops, "
               f"activation sparsity {m.activation_sparsity:.3f}, connection sparsity {m.connection_sparsity:.3f}, "
               f"{m.parameter_count:,} parameters, footprint {m.footprint_bytes / 1024:.1f} KiB")
