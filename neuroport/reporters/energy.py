"""Energy, latency and energy-delay product of one inference, from counted operations and cited per-op costs.

Loihi-family model (Davies et al. 2018; the SANA-FE way of building Loihi estimates, hardware.md):

    E = N_synop · e_synop + N_active · e_neuron_active + (N_updates − N_active) · e_neuron_inactive
        + N_deliveries · e_spike_tile + N_hops · e_hop + N_learn · e_synupdate + P_static · cores · T
    (a spike is delivered once to every core holding one of its targets; see :func:`spike_routing`)
    step time = max over cores (synop_c · t_synop + active_c · t_neuron_active + inactive_c · t_neuron_inactive)
                + t_barrier                                       (per-core counts averaged over the run's steps)
    latency = steps × step time;   EDP = E × latency

Each line of the breakdown carries the sureness of its per-op cost (paper / model / estimate / unverified).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuroport.emulator.trace import ActivityStats
from neuroport.hw import HwConfig, Quantity
from neuroport.ir.fixed_graph import FixedGraph
from neuroport.mapping import Mapping


@dataclass(frozen=True)
class CostLine:
    item: str
    count: float  # per inference
    unit: Quantity  # joules per operation (watts for static power, whose count is core-seconds)
    energy_j: float
    unit_name: str = "J"


@dataclass(frozen=True)
class EnergyReport:
    target: str
    hw_name: str
    lines: tuple[CostLine, ...]
    energy_j: float  # per inference, the sum of the lines
    step_time_s: float
    latency_s: float  # per inference
    n_steps: int
    cores: int
    chips: int
    latency_model: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def edp_js(self) -> float:
        return self.energy_j * self.latency_s

    @property
    def throughput_per_s(self) -> float:
        """Inferences per second, one after another on the mapped cores."""
        return 1.0 / self.latency_s if self.latency_s > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target, "hw": self.hw_name, "energy_j": self.energy_j, "latency_s": self.latency_s,
            "step_time_s": self.step_time_s, "edp_js": self.edp_js, "throughput_per_s": self.throughput_per_s, "n_steps": self.n_steps, "cores": self.cores,
            "chips": self.chips, "latency_model": self.latency_model, "notes": list(self.notes),
            "breakdown": [{"item": ln.item, "count": ln.count, "energy_j": ln.energy_j, "unit_j": ln.unit.value,
                           "sureness": ln.unit.sureness, "source": ln.unit.source} for ln in self.lines],
        }


def _core_step_time(core_neurons: slice, stats: ActivityStats, hw: HwConfig, role: str) -> float:
    """Average per-step time of one core: its synaptic events plus its neuron updates."""
    steps = stats.batch * stats.n_steps
    denses = ("w_in", "w_rec") if role == "recurrent" else ("w_out",)
    synops = sum(float(stats.synaptic_ops_per_target[d][core_neurons].sum()) for d in denses if d in stats.synaptic_ops_per_target)
    n = core_neurons.stop - core_neurons.start
    active_fraction = stats.active_neuron_updates / max(stats.neuron_updates, 1)
    return (synops / steps * hw.time("t_synop_s").value
            + n * active_fraction * hw.time("t_neuron_active_s").value
            + n * (1 - active_fraction) * hw.time("t_neuron_inactive_s").value)


def spike_routing(graph: FixedGraph, stats: ActivityStats, hw: HwConfig, mapping: Mapping) -> tuple[float, float]:
    """Per inference: (spike deliveries, tile-to-tile hops).  A spike of a recurrent neuron is sent once to every
    core holding one of its targets; cores fill tiles of ``cores_per_tile`` in order and tiles lie on a line, so a
    delivery from tile a to tile b costs |a − b| hops (an estimate of the 2-D mesh distance).  Input spikes come
    from outside the chip and are not counted."""
    per_tile = hw.resource("cores_per_tile")
    lists = {"recurrent": graph.w_rec.synapse_list(), "readout": graph.w_out.synapse_list()}  # sorted by target
    first = {role: np.concatenate([[0], np.cumsum(syn.fan_in())]) for role, syn in lists.items()}
    source_tile = np.zeros(graph.n_rec, dtype=np.int64)  # the tile of each recurrent neuron's core
    for core in mapping.cores:
        if core.role == "recurrent":
            source_tile[core.start:core.stop] = core.index // per_tile
    counts = stats.spikes_per_neuron / max(stats.batch, 1)
    deliveries = hops = 0.0
    for core in mapping.cores:
        syn, ptr = lists[core.role], first[core.role]
        reaches = np.unique(syn.sources[ptr[core.start]:ptr[core.stop]])  # source neurons with a target on this core
        sent = counts[reaches]
        deliveries += float(sent.sum())
        hops += float(np.sum(sent * np.abs(source_tile[reaches] - core.index // per_tile)))
    return deliveries, hops


def loihi_energy(target: str, graph: FixedGraph, stats: ActivityStats, hw: HwConfig, mapping: Mapping) -> EnergyReport:
    """The Loihi-family cost model (module docstring)."""
    c = stats.per_sample()
    inactive = c["neuron_updates"] - c["active_neuron_updates"]
    deliveries, hops = spike_routing(graph, stats, hw, mapping)
    items = (
        ("synaptic operations", c["synaptic_ops"], hw.cost("e_synop_j")),
        ("neuron updates (active)", c["active_neuron_updates"], hw.cost("e_neuron_active_j")),
        ("neuron updates (inactive)", inactive, hw.cost("e_neuron_inactive_j")),
        ("spike deliveries to cores", deliveries, hw.cost("e_spike_tile_j")),
        ("mesh hops between tiles", hops, hw.cost("e_hop_j")),
        ("learning (synaptic updates)", c["learning_updates"], hw.cost("e_synupdate_j")),
    )
    lines = [CostLine(name, count, unit, count * unit.value) for name, count, unit in items]
    step = max(_core_step_time(slice(core.start, core.stop), stats, hw, core.role) for core in mapping.cores)
    step += hw.time("t_barrier_s").value
    latency = stats.n_steps * step
    static = hw.cost("p_static_core_w")
    lines.append(CostLine("static power (core-seconds)", len(mapping.cores) * latency, static,
                          len(mapping.cores) * latency * static.value, unit_name="W"))
    notes = tuple(f"{ln.item}: per-op cost is {ln.unit.sureness} ({ln.unit.source})" for ln in lines if ln.unit.sureness != "paper")
    return EnergyReport(
        target=target, hw_name=hw.name, lines=tuple(lines), energy_j=float(sum(ln.energy_j for ln in lines)),
        step_time_s=step, latency_s=latency, n_steps=stats.n_steps, cores=len(mapping.cores), chips=mapping.chips,
        latency_model="steps × (slowest core's average step work: synops·t_synop + neuron updates·t_neuron) + barrier",
        notes=notes,
    )


def spinnaker_energy(target: str, graph: object, stats: ActivityStats, hw: HwConfig, mapping: Mapping) -> EnergyReport:
    """SpiNNaker toolchain power model (hardware.md), real time:

        T = steps × t_step × time_scale_factor
        E = chips · P_idle_chip · T + active cores · P_active_core · T + packets · E_packet
    with one multicast packet per spike (the routers' replication and per-hop costs are inside E_packet's model).
    """
    step = hw.time("t_step_s").value * hw.time("time_scale_factor").value
    latency = stats.n_steps * step
    spikes = stats.per_sample()["spikes"]
    cores = len(mapping.cores)
    items = (
        ("idle chips (chip-seconds)", mapping.chips * latency, hw.cost("p_idle_chip_w"), "W"),
        ("active cores (core-seconds)", cores * latency, hw.cost("p_active_core_w"), "W"),
        ("spike packets", spikes, hw.cost("e_packet_j"), "J"),
    )
    lines = [CostLine(name, count, unit, count * unit.value, unit_name=u) for name, count, unit, u in items]
    notes = tuple(f"{ln.item}: {ln.unit.sureness} ({ln.unit.source})" for ln in lines if ln.unit.sureness != "paper")
    return EnergyReport(
        target=target, hw_name=hw.name, lines=tuple(lines), energy_j=float(sum(ln.energy_j for ln in lines)),
        step_time_s=step, latency_s=latency, n_steps=stats.n_steps, cores=cores, chips=mapping.chips,
        latency_model="real time: steps × t_step × time_scale_factor", notes=notes,
    )


def energy_report(target: str, graph: FixedGraph, stats: ActivityStats, hw: HwConfig, mapping: Mapping) -> EnergyReport:
    """Dispatch on the config's family."""
    models = {"loihi": loihi_energy, "spinnaker": spinnaker_energy}
    return models[hw.family](target, graph, stats, hw, mapping)


def fmt_si(value: float, unit: str) -> str:
    """Format with an SI prefix: 1.2e-6 J → '1.20 µJ'."""
    if value == 0 or not np.isfinite(value):
        return f"{value:.3g} {unit}"
    prefixes = [(1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"), (1.0, ""), (1e3, "k")]
    scale, prefix = next(((s, p) for s, p in reversed(prefixes) if abs(value) >= s), prefixes[0])
    return f"{value / scale:.3g} {prefix}{unit}"
