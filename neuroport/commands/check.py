"""``neuroport check MODEL``: validate a model file and summarise it."""

from __future__ import annotations

from typing import Any

import click
import numpy as np

from neuroport.commands.common import echo_json, json_option, load_any_model
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.preflight import graph_sizes
from neuroport.resources import estimate, fmt_bytes

BYTES_PER_FLOAT = 8  # float64 weights in the float IR
# NEST's regular_spike_arrival: false, as `check` prints it
ZETA_NOTE = {"population": ", inputs × (1 − α) (regular_spike_arrival false)",
             "readout": ", inputs × (1 − κ) (regular_spike_arrival false)"}


def summarize(graph: FloatGraph) -> dict[str, Any]:
    """Populations, projections, synapse counts and parameter memory of a graph, as plain data."""
    pops = [
        {
            "name": p.name,
            "model": p.kind,
            "size": p.size,
            **_neuron_summary(p),
            **({"regular_spike_arrival": p.regular_spike_arrival} if hasattr(p, "regular_spike_arrival") else {}),
        }
        for p in graph.populations
    ]
    projs = [
        {
            "name": p.name,
            "source": list(p.source),
            "target": list(p.target),
            "shape": list(p.shape),
            "storage": "sparse" if p.is_sparse else "dense",
            "synapses": p.n_synapses,
            "density": p.n_synapses / max(p.shape[0] * p.shape[1], 1),
            "plastic": p.plastic,
            "delay_steps": p.delay_steps,
            "weight_range": _range(p.synapse_weights()),
        }
        for p in graph.projections
    ]
    n_syn = sum(p["synapses"] for p in projs)
    learning = graph.learning
    return {
        "name": graph.name,
        "dt_ms": graph.dt_ms,
        "input": {"name": graph.input.name, "size": graph.input.size},
        "populations": pops,
        "readout": {"name": graph.readout.name, "size": graph.readout.size, "loss": graph.readout.loss,
                    "tau_out_ms": _span(graph.readout.tau_out_ms),
                    "regular_spike_arrival": graph.readout.regular_spike_arrival},
        "projections": projs,
        "neurons": graph.n_recurrent,
        "synapses": n_syn,
        "weight_memory_bytes": n_syn * BYTES_PER_FLOAT,
        "learning": None if learning is None else {
            "variant": learning.variant, "feedback": learning.feedback, "optimizer": learning.optimizer.name,
            "learning_rate": learning.optimizer.learning_rate, "batch_size": learning.batch_size,
            "learning_rate_decay": None if not learning.optimizer.decays else {
                "factor": learning.optimizer.decay_factor, "every_iterations": learning.optimizer.decay_every},
            "reward": None if learning.reward is None else {
                k: getattr(learning.reward, k) for k in ("gamma", "c_value", "c_entropy", "reward_correct",
                                                          "reward_wrong", "decision", "value_tau_ms")},
            "rewiring": None if learning.rewiring is None else {
                "projections": list(learning.rewiring.projections), "l1": learning.rewiring.l1,
                "temperature": learning.rewiring.temperature},
            "eprop_plus": None if learning.plus is None else {
                "kappa": learning.plus.kappa, "kappa_reg": learning.plus.kappa_reg,
                "isi_trace_cutoff_steps": learning.plus.isi_trace_cutoff_steps,
                "optimize_each_step": learning.plus.optimize_each_step,
                "target_alignment": learning.plus.target_alignment},
        },
        "task": None if graph.task is None else graph.task.name,
        "resources": estimate(graph_sizes(graph)).to_dict(),
        "warnings": range_warnings(graph),
    }


# neuron models summarised by other parameters than LIF/ALIF's tau_m_ms, v_th (and tau_a_ms)
SUMMARY_FIELDS = {"izhikevich": ("a", "b", "c_mv", "d", "i_offset"),
                  "lif_ca2_adaptive": ("tau_m_ms", "v_th", "tau_ca2_ms", "i_alpha")}


def _neuron_summary(p: Any) -> dict[str, Any]:
    if p.kind in SUMMARY_FIELDS:
        return {k: _span(getattr(p, k)) for k in SUMMARY_FIELDS[p.kind]}
    return {"tau_m_ms": _span(p.tau_m_ms), "v_th": _span(p.v_th),
            **({"tau_a_ms": _span(p.adaptation()[1])} if p.kind in ("alif", "alif_psc_delta") else {}),
            **({"v_reset": _span(p.v_reset)} if hasattr(p, "v_reset") else {})}


def _range(values: np.ndarray) -> list[float]:
    return [float(values.min()), float(values.max())] if values.size else [0.0, 0.0]


def _span(values: np.ndarray) -> float | list[float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    return lo if lo == hi else [lo, hi]


def _render(s: dict[str, Any]) -> str:
    lines = [f"{s['name']}: valid — {s['neurons']} recurrent neurons, {s['synapses']:,} synapses, dt {s['dt_ms']} ms"]
    lines.append(f"  input    {s['input']['name']}: {s['input']['size']} spike channels")
    for p in s["populations"]:
        if p["model"] in SUMMARY_FIELDS:
            params = ", ".join(f"{k} {p[k]}" for k in SUMMARY_FIELDS[p["model"]])
            lines.append(f"  {p['model']:<8} {p['name']}: {p['size']} neurons, {params}")
            continue
        extra = f", tau_a {p['tau_a_ms']} ms" if "tau_a_ms" in p else ""
        extra += f", v_reset {p['v_reset']} (clamped while refractory)" if "v_reset" in p else ""
        extra += ZETA_NOTE["population"] if p.get("regular_spike_arrival") is False else ""
        lines.append(f"  {p['model']:<8} {p['name']}: {p['size']} neurons, tau_m {p['tau_m_ms']} ms, v_th {p['v_th']}{extra}")
    r = s["readout"]
    zeta = "" if r["regular_spike_arrival"] else ZETA_NOTE["readout"]
    lines.append(f"  readout  {r['name']}: {r['size']} units, tau_out {r['tau_out_ms']} ms, loss {r['loss']}{zeta}")
    for p in s["projections"]:
        delay = "" if p["delay_steps"] == 1 else f", delay {p['delay_steps']} steps"
        lines.append(
            f"  proj     {p['name']}: {'+'.join(p['source'])} → {'+'.join(p['target'])}  {p['shape'][0]}×{p['shape'][1]}, "
            f"{p['synapses']:,} synapses ({p['density']:.0%}){'' if p['plastic'] else ', frozen'}{delay}"
        )
    lines.append(f"  weights  {s['weight_memory_bytes'] / 1024:.1f} KiB as float64")
    if s["learning"]:
        lr = s["learning"]
        decay = lr["learning_rate_decay"]
        decay = f" (×{decay['factor']} every {decay['every_iterations']} iterations)" if decay else ""
        lines.append(f"  learning e-prop ({lr['variant']}), {lr['feedback']} feedback, {lr['optimizer']} η={lr['learning_rate']}"
                     f"{decay}, batch {lr['batch_size']}")
        if lr.get("reward"):
            rw = lr["reward"]
            lines.append(f"  reward   actor-critic: γ={rw['gamma']}, c_value={rw['c_value']}, c_entropy={rw['c_entropy']}, "
                         f"reward {rw['reward_correct']}/{rw['reward_wrong']}, actions {rw['decision']}, critic τ {rw['value_tau_ms']} ms")
        if lr.get("rewiring"):
            rw = lr["rewiring"]
            lines.append(f"  rewiring DEEP R on {', '.join(rw['projections'])} (synapse counts fixed), l1 {rw['l1']}, "
                         f"temperature {rw['temperature']}")
        if lr.get("eprop_plus"):
            ep = lr["eprop_plus"]
            lines.append(f"  e-prop+  κ {ep['kappa'] if ep['kappa'] is not None else 'of the readout'}, κ_reg "
                         f"{ep['kappa_reg'] if ep['kappa_reg'] is not None else '= κ'}, trace cutoff "
                         f"{ep['isi_trace_cutoff_steps'] or 'none'} steps, "
                         f"{'an optimizer step per time step' if ep['optimize_each_step'] else 'updates per spike'}"
                         f"{', targets of the next step (NEST example)' if ep['target_alignment'] == 'nest_example' else ''}")
    if s["task"]:
        lines.append(f"  task     {s['task']}")
    lines.append(_render_resources(s["resources"]))
    lines += [f"  warning  {w}" for w in s["warnings"]]
    return "\n".join(lines)


MULTIPLY_ADDS_PER_S = 1e9  # order of magnitude of one CPU core running numpy's dense products


def _render_resources(r: dict[str, Any]) -> str:
    limit = "unknown" if r["limit_bytes"] is None else fmt_bytes(r["limit_bytes"])
    top = max(r["items"], key=lambda i: i["bytes"])
    seconds = r["multiply_adds_per_sequence"] * max(r["batch"], 1) / MULTIPLY_ADDS_PER_S
    return (f"  memory   ~{fmt_bytes(r['total_bytes'])} estimated (largest: {top['what']}, {fmt_bytes(top['bytes'])}) "
            f"of {limit} allowed; ~{r['multiply_adds_per_sequence']:.2g} multiply-adds per sequence, "
            f"order of {seconds:.1g} s per batch of {r['batch']}")


def range_warnings(graph: FloatGraph) -> list[str]:
    """Values that are legal but likely wrong: time constants below dt, delays longer than a sequence, Poisson rates
    that saturate at 1/dt."""
    out = []
    for i, p in enumerate(graph.populations):
        tau = getattr(p, "tau_m_ms", None)
        if tau is not None and float(np.min(tau)) < graph.dt_ms:
            out.append(f"populations[{i}].tau_m_ms: {float(np.min(tau)):g} ms is below dt_ms {graph.dt_ms:g}: the "
                       "membrane forgets its input within one step")
    n_steps = graph_sizes(graph).n_steps
    for i, proj in enumerate(graph.projections):
        if n_steps and proj.delay_steps > n_steps:
            out.append(f"projections[{i}].delay_steps: {proj.delay_steps} exceeds the task's {n_steps} steps per "
                       "sequence: no spike arrives through it")
    if graph.task is not None:
        max_hz = 1e3 / graph.dt_ms
        for key, value in graph.task.params.items():
            if str(key).endswith("_hz") and isinstance(value, (int, float)) and value > max_hz:
                out.append(f"task.params.{key}: {value:g} Hz exceeds 1/dt = {max_hz:g} Hz: every step spikes")
    return out


@click.command("check")
@click.argument("model", type=click.Path(dir_okay=False))
@json_option
def command(model: str, as_json: bool) -> None:
    """Validate MODEL (model.yaml or .nir) and summarise it: populations, projections, synapses, memory.

    Every problem is reported with the file and the YAML path of the field, e.g.
    `model.yaml: populations[1].tau_m_ms: expected a positive number, got -20`, and exit status 2.
    Task parameters are checked by name, type and range, and the memory a training batch needs is estimated
    before anything is allocated: a model above the limit (the available memory, or `neuroport --memory-limit GB`)
    is refused, naming the field that dominates.

    \b
    Example:
      neuroport check examples/evidence_accumulation.yaml
    """
    summary = summarize(load_any_model(model))
    if as_json:
        echo_json(summary)
    else:
        click.echo(_render(summary))
