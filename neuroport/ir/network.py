"""Assemble a FloatGraph into the dense arrays every engine works on, and split trained arrays back.

The recurrent populations are concatenated in the order listed: neuron j of the network is neuron
``j − offset[pop]`` of its population.  Three matrices hold every projection as a block:

    w_in  (n_rec, n_in)   input → recurrent
    w_rec (n_rec, n_rec)  recurrent → recurrent
    w_out (n_out, n_rec)  recurrent → readout

Entries outside every projection (and outside a sparse projection's mask) are absent synapses: zero weight,
``False`` in the corresponding ``*_mask`` and never updated by learning.

Synaptic delays (``Projection.delay_steps`` = d ≥ 1) are kept per block in ``delays`` (matrix name → integer
matrix of the same shape, 1 outside every projection), or ``None`` when every synapse has d = 1 (the fast path).
A spike of source i at step t reaches target j at step t + d, counted so that d = 1 is the undelayed network:

    recurrent   v_j[t] gets W_rec[j,i] z_i[t − d]          (d = 1: z[t−1], the usual one-step recurrence)
    input       v_j[t] gets W_in[j,i]  x_i[t − d + 1]      (d = 1: x[t] drives v[t], as without delays)
    readout     y_k[t] gets W_out[k,j] z_j[t − d + 1]      (d = 1: y[t] = κ y[t−1] + W_out z[t])

so every delay d adds d − 1 steps to the path of its synapses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from neuroport.errors import UnsupportedError
from neuroport.ir.float_graph import LIF_KINDS, RESET_KINDS, FloatGraph, Projection
from neuroport.ir.synapses import INDEX_DTYPE, Synapses

MATRICES = ("w_in", "w_rec", "w_out")


@dataclass(frozen=True, eq=False)
class Network:
    """Dense view of a FloatGraph: per-neuron parameter vectors and the three weight matrices."""

    dt_ms: float
    n_in: int
    n_rec: int
    n_out: int
    tau_m_ms: np.ndarray  # (n_rec,)
    v_th: np.ndarray  # (n_rec,)
    t_ref_ms: np.ndarray  # (n_rec,)
    beta: np.ndarray  # (n_rec,) adaptation strength, 0 for LIF
    tau_a_ms: np.ndarray  # (n_rec,) inf for LIF
    surrogate_gamma: np.ndarray  # (n_rec,)
    surrogate_beta: np.ndarray  # (n_rec,)
    surrogate_function: str
    tau_out_ms: np.ndarray  # (n_out,)
    loss: str
    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    w_in_mask: np.ndarray  # existing synapses (bool)
    w_rec_mask: np.ndarray
    w_out_mask: np.ndarray
    w_in_plastic: np.ndarray  # synapses e-prop may change (bool, subset of the mask)
    w_rec_plastic: np.ndarray
    w_out_plastic: np.ndarray
    delays: dict[str, np.ndarray] | None = None  # matrix name → int delay matrix (steps ≥ 1); None: all 1
    # NEST's regular_spike_arrival False: input factor ζ per target neuron, (n_rec,) / (n_out,); None: all 1
    input_scale_rec: np.ndarray | None = None
    input_scale_out: np.ndarray | None = None
    # NEST's eprop_iaf_psc_delta(_adapt): reset to v_reset and clamp while refractory (NaN: LIF/ALIF's reset by
    # subtraction); None: every neuron resets by subtraction.  Only the e-prop+ engines run such neurons.
    v_reset: np.ndarray | None = None

    def folded(self) -> Network:
        """The same dynamics with ζ folded into the weights (W_in, W_rec ← ζ_rec W; W_out ← ζ_out W_out) and no
        scale left: what every simulator and hardware stage runs.  Trainers step the stored W with ζ × the gradient of
        the folded weights (the chain rule, and NEST's own factor, see :mod:`neuroport.training.eprop`)."""
        if self.input_scale_rec is None and self.input_scale_out is None:
            return self
        rec = np.ones(self.n_rec) if self.input_scale_rec is None else self.input_scale_rec
        out = np.ones(self.n_out) if self.input_scale_out is None else self.input_scale_out
        return replace(self, w_in=rec[:, None] * self.w_in, w_rec=rec[:, None] * self.w_rec,
                       w_out=out[:, None] * self.w_out, input_scale_rec=None, input_scale_out=None)

    def is_delayed(self, name: str) -> bool:
        """Whether some synapse of matrix ``name`` has a delay other than 1 step."""
        return self.delays is not None and bool(np.any(self.delays[name] != 1))

    def delay_groups(self, name: str) -> list[tuple[int, np.ndarray | None]]:
        """The synapses of matrix ``name`` grouped by delay: [(d, bool mask)], ascending d; [(1, None)] when every
        synapse has delay 1 (None: all of them)."""
        if not self.is_delayed(name):
            return [(1, None)]
        d = self.delays[name]
        return [(int(k), d == k) for k in np.unique(d)]

    @property
    def alpha(self) -> np.ndarray:
        """Membrane decay per step, α = exp(−dt/τ_m)."""
        return np.exp(-self.dt_ms / self.tau_m_ms)

    @property
    def rho(self) -> np.ndarray:
        """Adaptation decay per step, ρ = exp(−dt/τ_a) (1 for LIF, whose β = 0)."""
        return np.exp(-self.dt_ms / self.tau_a_ms)

    @property
    def kappa(self) -> np.ndarray:
        """Readout decay per step, κ = exp(−dt/τ_out)."""
        return np.exp(-self.dt_ms / self.tau_out_ms)

    @property
    def n_ref_steps(self) -> np.ndarray:
        """Refractory period in steps, round(t_ref/dt) (NEST's convention)."""
        return np.round(self.t_ref_ms / self.dt_ms).astype(np.int64)

    @property
    def is_adaptive(self) -> np.ndarray:
        return self.beta != 0


def _offsets(graph: FloatGraph) -> dict[str, tuple[str, int]]:
    """Map node name → (matrix side, offset): 'in' for the input, 'rec' for populations, 'out' for the readout."""
    table: dict[str, tuple[str, int]] = {graph.input.name: ("in", 0), graph.readout.name: ("out", 0)}
    offset = 0
    for pop in graph.populations:
        table[pop.name] = ("rec", offset)
        offset += pop.size
    return table


def _matrix_name(src_side: str, tgt_side: str) -> str:
    names = {("in", "rec"): "w_in", ("rec", "rec"): "w_rec", ("rec", "out"): "w_out"}
    return names[(src_side, tgt_side)]


def projection_blocks(graph: FloatGraph, proj: Projection) -> tuple[str, list[tuple[slice, int]], list[tuple[slice, int]]]:
    """Return (matrix name, target row pieces, source column pieces) for a projection.

    Each piece is (slice in the assembled matrix, start in the projection's own array).  Node lists of a
    projection need not be contiguous in the assembled order, hence pieces.
    """
    table, sizes = _offsets(graph), graph.node_sizes()

    def pieces(names: tuple[str, ...]) -> tuple[str, list[tuple[slice, int]]]:
        sides = {table[n][0] for n in names}
        (side,) = sides
        out, local = [], 0
        for n in names:
            start = table[n][1]
            out.append((slice(start, start + sizes[n]), local))
            local += sizes[n]
        return side, out

    src_side, src = pieces(proj.source)
    tgt_side, tgt = pieces(proj.target)
    return _matrix_name(src_side, tgt_side), tgt, src


def refuse_non_lif(graph: FloatGraph, *, reset_kinds: bool = False) -> None:
    """Raise UnsupportedError when a population is not LIF/ALIF (nor, with ``reset_kinds``, NEST's psc_delta
    neurons, which only the e-prop+ engines run): the dense Network has LIF parameters only."""
    for i, pop in enumerate(graph.populations):
        if pop.kind in RESET_KINDS and not reset_kinds:
            raise UnsupportedError(
                f"population '{pop.name}' has neuron model '{pop.kind}' (NEST's eprop_iaf_psc_delta family, reset to "
                "v_reset), which only e-prop+ runs (`learning.variant: eprop_plus`, `neuroport train --engine numpy|"
                "nest`); this stage resets by subtraction", path=f"populations[{i}].model")
        if pop.kind not in LIF_KINDS + RESET_KINDS:
            raise UnsupportedError(
                f"population '{pop.name}' has neuron model '{pop.kind}', but this stage works on LIF/ALIF networks "
                f"only (NEST e-prop, BPTT, NIR export, on-chip learning, the fixed-point profiles); train it with "
                f"`neuroport train --engine numpy`", path=f"populations[{i}].model")


def node_indices(graph: FloatGraph, names: tuple[str, ...]) -> np.ndarray:
    """Assembled index (row or column of its matrix) of every neuron of the concatenated nodes ``names``."""
    table, sizes = _offsets(graph), graph.node_sizes()
    return np.concatenate([np.arange(table[n][1], table[n][1] + sizes[n], dtype=np.int64) for n in names])


def matrix_shapes(graph: FloatGraph) -> dict[str, tuple[int, int]]:
    n_in, n_rec, n_out = graph.input.size, graph.n_recurrent, graph.readout.size
    return {"w_in": (n_rec, n_in), "w_rec": (n_rec, n_rec), "w_out": (n_out, n_rec)}


def _place_sparse(graph: FloatGraph, proj: Projection, name: str, mats: dict[str, np.ndarray],
                  delays: dict[str, np.ndarray]) -> None:
    """Write a sparse projection's synapses into the dense matrices (module docstring)."""
    syn = proj.synapses
    rows, cols = node_indices(graph, proj.target)[syn.targets], node_indices(graph, proj.source)[syn.sources]
    mats[name][rows, cols] = syn.weights
    mats[f"{name}_mask"][rows, cols] = True
    mats[f"{name}_plastic"][rows, cols] = proj.plastic
    delays[name][rows, cols] = proj.delay_steps if syn.delays is None else syn.delays


def dense_matrices(graph: FloatGraph) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The projections of any graph laid out as dense matrices (see the module docstring for the layout).

    Returns ({w_in, w_rec, w_out} with their ``_mask`` and ``_plastic`` flags, {w_in, w_rec, w_out: delays in
    steps}); weights outside the mask are 0, absent synapses have delay 1.  Sparse projections are scattered in
    (memory n_target × n_source: for small networks; large ones use :func:`sparse_matrices`).
    """
    shapes = matrix_shapes(graph)
    mats = {k: np.zeros(s) for k, s in shapes.items()}
    mats.update({f"{k}_{kind}": np.zeros(s, dtype=bool) for k, s in shapes.items() for kind in ("mask", "plastic")})
    delays = {k: np.ones(s, dtype=np.int64) for k, s in shapes.items()}
    for proj in graph.projections:
        name, tgt, src = projection_blocks(graph, proj)
        if proj.is_sparse:
            _place_sparse(graph, proj, name, mats, delays)
            continue
        mask = proj.dense_mask()
        for t_slice, t0 in tgt:
            for s_slice, s0 in src:
                rows = slice(t0, t0 + t_slice.stop - t_slice.start)
                cols = slice(s0, s0 + s_slice.stop - s_slice.start)
                block_mask = mask[rows, cols]
                mats[name][t_slice, s_slice] = np.where(block_mask, proj.weights[rows, cols], 0.0)
                mats[f"{name}_mask"][t_slice, s_slice] = block_mask
                mats[f"{name}_plastic"][t_slice, s_slice] = block_mask & proj.plastic
                delays[name][t_slice, s_slice] = np.where(block_mask, proj.delay_steps, 1)
    return mats, delays


def has_delays(graph: FloatGraph) -> bool:
    """Whether some synapse of the graph has a delay other than one step."""
    return any(np.any(p.delay_values() != 1) for p in graph.projections)


def sparse_matrices(graph: FloatGraph) -> tuple[dict[str, Synapses], dict[str, np.ndarray]]:
    """The projections laid out as three synapse lists in assembled indices (rows/columns of w_in, w_rec, w_out,
    module docstring), memory ∝ synapses: ({w_in, w_rec, w_out: Synapses}, {same: plastic flag per synapse}).
    Per-synapse delays are filled in when some synapse of the matrix has a delay other than 1."""
    shapes = matrix_shapes(graph)
    parts: dict[str, list[tuple[Projection, Synapses]]] = {k: [] for k in shapes}
    for proj in graph.projections:
        parts[projection_blocks(graph, proj)[0]].append((proj, proj.synapse_list()))
    lists, plastic = {}, {}
    for name, pieces in parts.items():
        targets = [_global(graph, p.target, s.targets) for p, s in pieces]
        sources = [_global(graph, p.source, s.sources) for p, s in pieces]
        weights = [s.weights for _, s in pieces]
        delays = [np.full(s.n_synapses, p.delay_steps) if s.delays is None else s.delays for p, s in pieces]
        flags = [np.full(s.n_synapses, p.plastic) for p, s in pieces]
        lists[name], order = _canonical(shapes[name], targets, sources, weights, delays)
        plastic[name] = _cat(flags, bool)[order]
    return lists, plastic


def folded_lists(lists: dict[str, Synapses], fields: dict[str, object]) -> dict[str, Synapses]:
    """:meth:`Network.folded` for the synapse lists of :func:`sparse_matrices`: ζ of each synapse's target into its
    weight (w_in, w_rec: ζ_rec; w_out: ζ_out), for ``fields`` of :func:`neuron_fields`."""
    scales = {"w_in": fields["input_scale_rec"], "w_rec": fields["input_scale_rec"], "w_out": fields["input_scale_out"]}
    return {name: syn if scales[name] is None else replace(syn, weights=syn.weights * scales[name][syn.targets])
            for name, syn in lists.items()}


def _global(graph: FloatGraph, names: tuple[str, ...], local: np.ndarray) -> np.ndarray:
    """Assembled indices (int32) of projection-local ones; nodes in assembled order need only an offset."""
    index = node_indices(graph, names)
    if index.size and np.all(np.diff(index) == 1):
        return local + INDEX_DTYPE(index[0])
    return index[local].astype(INDEX_DTYPE)


def _cat(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype)


def _canonical(shape: tuple[int, int], targets: list[np.ndarray], sources: list[np.ndarray],
               weights: list[np.ndarray], delays: list[np.ndarray]) -> tuple[Synapses, np.ndarray | slice]:
    """One Synapses from projection pieces (projections never overlap, so no pair repeats), sorted only when the
    concatenation is not already in canonical order; returns it and the order applied."""
    t, s = _cat(targets, INDEX_DTYPE), _cat(sources, INDEX_DTYPE)
    d, w = _cat(delays, np.int16), _cat(weights, np.float64)
    if _is_canonical(t, s):  # one projection, or projections in order: no sort, no copy
        return Synapses(shape, t, s, w, None if np.all(d == 1) else d), slice(None)
    order = np.argsort(t.astype(np.int64) * shape[1] + s, kind="stable")
    d = d[order]
    syn = Synapses(shape, t[order], s[order], w[order], None if np.all(d == 1) else d)
    return syn, order


def _is_canonical(targets: np.ndarray, sources: np.ndarray) -> bool:
    """Strictly ascending (target, source) pairs, checked in int32 without a key array."""
    if targets.size < 2:
        return True
    dt = np.diff(targets)
    return bool(np.all(dt >= 0) and np.all((dt > 0) | (np.diff(sources) > 0)))


def neuron_fields(graph: FloatGraph, *, reset_kinds: bool = False) -> dict[str, object]:
    """The per-neuron fields of :class:`Network` (everything but the matrices), assembled in population order;
    ``reset_kinds``: accept NEST's psc_delta neurons (``v_reset`` set; for the e-prop+ engines only)."""
    refuse_non_lif(graph, reset_kinds=reset_kinds)
    pops = graph.populations
    functions = {p.surrogate.function for p in pops}
    return dict(
        dt_ms=graph.dt_ms, n_in=graph.input.size, n_rec=graph.n_recurrent, n_out=graph.readout.size,
        tau_m_ms=np.concatenate([p.tau_m_ms for p in pops]),
        v_th=np.concatenate([p.v_th for p in pops]),
        t_ref_ms=np.concatenate([p.t_ref_ms for p in pops]),
        beta=np.concatenate([p.adaptation()[0] for p in pops]),
        tau_a_ms=np.concatenate([p.adaptation()[1] for p in pops]),
        surrogate_gamma=np.concatenate([np.full(p.size, p.surrogate.gamma) for p in pops]),
        surrogate_beta=np.concatenate([np.full(p.size, p.surrogate.beta) for p in pops]),
        surrogate_function=functions.pop() if len(functions) == 1 else "mixed",
        tau_out_ms=graph.readout.tau_out_ms,
        loss=graph.readout.loss,
        input_scale_rec=None if all(p.regular_spike_arrival for p in pops) else
        np.concatenate([p.input_scale(graph.dt_ms) for p in pops]),
        input_scale_out=None if graph.readout.regular_spike_arrival else graph.readout.input_scale(graph.dt_ms),
        v_reset=None if all(p.kind in LIF_KINDS for p in pops) else
        np.concatenate([getattr(p, "v_reset", np.full(p.size, np.nan)) for p in pops]),
    )


def assemble(graph: FloatGraph, *, reset_kinds: bool = False) -> Network:
    """Build the dense :class:`Network` of a graph (see the module docstring for the layout); ``reset_kinds``:
    accept NEST's psc_delta neurons (``v_reset`` set; for the e-prop+ engines only)."""
    fields = neuron_fields(graph, reset_kinds=reset_kinds)
    mats, delays = dense_matrices(graph)
    return Network(**fields, **mats, delays=delays if has_delays(graph) else None)


def with_weights(graph: FloatGraph, w_in: np.ndarray, w_rec: np.ndarray, w_out: np.ndarray) -> FloatGraph:
    """Return a copy of ``graph`` whose projections take their weights from assembled matrices (either form)."""
    mats = {"w_in": w_in, "w_rec": w_rec, "w_out": w_out}
    new = []
    for proj in graph.projections:
        name, tgt, src = projection_blocks(graph, proj)
        if proj.is_sparse:
            syn = proj.synapses
            rows, cols = node_indices(graph, proj.target)[syn.targets], node_indices(graph, proj.source)[syn.sources]
            new.append(proj.with_synapse_weights(mats[name][rows, cols]))
            continue
        weights = proj.weights.copy()
        for t_slice, t0 in tgt:
            for s_slice, s0 in src:
                rows = slice(t0, t0 + t_slice.stop - t_slice.start)
                cols = slice(s0, s0 + s_slice.stop - s_slice.start)
                weights[rows, cols] = mats[name][t_slice, s_slice]
        if proj.mask is not None:
            weights = np.where(proj.mask, weights, 0.0)
        new.append(replace(proj, weights=weights))
    return graph.with_projections(tuple(new))


def with_synapse_weights(graph: FloatGraph, lists: dict[str, np.ndarray]) -> FloatGraph:
    """Return a copy of ``graph`` whose projections take their weights from per-synapse arrays aligned with
    :func:`sparse_matrices` (memory ∝ synapses: the sparse counterpart of :func:`with_weights`)."""
    shapes = matrix_shapes(graph)
    layout, _ = sparse_matrices(graph)
    new = []
    for proj in graph.projections:
        name = projection_blocks(graph, proj)[0]
        syn = proj.synapse_list()
        key = node_indices(graph, proj.target)[syn.targets] * shapes[name][1] + node_indices(graph, proj.source)[syn.sources]
        at = np.searchsorted(layout[name].targets.astype(np.int64) * shapes[name][1] + layout[name].sources, key)
        new.append(proj.with_synapse_weights(lists[name][at]))
    return graph.with_projections(tuple(new))
