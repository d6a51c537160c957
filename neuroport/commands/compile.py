"""``neuroport compile MODEL --target T``: quantize, check the target's rules, lower, write the artifact."""

from __future__ import annotations

import time
from pathlib import Path

import click

from neuroport.commands.common import (
    COUNT,
    COUNT_OR_ZERO,
    allow_lossy_option,
    data_option,
    echo_json,
    json_option,
    load_any_model,
    loss_warnings,
)
from neuroport.errors import ModelError, NeuroportError
from neuroport.ir.artifact import save_artifact
from neuroport.ir.fixed_graph import FixedGraph
from neuroport.mapping import map_graph
from neuroport.outputs import default_folder, writing
from neuroport.pipeline import cost_report, emulate_fixed, prepare, quant_errors, task_batch
from neuroport.reporters.energy import fmt_si
from neuroport.reporters.sanafe_engine import DEFAULT_COST_STEPS, check_engine, crosscheck, format_crosscheck


def _echo_placement(p: dict) -> None:
    board = f"virtual board version {p['board_version']}" if p["virtual_board"] else f"board version {p['board_version']}"
    click.echo(f"  placed    {p['cores']} application cores on {p['chips']} chip(s) of a {board} "
               f"(+{p['system_cores']} system cores), {p['routing_entries_total']} routing entries, in {p['mapping_s']:.1f} s")
    for c in p["placements"]:
        click.echo(f"    {c['vertex']:<10} neurons {c['neurons'][0]}–{c['neurons'][1]} on chip {tuple(c['chip'])} core "
                   f"{c['core']:<2} SDRAM {c['sdram_bytes']:,} B")
    click.echo("    routing entries per chip: " + ", ".join(f"({k}) {v}" for k, v in p["routing_entries_per_chip"].items()))
    if "weights_equal" in p:
        click.echo(f"    stored on the board = ours: weights {p['weights_equal']} ({p['synapses_compared']:,} synapses)"
                   + (f", parameters {p['parameters_equal']} ({p['parameters_compared']:,} words)"
                      if "parameters_equal" in p else ""))


def _estimates(prep, target: str, mapping, inputs, sanafe_steps: int) -> tuple:
    """The headline energy report from emulating ``inputs`` (None: skip) and, when ``sanafe_steps`` > 0, both
    cost engines on the same activity."""
    if inputs is None:
        return None, None
    _, stats = emulate_fixed(prep.fixed, inputs)
    engines = crosscheck(target, prep.fixed, prep.hw, mapping, inputs, sanafe_steps) if sanafe_steps > 0 else None
    return cost_report(prep, target, stats), engines


def _prepare(model: str, graph, target: str, hw_name: str | None, allow_lossy: bool):
    """``prepare``, with the model file named in a refusal of the model's content (fan-in above a core)."""
    try:
        return prepare(graph, target, hw_name, allow_lossy)
    except ModelError as err:
        if err.file is not None:
            raise
        raise ModelError(err.message, file=model, path=err.path) from None


@click.command("compile")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="emulator", show_default=True, help="Target from `neuroport targets`.")
@click.option("--hw", "hw_name", default=None, help="Hardware config name (hw_configs/) or YAML path; default: the target's.")
@click.option("--out", "-o", type=click.Path(file_okay=False), default=None, help="Artifact folder [default: build/<model>-<target>].")
@click.option("--samples", type=COUNT_OR_ZERO, default=4, show_default=True, help="Task samples emulated for the headline energy estimate (0: skip).")
@click.option("--cost-engine", "cost_engine", default="analytic", show_default=True,
              help="analytic, or sanafe: also cost the emulated samples on SANA-FE (Loihi 1 configs; extra 'sanafe').")
@click.option("--cost-steps", "cost_steps", type=COUNT, default=DEFAULT_COST_STEPS, show_default=True,
              help="At most this many SANA-FE steps (whole samples where they fit).")
@allow_lossy_option
@data_option
@json_option
def command(model: str, target: str, hw_name: str | None, out: str | None, samples: int, cost_engine: str,
            cost_steps: int, allow_lossy: bool, data: str | None, as_json: bool) -> None:
    """Quantize MODEL for a hardware config, check it against the target's rules, and write the artifact.

    \b
    The summary gives the cores and chips used, the weight formats, the quantization error of every tensor,
    and a headline energy / latency / EDP estimate from emulating a few task samples.

    \b
    Examples:
      neuroport compile examples/evidence_accumulation.yaml --target loihi-sim
      neuroport compile model.yaml --target emulator --hw loihi1 -o build/ea --json
      neuroport compile model.yaml --target loihi-sim --hw loihi1 --cost-engine sanafe
    """
    t0 = time.perf_counter()
    graph = load_any_model(model, data)
    prep = _prepare(model, graph, target, hw_name, allow_lossy)
    use_sanafe = check_engine(cost_engine, prep.hw)
    diagnostics = prep.backend.check(prep.fixed, prep.hw)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise NeuroportError(f"{target} cannot take this model: " + "; ".join(d.format() for d in errors), file=model)
    artifact = prep.backend.lower(prep.fixed, prep.hw)
    folder = Path(out) if out else default_folder(graph.name, target)
    if isinstance(prep.fixed, FixedGraph):
        save_artifact(prep.fixed, folder, extra={"target": target, "model": str(model), "lost_tensors": list(prep.losses)})
    if hasattr(artifact, "save") and artifact is not prep.fixed:
        with writing(folder):
            artifact.save(folder)
    inputs = task_batch(graph, max(samples, 1), seed=graph.seed).inputs if graph.task is not None else None
    board = getattr(prep.backend, "map_on_board", None)  # targets that map on a (virtual) machine
    placement = board(artifact, inputs) if board is not None else None
    compile_s = time.perf_counter() - t0
    mapping = map_graph(prep.fixed, prep.hw)
    errors_q = quant_errors(graph, prep.fixed)
    energy, engines = _estimates(prep, target, mapping, inputs if samples > 0 else None, cost_steps if use_sanafe else 0)
    summary = {
        "model": graph.name, "target": target, "hw": prep.hw.name, "artifact": str(folder), "compile_s": compile_s,
        "cores": len(mapping.cores), "chips": mapping.chips, "mapping": mapping.to_dict(per_core=False), "v_scale": prep.fixed.v_scale,
        "weights": {n: {"bits": d.num_weight_bits, "weight_exp": d.weight_exp, "synapses": d.n_synapses}
                    for n, d in prep.fixed.dense().items()},
        "quantization_error": [e.__dict__ for e in errors_q],
        "warnings": loss_warnings(prep.losses) + [d.format() for d in diagnostics if d.severity != "error"],
        "energy": None if energy is None else energy.to_dict(),
        "cost_engines": engines,
        "placement": None if placement is None else placement.to_dict(),
    }
    if as_json:
        echo_json(summary)
        return
    click.echo(f"compiled {graph.name} for {target} ({prep.hw.name}) in {compile_s:.2f} s → {folder}")
    head, *rest = mapping.summary_lines()
    click.echo(f"  mapping   {head}")
    for line in rest:
        click.echo(f"            {line}")
    if placement is not None:
        _echo_placement(summary["placement"])
    for n, d in prep.fixed.dense().items():
        click.echo(f"  {n:<7}   {d.num_weight_bits}-bit weights, weight_exp {d.weight_exp:+d}, {d.n_synapses:,} synapses")
    click.echo("  quantization error (relative RMS, bits used):")
    for e in errors_q:
        click.echo(f"    {e.tensor:<16} {e.rel_rms_error:8.2e}  {e.bits_used:2d} bits  ({e.detail})")
    for w in summary["warnings"]:
        click.echo(f"  {w}")
    if energy is not None:
        click.echo(f"  estimate  {fmt_si(energy.energy_j, 'J')} and {fmt_si(energy.latency_s, 's')} per inference, "
                   f"EDP {energy.edp_js:.3g} J·s (from {samples} emulated samples; see `neuroport report`)"
                   + ("; static power NOT MODELLED" if energy.static_not_modelled else ""))
    for line in format_crosscheck(engines) if engines else []:  # --cost-engine sanafe
        click.echo(line)
