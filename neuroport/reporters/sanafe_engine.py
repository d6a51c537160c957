"""``--cost-engine sanafe``: the same inference costed by SANA-FE, an independent architecture simulator.

SANA-FE (Boyle et al., "SANA-FE: Simulating Advanced Neuromorphic Architectures for Fast Exploration", IEEE TCAD
2025; PyPI ``sanafe`` 2.2.9) simulates a spiking network on an architecture description and returns energy and
simulated time per step.  Its Loihi description (sanafe 2.2.9, ``sanafe/examples/loihi.yaml``) gives per-event
energies and times of Loihi's pipeline (its header: from SPICE simulations of Loihi, after Davies et al. 2018).  This module runs it on exactly what the bit-accurate emulator did:

* **same activity** — every neuron's spike train is *replayed* (SANA-FE's ``input`` soma model emits a given
  train), not re-simulated.  A neuroport neuron j becomes two SANA-FE neurons on its core: an *update twin* that
  "fires" on the steps the emulator counted j as active (non-zero input or state) and carries j's incoming
  synapses, and a *spike twin* that fires on j's spikes and carries j's outgoing synapses.  The twins' soma units
  split the Loihi LIF unit's costs, so that per step SANA-FE charges j

      access (every step) + update (active steps) + spike_out (spike steps)      — loihi_lif's three figures

  and routes every spike to every core holding one of its targets, one synaptic event per existing synapse.
  Synapses carry weight 0 (nothing is computed from them; SANA-FE's input model refuses a non-zero current).
  Readout units are update twins active every step.  Input spikes enter at the core they target: one input
  neuron per (input channel, core reached), on SANA-FE's zero-cost ``loihi_inputs`` soma.
* **same placement** — neurons sit on the cores of :func:`neuroport.mapping.map_graph`, cores fill tiles of 4.
* **same steps** — the emulator's steps, samples one after another (SANA-FE's state is never read).

The architecture is SANA-FE's own Loihi file with three bookkeeping changes (never a cost): the replay soma units
above, one per neuron (SANA-FE's input model holds one spike train per unit), and a larger
``max_neurons_supported`` for the twins.  The costs of the units come from the file's ``loihi_lif`` unit.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from neuroport.emulator.trace import ActivityStats
from neuroport.errors import MissingDependencyError, UnsupportedError
from neuroport.hw import HwConfig
from neuroport.ir.fixed_graph import FixedGraph
from neuroport.mapping import Mapping

SANAFE_CONFIGS = ("loihi1",)  # configs whose chip SANA-FE's Loihi description models
UPDATE_UNIT, SPIKE_UNIT, INPUT_UNIT = "np_update", "np_spike", "np_input"


def require_sanafe() -> Any:
    """Import sanafe or say which extra installs it."""
    try:
        import sanafe
    except ImportError as err:
        raise MissingDependencyError("sanafe", "sanafe") from err
    return sanafe


def check_supported(hw: HwConfig) -> None:
    if hw.name not in SANAFE_CONFIGS:
        raise UnsupportedError(f"--cost-engine sanafe models Loihi 1 only (SANA-FE's Loihi description); hw config "
                               f"'{hw.name}' is not one of {', '.join(SANAFE_CONFIGS)}: use --cost-engine analytic")


@dataclass(frozen=True, eq=False)
class Replay:
    """What the emulator did, per neuron and step, samples concatenated: (steps, n) booleans."""

    spikes: np.ndarray  # recurrent spikes
    active: np.ndarray  # recurrent neuron-steps with non-zero input or state (the emulator's "active")
    inputs: np.ndarray  # (steps, n_in) input spikes
    n_samples: int


def replay_of(graph: FixedGraph, inputs: np.ndarray) -> tuple[Replay, ActivityStats]:
    """Emulate ``inputs`` (batch, T, n_in) and recover the per-step active raster from the emulator's own Dense
    arithmetic and probed states; checks that it sums to the emulator's ``active_neuron_updates``."""
    from neuroport.emulator.fixed import DenseOperands, activation, emulate

    trace, stats = emulate(graph, inputs, probe_states=True)
    x = np.asarray(inputs, dtype=np.int64)
    batch, steps, _ = x.shape
    ops = {name: DenseOperands(d) for name, d in graph.dense().items()}
    scratch = ActivityStats.empty(graph, batch, steps)
    a_in = np.zeros((batch, steps, graph.n_rec), dtype=np.int64)
    z_prev = np.zeros((batch, graph.n_rec), dtype=np.int64)
    for t in range(steps):
        a_in[:, t] = activation(ops["w_in"], x[:, t], t, scratch, "w_in") + activation(ops["w_rec"], z_prev, t, scratch, "w_rec")
        z_prev = trace.spikes[:, t].astype(np.int64)
    active = (a_in != 0) | (trace.states["v"] != 0) | (trace.states["a"] != 0)
    if int(active.sum()) != stats.active_neuron_updates:
        raise RuntimeError(f"replayed activity ({int(active.sum())}) differs from the emulator's count ({stats.active_neuron_updates})")
    flat = lambda a: a.reshape(batch * steps, -1).astype(bool)  # noqa: E731
    return Replay(flat(trace.spikes), flat(active), flat(x), batch), stats


def _unit(name: str, count: int, lif: dict[str, float], parts: tuple[str, ...]) -> dict[str, Any]:
    """A replay soma unit (SANA-FE ``input`` model) charging the loihi_lif figures named in ``parts``."""
    attrs: dict[str, Any] = {"model": "input"}
    for part in ("access_neuron", "update_neuron", "spike_out"):
        for kind in ("energy", "latency"):
            attrs[f"{kind}_{part}"] = lif[f"{kind}_{part}"] if part in parts else 0.0
    return {"name": f"{name}[0..{count - 1}]", "attributes": attrs}


def loihi_description() -> dict[str, Any]:
    from importlib.resources import files

    return yaml.safe_load((files("sanafe.examples") / "loihi.yaml").read_text())


def architecture_file(per_core: int, inputs_per_core: int, tiles_used: int, folder: Path) -> tuple[Path, dict[str, Any]]:
    """SANA-FE's Loihi file with the replay units on the first ``tiles_used`` tiles (module docstring)."""
    doc = loihi_description()
    arch = doc["architecture"]
    (tile,) = arch["tile"]
    (core,) = tile["core"]
    lif = next(s for s in core["soma"] if s["attributes"]["model"] == "leaky_integrate_fire")["attributes"]
    full = {**core, "attributes": {**core["attributes"], "max_neurons_supported": 2 * per_core + inputs_per_core},
            "soma": [*core["soma"], _unit(UPDATE_UNIT, per_core, lif, ("access_neuron", "update_neuron")),
                     _unit(SPIKE_UNIT, per_core, lif, ("spike_out",)),
                     {"name": f"{INPUT_UNIT}[0..{max(inputs_per_core, 1) - 1}]", "attributes": dict(core["soma"][1]["attributes"])}]}
    n_tiles = arch["attributes"]["width"] * arch["attributes"]["height"]
    prefix = tile["name"].split("[")[0]
    tiles = [{**tile, "name": f"{prefix}[0..{tiles_used - 1}]", "core": [full]}]
    if tiles_used < n_tiles:
        tiles.append({**tile, "name": f"{prefix}[{tiles_used}..{n_tiles - 1}]"})
    arch["tile"] = tiles
    path = folder / "loihi_replay.yaml"
    path.write_text(yaml.dump(doc, Dumper=_NoAliases, sort_keys=False))
    return path, doc


class _NoAliases(yaml.SafeDumper):
    """Write shared sub-trees out in full: SANA-FE's YAML reader does not resolve anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


@dataclass(frozen=True)
class SanafeResult:
    """SANA-FE's totals per inference, by component, and its event counts per inference."""

    energy_j: float
    latency_s: float
    components_j: dict[str, float]
    counts: dict[str, float]
    n_steps: int  # per inference
    n_samples: int
    sync_s: float  # per step, SANA-FE's latency_sync for the tiles in use
    arch_file: str

    def to_dict(self) -> dict[str, Any]:
        return {"engine": "sanafe 2.2.9", "energy_j": self.energy_j, "latency_s": self.latency_s, "components_j": self.components_j,
                "counts": self.counts, "n_steps": self.n_steps, "samples": self.n_samples, "sync_per_step_s": self.sync_s,
                "architecture": self.arch_file}


def _quiet_stdout() -> contextlib.AbstractContextManager:
    """SANA-FE's ``sim`` prints its own progress through Python's ``print`` (pybind11::print, sanafe 2.2.9
    src/pymodule.cpp); keep it off our stdout (``--json``): the tqdm bar on stderr shows progress instead."""
    return contextlib.redirect_stdout(io.StringIO())


def _train(column: np.ndarray) -> list[bool]:
    return [bool(v) for v in column]


def _place(group: Any, index: int, unit: str, train: np.ndarray, core: Any) -> None:
    group[index].set_attributes(soma_hw_name=unit, model_attributes={"spikes": _train(train)})
    group[index].map_to_core(core)


def _connect(source: Any, target: Any, pairs: list[tuple[int, int]]) -> None:
    if pairs:
        source.connect_neurons_sparse(target, {"weight": [0.0] * len(pairs)}, pairs)


def build_network(sanafe: Any, graph: FixedGraph, mapping: Mapping, replay: Replay, cores: list[Any]) -> Any:
    """The replay network (module docstring) on ``cores`` (SANA-FE's, in neuroport's core order)."""
    net = sanafe.Network()
    steps = replay.spikes.shape[0]
    rec_upd, rec_spk = net.create_neuron_group("rec_update", graph.n_rec), net.create_neuron_group("rec_spike", graph.n_rec)
    out_upd = net.create_neuron_group("out_update", graph.n_out)
    in_mask = graph.w_in.dense_mask()  # built once: a sparse Dense makes a new matrix per call
    copies = [(k, c) for c in mapping.cores if c.role == "recurrent" for k in np.flatnonzero(in_mask[c.start:c.stop].any(axis=0))]
    inputs = net.create_neuron_group("inputs", max(len(copies), 1))
    always = np.ones(steps, dtype=bool)
    for c in mapping.cores:
        for offset, j in enumerate(range(c.start, c.stop)):
            if c.role == "recurrent":
                _place(rec_upd, j, f"{UPDATE_UNIT}[{offset}]", replay.active[:, j], cores[c.index])
                _place(rec_spk, j, f"{SPIKE_UNIT}[{offset}]", replay.spikes[:, j], cores[c.index])
            else:
                _place(out_upd, j, f"{UPDATE_UNIT}[{offset}]", always, cores[c.index])
    in_pairs, seen = [], {}
    for i, (k, c) in enumerate(copies):
        seen[c.index] = seen.get(c.index, -1) + 1
        _place(inputs, i, f"{INPUT_UNIT}[{seen[c.index]}]", replay.inputs[:, k], cores[c.index])
        in_pairs += [(i, int(r)) for r in c.start + np.flatnonzero(in_mask[c.start:c.stop, k])]
    if not copies:  # an idle placeholder: SANA-FE wants every group mapped
        _place(inputs, 0, f"{INPUT_UNIT}[0]", np.zeros(steps, dtype=bool), cores[0])
    _connect(rec_spk, rec_upd, [(int(j), int(i)) for i, j in zip(*np.nonzero(graph.w_rec.dense_mask()), strict=True)])
    _connect(rec_spk, out_upd, [(int(j), int(o)) for o, j in zip(*np.nonzero(graph.w_out.dense_mask()), strict=True)])
    _connect(inputs, rec_upd, in_pairs)
    return net


def _sizes(graph: FixedGraph, mapping: Mapping, hw: HwConfig) -> tuple[int, int, int]:
    per_core = max(c.stop - c.start for c in mapping.cores)
    in_mask = graph.w_in.dense_mask()
    inputs = max((int(in_mask[c.start:c.stop].any(axis=0).sum()) for c in mapping.cores if c.role == "recurrent"), default=0)
    tiles = (max(c.index for c in mapping.cores) // hw.resource("cores_per_tile")) + 1
    return per_core, inputs, tiles


def _sync_of(doc: dict[str, Any], tiles: int) -> float:
    """SANA-FE's LookupTable: the entry with the largest key ≤ tiles (sanafe 2.2.9 src/utils.hpp)."""
    table = {int(k): float(v) for k, v in doc["architecture"]["attributes"]["latency_sync"].items()}
    below = [k for k in table if k <= tiles]
    return table[max(below) if below else min(table)]


def run_sanafe(graph: FixedGraph, replay: Replay, hw: HwConfig, mapping: Mapping, chunk: int = 500) -> SanafeResult:
    """Simulate the replay on SANA-FE's Loihi, ``chunk`` steps at a time under a progress bar."""
    from tqdm import tqdm

    sanafe = require_sanafe()
    check_supported(hw)
    if len(mapping.cores) > hw.resource("cores_per_chip"):
        raise UnsupportedError(f"--cost-engine sanafe simulates one Loihi chip; this model needs {len(mapping.cores)} cores")
    per_core, inputs_per_core, tiles = _sizes(graph, mapping, hw)
    steps = replay.spikes.shape[0]
    totals = {"total": 0.0, "synapse": 0.0, "soma": 0.0, "network": 0.0, "sim_time": 0.0, "synaptic_events": 0.0,
              "messages": 0.0, "hops": 0.0, "fired": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        path, doc = architecture_file(per_core, inputs_per_core, tiles, Path(tmp))
        arch = sanafe.load_arch(str(path))
        chip = sanafe.SpikingChip(arch)
        chip.load(build_network(sanafe, graph, mapping, replay, arch.cores()))
        with tqdm(total=steps, desc="SANA-FE", unit="step", leave=False) as bar:
            done = 0
            while done < steps:
                n = min(chunk, steps - done)
                with _quiet_stdout():
                    res = chip.sim(n, perf_trace=True)
                _accumulate(totals, res)
                done += n
                bar.update(n)
    return _result(totals, doc, replay, tiles)


def _accumulate(totals: dict[str, float], res: dict[str, Any]) -> None:
    for key in ("total", "synapse", "soma", "network"):
        totals[key] += float(res["energy"][key])
    totals["sim_time"] += float(res["sim_time"])
    totals["synaptic_events"] += float(res["spikes"])
    totals["messages"] += float(res["packets_sent"])
    totals["hops"] += float(sum(res["perf_trace"]["hops"]))
    totals["fired"] += float(sum(res["perf_trace"]["fired"]))


def _result(totals: dict[str, float], doc: dict[str, Any], replay: Replay, tiles: int) -> SanafeResult:
    """Per inference; the network energy splits into messages (packets × the file's energy_message_out) and hops."""
    (core,) = doc["architecture"]["tile"][0]["core"]
    e_message = float(core["axon_out"][0]["attributes"]["energy_message_out"])
    s = replay.n_samples
    messages_j = totals["messages"] * e_message
    hops_j = totals["network"] - messages_j
    hops_j = 0.0 if abs(hops_j) <= 1e-9 * totals["network"] else hops_j  # rounding of the subtraction
    components = {"synaptic ops": totals["synapse"], "neuron updates + spikes": totals["soma"], "spike messages": messages_j,
                  "mesh hops": hops_j}
    counts = {"synaptic_events": totals["synaptic_events"], "messages": totals["messages"], "hops": totals["hops"],
              "soma_firings": totals["fired"]}
    return SanafeResult(energy_j=totals["total"] / s, latency_s=totals["sim_time"] / s,
                        components_j={k: v / s for k, v in components.items()}, counts={k: v / s for k, v in counts.items()},
                        n_steps=replay.spikes.shape[0] // s, n_samples=s, sync_s=_sync_of(doc, tiles),
                        arch_file="sanafe 2.2.9 sanafe/examples/loihi.yaml + replay units")


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def bounded_inputs(inputs: np.ndarray, cost_steps: int) -> tuple[np.ndarray, str]:
    """Whole inferences within ``cost_steps`` SANA-FE steps (at least one; one truncated inference if even one
    is longer); the note says what was kept."""
    batch, steps, _ = inputs.shape
    if cost_steps < 1:
        raise UnsupportedError(f"--cost-steps must be at least 1, got {cost_steps}")
    if cost_steps < steps:
        return inputs[:1, :cost_steps], f"the first {cost_steps} of {steps} steps of 1 sample (--cost-steps {cost_steps})"
    keep = min(batch, cost_steps // steps)
    return inputs[:keep], f"{keep} of {batch} samples × {steps} steps (--cost-steps {cost_steps})"


def crosscheck(target: str, graph: FixedGraph, hw: HwConfig, mapping: Mapping, inputs: np.ndarray, cost_steps: int) -> dict[str, Any]:
    """Analytic model and SANA-FE on the same replayed activity, side by side per component, with their ratios
    (analytic / SANA-FE)."""
    from neuroport.reporters.energy import loihi_counts, loihi_energy

    require_sanafe()
    check_supported(hw)
    kept, window = bounded_inputs(inputs, cost_steps)
    replay, stats = replay_of(graph, kept)
    analytic = loihi_energy(target, graph, stats, hw, mapping)
    counts = loihi_counts(graph, stats, hw, mapping).totals()
    sf = run_sanafe(graph, replay, hw, mapping)
    mine = analytic.by_component()
    rows = [{"component": k, "analytic_j": mine.get(k, 0.0), "sanafe_j": sf.components_j[k],
             "ratio": _ratio(mine.get(k, 0.0), sf.components_j[k])} for k in sf.components_j]
    static = next(ln for ln in analytic.lines if ln.component == "static")
    rows.append({"component": "static", "analytic_j": static.energy_j, "sanafe_j": None, "ratio": None,
                 "note": f"analytic: {static.unit.sureness}; SANA-FE's Loihi description has no static power"})
    sync = analytic.latency_parts_s["barrier/sync per step"]
    rows.append({"component": "barrier/sync (latency per step)", "analytic_s": sync, "sanafe_s": sf.sync_s, "ratio": _ratio(sync, sf.sync_s)})
    analytic_counts = {"synaptic_events": counts["synaptic_events"], "messages": counts["messages"], "hops": counts["hops"],
                       "soma_firings": counts["spikes"] + counts["active_updates"] + _input_messages(graph, stats, mapping)}
    return {
        "window": window, "n_steps": sf.n_steps, "samples": sf.n_samples,
        "analytic": {"energy_j": analytic.energy_j, "latency_s": analytic.latency_s, "report": analytic.to_dict()},
        "sanafe": sf.to_dict(), "components": rows,
        "counts": {k: {"analytic": v, "sanafe": sf.counts[k]} for k, v in analytic_counts.items()},
        "energy_ratio": _ratio(analytic.energy_j, sf.energy_j), "latency_ratio": _ratio(analytic.latency_s, sf.latency_s),
    }


def _input_messages(graph: FixedGraph, stats: ActivityStats, mapping: Mapping) -> float:
    """Input spikes entering cores (SANA-FE fires one input neuron per spike per core reached)."""
    x = stats.input_spikes_per_source / max(stats.batch, 1)
    in_mask = graph.w_in.dense_mask()
    return float(sum(in_mask[c.start:c.stop].any(axis=0) @ x for c in mapping.cores if c.role == "recurrent"))


COST_ENGINES = ("analytic", "sanafe")
DEFAULT_COST_STEPS = 5000


def check_engine(name: str, hw: HwConfig | None = None) -> bool:
    """Validate ``--cost-engine`` (and, for sanafe, that the extra is installed and the config is Loihi 1);
    returns whether SANA-FE runs."""
    if name not in COST_ENGINES:
        raise UnsupportedError(f"unknown cost engine '{name}' (--cost-engine); choose one of: {', '.join(COST_ENGINES)}")
    if name == "sanafe":
        require_sanafe()
        if hw is not None:
            check_supported(hw)
    return name == "sanafe"


def format_crosscheck(cc: dict[str, Any]) -> list[str]:
    """The side-by-side table of :func:`crosscheck` as text lines."""
    from neuroport.reporters.energy import fmt_si

    ratio = lambda r: "—" if r is None else f"{r:.3f}"  # noqa: E731
    out = [f"  cost engines on the same activity ({cc['window']}), per inference:",
           f"    {'component':<32} {'analytic':>10} {'SANA-FE':>10} {'ratio':>7}"]
    for row in cc["components"]:
        if "analytic_s" in row:
            out.append(f"    {row['component']:<32} {fmt_si(row['analytic_s'], 's'):>10} {fmt_si(row['sanafe_s'], 's'):>10} {ratio(row['ratio']):>7}")
        else:
            sf = "n/a" if row["sanafe_j"] is None else fmt_si(row["sanafe_j"], "J")
            out.append(f"    {row['component']:<32} {fmt_si(row['analytic_j'], 'J'):>10} {sf:>10} {ratio(row['ratio']):>7}")
    a, s = cc["analytic"], cc["sanafe"]
    out.append(f"    {'total energy':<32} {fmt_si(a['energy_j'], 'J'):>10} {fmt_si(s['energy_j'], 'J'):>10} {ratio(cc['energy_ratio']):>7}")
    out.append(f"    {'latency':<32} {fmt_si(a['latency_s'], 's'):>10} {fmt_si(s['latency_s'], 's'):>10} {ratio(cc['latency_ratio']):>7}")
    same = all(v["analytic"] == v["sanafe"] for v in cc["counts"].values())
    out.append("    event counts (synaptic events, messages, hops, soma firings): "
               + ("identical in both engines" if same else "DIFFER: " + str(cc["counts"])))
    out.append("    static power: SANA-FE's Loihi description has none; analytic: " + cc["components"][-2]["note"].split(";")[0][10:])
    return out
