"""Energy, latency and energy-delay product of one inference, from counted operations and cited per-op costs.

Loihi-family model, event for event the structure of SANA-FE's Loihi description (Boyle et al., "SANA-FE:
Simulating Advanced Neuromorphic Architectures for Fast Exploration", IEEE TCAD 2025; sanafe 2.2.9,
sanafe/examples/loihi.yaml), so that the two engines can be compared line by line (``--cost-engine sanafe``):

    E = N_syn · e_synop                                   synaptic events (one per spike per existing synapse)
      + N_neuron·steps · e_neuron_access                   every compartment is read every step
      + N_active · e_neuron_update                         … and updated when its input or state is non-zero
      + N_spikes · e_spike_out                             spike generation
      + N_messages · e_message                             one message per spike per core holding a target
      + H_ew · e_hop_ew + H_ns · e_hop_ns                  mesh hops (tiles on a width × height mesh)
      + N_learn · e_synupdate + P_static · cores · T       learning; static power (or a "not modelled" line)
      [+ N_chip · 0, "inter-chip spike messages: NOT MODELLED"] when the mapping spans chips: no per-message energy
        or latency of Loihi's chip-to-chip links is published, so the count is shown and costed at nothing

    core time c = (neurons_c·steps · t_access + active_c · t_update + spikes_c · t_spike_out
                   + messages out_c · t_message_out + messages in_c · t_message_in + syn_c · t_synop) / steps
    step time   = max_c core time c + t_sync(tiles in use);     latency = steps × step time;     EDP = E × latency

Counts come from activity statistics (per-neuron spike totals, per-target synaptic events, the masks), never
from per-synapse Python loops: a report costs O(cores × neurons) numpy work on top of the emulation.
Synaptic events and messages are those of every spike fired in the inference, the last step's included (the
emulator's own ``synaptic_ops`` stops one step earlier: it counts a spike when a Dense consumes it).
Input spikes enter at the core they target (one message per input spike per core holding one of its targets,
no hops).  Readout units are non-spiking integrators: read and updated every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuroport.emulator.trace import ActivityStats
from neuroport.hw import HwConfig, Quantity
from neuroport.ir.fixed_graph import FixedGraph
from neuroport.mapping import Mapping

NOT_MODELLED = "not modelled"


@dataclass(frozen=True)
class CostLine:
    item: str
    count: float  # per inference
    unit: Quantity  # joules per operation (watts for static power, whose count is core-seconds)
    energy_j: float
    unit_name: str = "J"
    component: str = ""  # the group the engines are compared on (COMPONENTS)


COMPONENTS = ("synaptic ops", "neuron updates + spikes", "spike messages", "mesh hops", "learning", "static")


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
    latency_parts_s: dict[str, float] = field(default_factory=dict)  # per step: the slowest core's work, sync

    @property
    def edp_js(self) -> float:
        return self.energy_j * self.latency_s

    @property
    def throughput_per_s(self) -> float:
        """Inferences per second, one after another on the mapped cores."""
        return 1.0 / self.latency_s if self.latency_s > 0 else float("inf")

    @property
    def static_not_modelled(self) -> bool:
        return any(ln.unit.sureness == NOT_MODELLED and ln.component == "static" for ln in self.lines)

    def by_component(self) -> dict[str, float]:
        """Energy per inference summed per comparison component (lines without one are left out)."""
        out: dict[str, float] = {}
        for ln in self.lines:
            if ln.component:
                out[ln.component] = out.get(ln.component, 0.0) + ln.energy_j
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target, "hw": self.hw_name, "energy_j": self.energy_j, "latency_s": self.latency_s,
            "step_time_s": self.step_time_s, "edp_js": self.edp_js, "throughput_per_s": self.throughput_per_s, "n_steps": self.n_steps, "cores": self.cores,
            "chips": self.chips, "latency_model": self.latency_model, "latency_parts_s": self.latency_parts_s, "notes": list(self.notes),
            "breakdown": [{"item": ln.item, "component": ln.component, "count": ln.count, "energy_j": ln.energy_j, "unit_j": ln.unit.value,
                           "sureness": ln.unit.sureness, "source": ln.unit.source} for ln in self.lines],
        }


@dataclass(frozen=True, eq=False)
class LoihiCounts:
    """Events of one inference (per sample), in total and per core (arrays over ``mapping.cores``)."""

    synaptic_events: np.ndarray  # per core: events at its synapses
    neuron_steps: np.ndarray  # per core: neurons × steps
    active_updates: np.ndarray  # per core: neuron-steps with non-zero input or state (readout: every step)
    spikes: np.ndarray  # per core: spikes its neurons fire
    messages_out: np.ndarray  # per core: messages it sends (input spikes: sent at the core they enter)
    messages_in: np.ndarray  # per core: messages it receives
    hops_ew: float  # tile-to-tile hops east-west
    hops_ns: float  # north-south
    learning: float
    tiles_used: int

    def totals(self) -> dict[str, float]:
        return {"synaptic_events": float(self.synaptic_events.sum()), "neuron_steps": float(self.neuron_steps.sum()),
                "active_updates": float(self.active_updates.sum()), "spikes": float(self.spikes.sum()),
                "messages": float(self.messages_in.sum()), "hops_ew": self.hops_ew, "hops_ns": self.hops_ns,
                "hops": self.hops_ew + self.hops_ns, "learning": self.learning}


def tile_xy(core_index: np.ndarray, hw: HwConfig) -> tuple[np.ndarray, np.ndarray]:
    """Mesh coordinates of cores: cores fill tiles of ``cores_per_tile`` in order; tile t lies at
    x = t // mesh_height_tiles, y = t % mesh_height_tiles (SANA-FE's numbering, sanafe 2.2.9 src/arch.cpp)."""
    tile = np.asarray(core_index) // hw.resource("cores_per_tile")
    height = hw.resource("mesh_height_tiles")
    return tile // height, tile % height


class _PerSource:
    """Synapses of each source onto a range of targets, from a Dense's synapse list (sorted by target), in either
    storage form: memory and time linear in synapses, no matrix."""

    def __init__(self, dense) -> None:
        self.syn = dense.synapse_list()
        self.first = np.concatenate([[0], np.cumsum(self.syn.fan_in())])

    def counts(self, start: int, stop: int) -> np.ndarray:
        sources = self.syn.sources[self.first[start]:self.first[stop]]
        return np.bincount(sources, minlength=self.syn.shape[1]).astype(np.float64)


def loihi_counts(graph: FixedGraph, stats: ActivityStats, hw: HwConfig, mapping: Mapping) -> LoihiCounts:
    """Count every event of the Loihi model (module docstring) per core, from activity statistics."""
    b, steps = max(stats.batch, 1), stats.n_steps
    spikes = stats.spikes_per_neuron.astype(np.float64) / b
    x_in = stats.input_spikes_per_source.astype(np.float64) / b
    in_events = stats.synaptic_ops_per_target.get("w_in", np.zeros(graph.n_rec)) / b
    core_ids = np.array([c.index for c in mapping.cores])
    cx, cy = tile_xy(core_ids, hw)
    src_x, src_y = np.zeros(graph.n_rec), np.zeros(graph.n_rec)  # mesh position of each recurrent neuron's core
    for c in mapping.cores:
        if c.role == "recurrent":
            src_x[c.start:c.stop], src_y[c.start:c.stop] = cx[c.index], cy[c.index]
    n = len(mapping.cores)
    syn, neuron_steps, active, fired, m_in, m_out = (np.zeros(n) for _ in range(6))
    reached_by = np.zeros(graph.n_rec)  # per recurrent neuron: cores holding one of its targets
    hops_ew = hops_ns = 0.0
    rec_active = stats.active_neuron_updates / b / max(graph.n_rec, 1)  # per recurrent neuron, on average
    lists = {"recurrent": _PerSource(graph.w_rec), "readout": _PerSource(graph.w_out), "input": _PerSource(graph.w_in)}
    for c in mapping.cores:
        rows, i = slice(c.start, c.stop), c.index
        per_source = lists[c.role].counts(c.start, c.stop)  # synapses of each source on this core
        reach = per_source > 0
        syn[i] = float(per_source @ spikes)
        m_in[i] = float(reach @ spikes)
        reached_by += reach
        hops_ew += float(reach @ (spikes * np.abs(src_x - cx[i])))
        hops_ns += float(reach @ (spikes * np.abs(src_y - cy[i])))
        neuron_steps[i] = (c.stop - c.start) * steps
        if c.role == "recurrent":
            inputs_here = lists["input"].counts(c.start, c.stop) > 0
            syn[i] += float(in_events[rows].sum())
            m_in[i] += float(inputs_here @ x_in) if x_in.size else 0.0
            m_out[i] += float(inputs_here @ x_in) if x_in.size else 0.0
            active[i] = (c.stop - c.start) * rec_active
            fired[i] = float(spikes[rows].sum())
        else:
            active[i] = neuron_steps[i]
    for c in mapping.cores:
        if c.role == "recurrent":
            m_out[c.index] += float(spikes[c.start:c.stop] @ reached_by[c.start:c.stop])
    tiles = int(len(np.unique(core_ids // hw.resource("cores_per_tile"))))
    return LoihiCounts(syn, neuron_steps, active, fired, m_out, m_in, hops_ew, hops_ns, stats.learning_updates / b, tiles)


def sync_time(hw: HwConfig, tiles: int) -> Quantity:
    """Barrier time of a step with ``tiles`` tiles in use: the entry ``t_sync_tiles_K_s`` with the largest K ≤ tiles
    (a lookup table, as in SANA-FE's ``latency_sync``); a config without a table gives ``t_sync_s``."""
    table = {int(k.split("_")[3]): hw.time(k) for k in hw.timing if k.startswith("t_sync_tiles_")}
    if not table:
        return hw.time("t_sync_s")
    below = [k for k in table if k <= tiles]
    return table[max(below) if below else min(table)]


def _core_step_times(n: LoihiCounts, hw: HwConfig, steps: int) -> np.ndarray:
    """Average step time of each core: all of its work in sequence (SANA-FE lets a core receive while its neurons
    update, docs/design/costs.md; the sum is the conservative bound)."""
    t = lambda key: hw.time(key).value  # noqa: E731
    work = (n.neuron_steps * t("t_neuron_access_s") + n.active_updates * t("t_neuron_update_s") + n.spikes * t("t_spike_out_s")
            + n.messages_out * t("t_message_out_s") + n.messages_in * t("t_message_in_s") + n.synaptic_events * t("t_synop_s"))
    return work / max(steps, 1)


def static_line(hw: HwConfig, core_seconds: float) -> CostLine:
    """Static power × cores × time, or a visible zero line saying it is not modelled (never a silent 0)."""
    if "p_static_core_w" in hw.energy:
        q = hw.cost("p_static_core_w")
        return CostLine("static power (core-seconds)", core_seconds, q, core_seconds * q.value, "W", "static")
    missing = Quantity(0.0, f"{hw.name} has no energy.p_static_core_w: no published figure; add a measured one", NOT_MODELLED)
    return CostLine("static power: NOT MODELLED", core_seconds, missing, 0.0, "W", "static")


def inter_chip_messages(stats: ActivityStats, mapping: Mapping) -> float:
    """Messages per inference that cross chips: per-neuron spikes (per sample) @ chips other than its own that hold
    one of its targets (:mod:`neuroport.placement`); 0 on one chip."""
    if mapping.traffic is None or mapping.chips <= 1:
        return 0.0
    spikes = stats.spikes_per_neuron.astype(np.float64) / max(stats.batch, 1)
    return float(spikes @ mapping.traffic.remote_chips)


def _inter_chip_lines(hw: HwConfig, stats: ActivityStats, mapping: Mapping) -> list[CostLine]:
    """The inter-chip line of the family when the mapping spans chips (module docstrings), else none."""
    if mapping.chips <= 1:
        return []
    count = inter_chip_messages(stats, mapping)
    if hw.family == "spinnaker":
        q = hw.cost("e_packet_j")
        return [CostLine("inter-chip packets (+1 router each)", count, q, count * q.value)]
    missing = Quantity(0.0, f"no published per-message energy of {hw.name}'s chip-to-chip links", NOT_MODELLED)
    return [CostLine("inter-chip spike messages: NOT MODELLED", count, missing, 0.0)]


def loihi_energy(target: str, graph: FixedGraph, stats: ActivityStats, hw: HwConfig, mapping: Mapping) -> EnergyReport:
    """The Loihi-family cost model (module docstring)."""
    n = loihi_counts(graph, stats, hw, mapping)
    tot = n.totals()
    items = (
        ("synaptic events", tot["synaptic_events"], "e_synop_j", "synaptic ops"),
        ("neuron state reads (all, every step)", tot["neuron_steps"], "e_neuron_access_j", "neuron updates + spikes"),
        ("neuron updates (non-zero input/state)", tot["active_updates"], "e_neuron_update_j", "neuron updates + spikes"),
        ("spikes generated", tot["spikes"], "e_spike_out_j", "neuron updates + spikes"),
        ("spike messages to cores", tot["messages"], "e_message_j", "spike messages"),
        ("mesh hops east-west", n.hops_ew, "e_hop_ew_j", "mesh hops"),
        ("mesh hops north-south", n.hops_ns, "e_hop_ns_j", "mesh hops"),
        ("learning (synaptic updates)", n.learning, "e_synupdate_j", "learning"),
    )
    lines = [CostLine(name, count, hw.cost(key), count * hw.cost(key).value, "J", comp) for name, count, key, comp in items]
    work = float(_core_step_times(n, hw, stats.n_steps).max(initial=0.0))
    sync = sync_time(hw, n.tiles_used).value
    step = work + sync
    latency = stats.n_steps * step
    lines += _inter_chip_lines(hw, stats, mapping)
    lines.append(static_line(hw, len(mapping.cores) * latency))
    notes = [f"{ln.item}: per-op cost is {ln.unit.sureness} ({ln.unit.source})" for ln in lines
             if ln.unit.sureness in ("estimate", "unverified", NOT_MODELLED)]
    if mapping.chips > 1:
        notes.append(f"{mapping.chips} chips: chip-to-chip link latency not modelled (no published figure); "
                     "the latency is that of the cores and the barrier alone")
    if graph.n_in and stats.input_spikes_per_source.size == 0:
        notes.append("input spike messages not counted: the activity statistics carry no per-input spike counts")
    return EnergyReport(
        target=target, hw_name=hw.name, lines=tuple(lines), energy_j=float(sum(ln.energy_j for ln in lines)),
        step_time_s=step, latency_s=latency, n_steps=stats.n_steps, cores=len(mapping.cores), chips=mapping.chips,
        latency_model="steps × (slowest core's average step work + sync barrier for the tiles in use)",
        notes=tuple(notes), latency_parts_s={"slowest core work per step": work, "barrier/sync per step": sync},
    )


def spinnaker_energy(target: str, graph: object, stats: ActivityStats, hw: HwConfig, mapping: Mapping) -> EnergyReport:
    """SpiNNaker toolchain power model (spinn_machine 1!7.4.1, version/version_spin1.py and version_5.py), real time:

        T = steps × t_step × time_scale_factor
        E = chips · P_idle_chip · T + active cores · P_active_core · T + packets · E_packet
            + inter-chip messages · E_packet
    with one multicast packet per spike at its own chip's router, and, where the mapping spans chips, one more
    router traversal per chip the spike reaches beyond its own (spinn_machine's model costs E_packet per packet per
    router, local or external: COST_PER_PACKET_TYPE in version_spin1.py).  Hops through intermediate chips are
    not counted (the chips' positions on the board are not modelled): the inter-chip term is a lower bound.
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
    lines += _inter_chip_lines(hw, stats, mapping)
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
