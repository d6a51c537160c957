"""Load ``model.yaml`` into a :class:`FloatGraph` (fields: docs/gen/model_reference.py renders them; examples: examples/*.yaml).

Random quantities (per-neuron parameter spreads, initial weights, sparse masks, feedback weights) are drawn
from ``numpy.random.default_rng([seed, stream, index])`` so that a model file always loads to the same arrays.
A projection with ``connectivity`` is built in the sparse form, as a synapse list (:mod:`neuroport.ir.connectivity`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from neuroport.ir.checks import check_graph
from neuroport.ir.connectivity import read_connectivity
from neuroport.ir.float_graph import (
    LIF,
    LOSSES,
    NEURON_TYPES,
    RESET_KINDS,
    SCHEMA_VERSION,
    SURROGATES,
    FloatGraph,
    InputLayer,
    Izhikevich,
    Projection,
    Readout,
    Surrogate,
    TaskSpec,
)
from neuroport.ir.initializers import feedback_weights, projection_weights
from neuroport.ir.learning_rule import (
    EPROP_VARIANTS,
    FEEDBACKS,
    OPTIMIZERS,
    TARGET_ALIGNMENTS,
    EpropPlus,
    EpropRule,
    Optimizer,
    Rewiring,
)
from neuroport.ir.preflight import BATCH_WHY, MAX_BATCH, preflight
from neuroport.ir.ranges import dt_ms_of, model_name, physical_range
from neuroport.ir.reward_spec import check_reward_model, read_reward
from neuroport.ir.synapses import Synapses
from neuroport.ir.yamlpath import Section, did_you_mean, read_yaml, short_repr

STREAM_PARAMS, STREAM_WEIGHTS, STREAM_FEEDBACK = 1, 2, 3


def load_model(file: str | Path, data: Any = None) -> FloatGraph:
    """Read, validate and build the FloatGraph of a model file; errors name the file and the YAML path.
    ``data``: the file's parsed YAML, edited (``neuroport explore`` varies fields); relative paths stay the file's."""
    file = str(file)
    top = Section(read_yaml(file) if data is None else data, file=file, path="")
    version = top.integer("neuroport", minimum=1)
    if version > SCHEMA_VERSION:
        raise top.fail(f"model format version {version} is newer than this neuroport supports ({SCHEMA_VERSION}); upgrade neuroport", "neuroport")
    seed = top.integer("seed", 0, minimum=0)
    dt_ms = dt_ms_of(top)
    preflight(top, dt_ms)  # task parameters and the memory estimate, before any array is allocated
    inp = _input(top.section("input"))
    populations = tuple(_population(s, i, seed) for i, s in enumerate(top.sections("populations")))
    readout = _readout(top.section("readout"))
    _unique_names(top, inp, populations, readout)
    partial = FloatGraph(
        name=model_name(top), dt_ms=dt_ms, seed=seed, input=inp, populations=populations,
        readout=readout, projections=(), description=str(top.raw("description", "")),
    )
    base_dir = Path(file).parent
    projections = tuple(
        _projection(s, i, partial, base_dir) for i, s in enumerate(top.sections("projections"))
    )
    graph = partial.with_projections(projections)
    learning = _learning(top.section("learning"), graph, base_dir) if top.has("learning") else None
    task = _task(top.section("task")) if top.has("task") else None
    top.raw("learning", None), top.raw("task", None)
    top.finish()
    graph = replace(graph, learning=learning, task=task)
    _variant_conventions(top, graph)
    check_reward_model(graph, file)
    check_graph(graph, file=file)
    return graph


def _unique_names(top: Section, inp: InputLayer, populations: tuple[LIF, ...], readout: Readout) -> None:
    seen = {inp.name: "input.name"}
    named = [(f"populations[{i}].name", p.name) for i, p in enumerate(populations)] + [("readout.name", readout.name)]
    for path, name in named:
        if name in seen:
            raise top.error(f"node name '{name}' is already used at {seen[name]}; names must be unique", file=top.file, path=path)
        seen[name] = path


def _variant_conventions(top: Section, graph: FloatGraph) -> None:
    """NEST has its psc_delta neurons (reset to V_reset) in e-prop+ only, and ``regular_spike_arrival`` in
    bsshslm_2020 only (neuroport's trainers follow): refuse the other combinations with the field's path."""
    if graph.learning is None:
        return
    if graph.learning.variant != "bsshslm_2020":
        scaled = [(f"populations[{i}]", p) for i, p in enumerate(graph.populations)] + [("readout", graph.readout)]
        for path, node in scaled:
            if not getattr(node, "regular_spike_arrival", True):
                raise top.error(f"`regular_spike_arrival: false` (input factor 1 − α / 1 − κ) is NEST's option of the "
                                f"bsshslm_2020 models; variant '{graph.learning.variant}' has input factor 1 (NEST "
                                "3.10's eprop_iaf / eprop_readout have no such option)", file=top.file,
                                path=f"{path}.regular_spike_arrival")
    if graph.learning.variant == "eprop_plus":
        return
    for i, pop in enumerate(graph.populations):
        if pop.kind in RESET_KINDS:
            raise top.error(f"neuron model '{pop.kind}' is NEST's e-prop+ neuron (eprop_iaf_psc_delta family): it "
                            f"needs `learning.variant: eprop_plus`, not '{graph.learning.variant}'",
                            file=top.file, path=f"populations[{i}].model")


def _input(s: Section) -> InputLayer:
    layer = InputLayer(name=s.string("name"), size=s.integer("size", minimum=1), encoding=s.string("encoding", "spikes", choices=("spikes",)))
    s.finish()
    return layer


def per_neuron(s: Section, key: str, size: int, rng: np.random.Generator, default: Any = None, *, positive: bool = False, non_negative: bool = False) -> np.ndarray:
    """A per-neuron parameter: a number, a list of ``size`` numbers, or ``{uniform: [low, high]}``."""
    value = s.raw(key) if default is None else s.raw(key, default)
    if isinstance(value, list):
        if len(value) != size:
            raise s.fail(f"expected {size} values (one per neuron), got {len(value)}", key)
        return physical_range(s, key, np.array([s.check_number(v, key, positive=positive, non_negative=non_negative) for v in value]))
    if isinstance(value, dict):
        spread = Section(value, file=s.file, path=s.child_path(key), error=s.error)
        raw = spread.raw("uniform")
        if not (isinstance(raw, list) and len(raw) == 2):
            raise spread.fail("expected [low, high]", "uniform")
        low, high = (spread.check_number(v, "uniform", positive=positive, non_negative=non_negative) for v in raw)
        if high < low:
            raise spread.fail(f"expected low ≤ high, got [{low}, {high}]", "uniform")
        spread.finish()
        physical_range(s, key, np.array([low, high]))
        return rng.uniform(low, high, size)
    return physical_range(s, key, np.full(size, s.check_number(value, key, positive=positive, non_negative=non_negative)))


def _population(s: Section, index: int, seed: int) -> LIF:
    name, kind = s.string("name"), s.string("model", choices=tuple(NEURON_TYPES))
    size = s.integer("size", minimum=1)
    rng = np.random.default_rng([seed, STREAM_PARAMS, index])
    fields = FIELD_READERS.get(kind, _lif_fields)(s, kind, size, rng)
    surrogate = _surrogate(s.section("surrogate", {}))
    s.finish()
    return NEURON_TYPES[kind](name=name, size=size, surrogate=surrogate, **fields)


def _lif_fields(s: Section, kind: str, size: int, rng: np.random.Generator) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "tau_m_ms": per_neuron(s, "tau_m_ms", size, rng, positive=True),
        "v_th": per_neuron(s, "v_th", size, rng, positive=True),
        "t_ref_ms": per_neuron(s, "t_ref_ms", size, rng, 0.0, non_negative=True),
    }
    if kind in ("alif", "alif_psc_delta"):
        fields["tau_a_ms"] = per_neuron(s, "tau_a_ms", size, rng, positive=True)
        fields["beta"] = per_neuron(s, "beta", size, rng, non_negative=True)
    fields["regular_spike_arrival"] = s.boolean("regular_spike_arrival", True)  # NEST's flag; False: ζ = 1 − α
    return fields


def _psc_delta_fields(s: Section, kind: str, size: int, rng: np.random.Generator) -> dict[str, Any]:
    """LIF/ALIF fields and NEST's ``V_reset`` (relative to E_L; NEST requires V_reset < V_th; default 0 = E_L)."""
    fields = _lif_fields(s, kind, size, rng)
    fields["v_reset"] = per_neuron(s, "v_reset", size, rng, 0.0)
    if np.any(fields["v_reset"] >= fields["v_th"]):
        raise s.fail("expected v_reset below v_th (NEST's eprop_iaf_psc_delta requires V_reset < V_th)", "v_reset")
    return fields


# PyNN's Izhikevich defaults (a, b, c, d, v_init, u_init, i_offset); psi_width_mv scales the surrogate
IZHIKEVICH_DEFAULTS = {"a": 0.02, "b": 0.2, "c_mv": -65.0, "d": 2.0, "v_init_mv": -70.0, "u_init": -14.0,
                       "i_offset": 0.0, "psi_width_mv": 10.0}


IZHIKEVICH_INTEGRATIONS = ("euler", "spinnaker_rk2")  # neuroport/emulator/izhikevich.py, izhikevich_rk2.py


def _izhikevich_fields(s: Section, kind: str, size: int, rng: np.random.Generator) -> dict[str, Any]:
    fields = {key: per_neuron(s, key, size, rng, default) for key, default in IZHIKEVICH_DEFAULTS.items()}
    if np.any(fields["psi_width_mv"] <= 0):
        raise s.fail("expected a positive surrogate width in mV", "psi_width_mv")
    if np.any(fields["c_mv"] >= Izhikevich.v_peak_mv):
        raise s.fail(f"the reset voltage must be below the spike peak ({Izhikevich.v_peak_mv} mV)", "c_mv")
    fields["integration"] = s.string("integration", "euler", choices=IZHIKEVICH_INTEGRATIONS)
    if fields["integration"] == "euler":
        if s.has("tau_syn_ms"):
            raise s.fail("tau_syn_ms (exponential synapses) needs `integration: spinnaker_rk2`; the Euler model has "
                         "delta-current input", "tau_syn_ms")
    else:
        fields["tau_syn_ms"] = per_neuron(s, "tau_syn_ms", size, rng, 5.0, positive=True)  # PyNN's IZK_curr_exp default
    return fields


def _ca2_fields(s: Section, kind: str, size: int, rng: np.random.Generator) -> dict[str, Any]:
    """sPyNNaker's IF_curr_delta_ca2_adaptive: LIF fields (no regular_spike_arrival: input factor 1) and the
    calcium current's τ_ca2 (ms, PyNN default 50) and per-spike step i_alpha (negative adapts; default −0.1 v_th)."""
    fields = {"tau_m_ms": per_neuron(s, "tau_m_ms", size, rng, positive=True),
              "v_th": per_neuron(s, "v_th", size, rng, positive=True),
              "t_ref_ms": per_neuron(s, "t_ref_ms", size, rng, 0.0, non_negative=True),
              "tau_ca2_ms": per_neuron(s, "tau_ca2_ms", size, rng, 50.0, positive=True)}
    fields["i_alpha"] = per_neuron(s, "i_alpha", size, rng) if s.has("i_alpha") else -0.1 * fields["v_th"]
    return fields


# population kind → its parameter reader (default: LIF/ALIF)
FIELD_READERS = {Izhikevich.kind: _izhikevich_fields, "lif_psc_delta": _psc_delta_fields,
                 "alif_psc_delta": _psc_delta_fields, "lif_ca2_adaptive": _ca2_fields}


def _surrogate(s: Section) -> Surrogate:
    sur = Surrogate(
        function=s.string("function", "piecewise_linear", choices=SURROGATES),
        gamma=s.number("gamma", 0.3, positive=True),
        beta=s.number("beta", 1.0, positive=True),
    )
    s.finish()
    return sur


def _readout(s: Section) -> Readout:
    size = s.integer("size", minimum=1)
    tau = s.raw("tau_out_ms")
    if isinstance(tau, list):
        if len(tau) != size:
            raise s.fail(f"expected {size} values (one per readout unit), got {len(tau)}", "tau_out_ms")
        tau_arr = np.array([s.check_number(v, "tau_out_ms", positive=True) for v in tau])
    else:
        tau_arr = np.full(size, s.check_number(tau, "tau_out_ms", positive=True))
    physical_range(s, "tau_out_ms", tau_arr)
    out = Readout(name=s.string("name"), size=size, tau_out_ms=tau_arr, loss=s.string("loss", "mse", choices=LOSSES),
                  regular_spike_arrival=s.boolean("regular_spike_arrival", True))  # NEST's flag; False: ζ = 1 − κ
    s.finish()
    return out


def _projection(s: Section, index: int, graph: FloatGraph, base_dir: Path) -> Projection:
    sizes = graph.node_sizes()
    source, target = s.names("source"), s.names("target")
    for key, names in (("source", source), ("target", target)):
        for n in names:
            if n not in sizes:
                raise s.fail(f"unknown node '{n}'{did_you_mean(n, tuple(sizes))}; nodes: {', '.join(sizes)}", key)
    shape = (sum(sizes[n] for n in target), sum(sizes[n] for n in source))
    rng = np.random.default_rng([graph.seed, STREAM_WEIGHTS, index])
    name = s.string("name")
    if s.has("connectivity"):  # sparse form: synapses generated (or read) as a list
        storage = {"synapses": _sparse_synapses(s, name, shape, source == target, rng, base_dir)}
    else:
        weights, mask = projection_weights(s, shape, rng, base_dir)
        storage = {"weights": weights, "mask": mask}
    proj = Projection(name=name, source=source, target=target, plastic=s.boolean("plastic", True),
                      delay_steps=s.integer("delay_steps", 1, minimum=1), **storage)
    s.finish()
    return proj


def _sparse_synapses(s: Section, name: str, shape: tuple[int, int], self_to_self: bool, rng: np.random.Generator,
                     base_dir: Path) -> Synapses:
    """A projection with ``connectivity`` (neuroport.ir.connectivity); the dense-form fields do not apply."""
    for key in ("weights", "connection_probability", "zero_diagonal"):
        if s.has(key):
            raise s.fail(f"projection '{name}' has a connectivity rule, which sets its synapses; drop '{key}' "
                         "(use connectivity.weights / init, connectivity.probability, connectivity.self_connections)", key)
    return read_connectivity(s, name, shape, self_to_self, rng, base_dir)


def _decay(opt: Section) -> dict[str, Any]:
    """``optimizer.decay: {factor, every_iterations}``: η_k = η · factor^⌊k / every_iterations⌋."""
    if opt.raw("decay", None) is None:  # absent or null: a constant η
        return {}
    d = opt.section("decay")
    factor, every = d.number("factor", positive=True), d.integer("every_iterations", minimum=1)
    if factor > 1:
        raise d.fail(f"expected a decay factor 0 < factor ≤ 1, got {factor}", "factor")
    d.finish()
    return {"decay_factor": factor, "decay_every": every}


def _learning(s: Section, graph: FloatGraph, base_dir: Path) -> EpropRule:
    feedback = s.string("feedback", "random", choices=FEEDBACKS)
    opt = s.section("optimizer", {})
    optimizer = Optimizer(
        name=opt.string("name", "adam", choices=OPTIMIZERS),
        learning_rate=opt.number("learning_rate", 5e-3, positive=True),
        beta1=opt.number("beta1", 0.9, non_negative=True),
        beta2=opt.number("beta2", 0.999, non_negative=True),
        epsilon=opt.number("epsilon", 1e-8, positive=True),
        **_decay(opt),
    )
    opt.finish()
    reg = s.section("regularization", {})
    c_reg, f_target = reg.number("c_reg", 0.0, non_negative=True), reg.number("f_target_hz", 10.0, non_negative=True)
    reg.finish()
    window_ms = s.raw("learning_window_ms", None)
    window = None if window_ms is None else max(1, round(s.check_number(window_ms, "learning_window_ms", positive=True) / graph.dt_ms))
    rng = np.random.default_rng([graph.seed, STREAM_FEEDBACK, 0])
    b_spec = s.section("feedback_init", {}) if feedback != "symmetric" else None
    rule = EpropRule(
        variant=s.string("variant", "bsshslm_2020", choices=EPROP_VARIANTS),
        feedback=feedback,
        feedback_weights=None if b_spec is None else feedback_weights(b_spec, (graph.n_recurrent, graph.readout.size), rng, base_dir),
        weight_decay=s.number("weight_decay", 0.0, non_negative=True),
        optimizer=optimizer,
        batch_size=s.integer("batch_size", 32, minimum=1, maximum=MAX_BATCH, why=BATCH_WHY),
        c_reg=c_reg,
        f_target_hz=f_target,
        learning_window_steps=window,
        weight_min=s.number("weight_min", -100.0),
        weight_max=s.number("weight_max", 100.0),
        average_gradient=s.boolean("average_gradient", False),
        rewiring=_rewiring(s.section("rewiring"), graph) if s.has("rewiring") else None,
    )
    if rule.weight_min >= rule.weight_max:
        raise s.fail(f"weight_min ({rule.weight_min}) must be below weight_max ({rule.weight_max})", "weight_min")
    if rule.rewiring is not None and rule.variant != "bsshslm_2020":
        raise s.fail(f"rewiring (DEEP R) is implemented for variant bsshslm_2020 only, not '{rule.variant}'", "rewiring")
    s.raw("feedback_init", None)
    rule = read_reward(s, rule, graph, base_dir)
    rule = _eprop_plus(s, rule, graph)
    s.finish()
    return rule


def _eprop_plus(s: Section, rule: EpropRule, graph: FloatGraph) -> EpropRule:
    """``learning.eprop_plus`` (variant eprop_plus only): kappa, kappa_reg in [0, 1), isi_trace_cutoff_ms ≥ 2 steps,
    optimize_each_step, target_alignment."""
    if not s.has("eprop_plus"):
        return replace(rule, plus=EpropPlus()) if rule.variant == "eprop_plus" else rule
    if rule.variant != "eprop_plus":
        raise s.fail(f"`eprop_plus` is read only with `variant: eprop_plus`, not '{rule.variant}'", "eprop_plus")
    p = s.section("eprop_plus")
    kappas = {k: p.raw(k, None) for k in ("kappa", "kappa_reg")}
    for key, value in kappas.items():
        if value is not None and not 0.0 <= p.check_number(value, key) < 1.0:
            raise p.fail(f"expected a number in [0, 1), got {value}", key)
    cutoff_ms = p.raw("isi_trace_cutoff_ms", None)
    cutoff = None if cutoff_ms is None else round(p.check_number(cutoff_ms, "isi_trace_cutoff_ms", positive=True) / graph.dt_ms)
    if cutoff is not None and cutoff < 2:
        raise p.fail(f"expected at least 2 steps ({2 * graph.dt_ms} ms), got {cutoff_ms} ms", "isi_trace_cutoff_ms")
    each_step = p.boolean("optimize_each_step", False)
    alignment = p.string("target_alignment", "same_step", choices=TARGET_ALIGNMENTS)
    p.finish()
    return replace(rule, plus=EpropPlus(**{k: None if v is None else float(v) for k, v in kappas.items()},
                                        isi_trace_cutoff_steps=cutoff, optimize_each_step=each_step,
                                        target_alignment=alignment))


def _rewiring(s: Section, graph: FloatGraph) -> Rewiring:
    """``learning.rewiring`` (DEEP R): the projections it rewires must exist, be sparse (have a mask) and plastic."""
    names = s.raw("projections")
    if not (isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)):
        raise s.fail(f"expected a non-empty list of projection names, got {short_repr(names)}", "projections")
    rewiring = Rewiring(projections=tuple(names), l1=s.number("l1", 0.0, non_negative=True),
                        temperature=s.number("temperature", 0.0, non_negative=True),
                        self_connections=s.boolean("self_connections", False), seed=s.integer("seed", 0, minimum=0))
    by_name = {p.name: p for p in graph.projections}
    for i, name in enumerate(names):
        if name not in by_name:
            raise s.fail(f"unknown projection '{name}'{did_you_mean(name, tuple(by_name))}; projections: {', '.join(by_name)}",
                         f"projections[{i}]")
        problem = "it is listed twice" if names.index(name) != i else _not_rewirable(by_name[name], rewiring)
        if problem:
            raise s.fail(f"projection '{name}' cannot be rewired: {problem}", f"projections[{i}]")
    s.finish()
    return rewiring


def _not_rewirable(proj: Projection, rewiring: Rewiring) -> str | None:
    """Why DEEP R cannot rewire ``proj`` (None: it can)."""
    if proj.is_sparse:
        return ("it is in the sparse form (a connectivity rule); DEEP R rewires the dense form with a mask "
                "(init with connection_probability < 1)")
    if proj.mask is None:
        return "it is dense; rewiring keeps the synapse count of a sparse projection (give it connection_probability < 1)"
    if not proj.plastic:
        return "it is frozen (plastic: false)"
    if proj.source == proj.target and not rewiring.self_connections and np.any(np.diag(proj.mask)):
        return "it has self-connections but rewiring.self_connections is false (add zero_diagonal: true)"
    return None


def _task(s: Section) -> TaskSpec:
    from neuroport.tasks import TASKS

    name = s.string("name", choices=tuple(sorted(TASKS)))
    params = s.raw("params", {})
    if not isinstance(params, dict):
        raise s.fail("expected a mapping of task parameters", "params")
    s.finish()
    return TaskSpec(name=name, params=dict(params))
