"""Float e-prop for large sparse networks: input and recurrent weights as compressed rows by source (CSR), the
forward pass event-driven, gradients only for the synapses that exist.

The equations and conventions are those of the dense trainer's sequence mode (:mod:`neuroport.training.gradients`,
NEST ``*_bsshslm_2020``): per sample,

    ẽrr_k[s] = (1 − κ_k) Σ_{t≥s} κ_k^{t−s} err_k[t]            readout κ filter moved onto the error, NEST's (1 − κ)
    L̃_j[s] = Σ_k B_jk ẽrr_k[s] + R_j,   R_j = c_reg (n_spikes,j / T − f_target dt) / T    (rate regularization)
    G_j[s] = q_j[s+1] + (ρ_j − β_j ψ_j[s+1]) G_j[s+1],  q = L̃ ψ                          (ALIF term, backwards)
    F_j[s] = q_j[s] − β_j ψ_j[s] G_j[s] + α_j F_j[s+1]                                   (presynaptic α filter)
    g^in_ji = Σ_s F_j[s] x_i[s],   g^rec_ji = Σ_s F_j[s+1] z_i[s],   g^out_kj = Σ_s Σ_{t≥s} κ^{t−s} err_k[t] z_j[s]

so that g_ji = Σ_t L_j[t] ē_ji[t] + c_reg (f̄_j − f_target) Σ_t e_ji[t], the dense gradient, is a sum over the
*presynaptic spikes* of each existing synapse (:mod:`neuroport.training.sparse_kernels`): the cost of a sample is
steps × neurons × n_out + spikes × fan-out, and memory is synapses + steps × neurons (ψ is kept for the backward
pass).  Every stored synapse is plastic; the readout W_out (n_out, n) stays dense.  One training step is forward,
gradient and SGD, ``W ← clip(W − η ḡ, W_min, W_max)`` with ḡ the batch mean (:func:`train_step`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np

from neuroport.emulator.kernels import SHAPE_CODES
from neuroport.emulator.reference import leaky_sum
from neuroport.errors import UnsupportedError
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.learning_rule import EpropRule
from neuroport.ir.network import Network, has_delays, neuron_fields, sparse_matrices, with_synapse_weights
from neuroport.ir.synapses import Synapses
from neuroport.tasks import Batch
from neuroport.training.eprop import (
    AdamState,
    IterationStats,
    TrainResult,
    average_gradient,
    draw_batches,
    optimizer_step,
    refuse_input_scaling,
    rule_of,
)
from neuroport.training.gradients import backward_filter, output_error
from neuroport.training.sparse_kernels import sparse_backward, sparse_forward


@dataclass(frozen=True, eq=False)
class Csr:
    """Synapses grouped by source: the targets of source i are ``indices[indptr[i]:indptr[i+1]]``, with the
    weights (and any per-synapse gradient) at the same positions."""

    indptr: np.ndarray  # int64 (n_source + 1,)
    indices: np.ndarray  # int32 (n_synapses,)
    weights: np.ndarray  # float64 (n_synapses,)
    n_target: int

    @property
    def n_source(self) -> int:
        return int(self.indptr.size - 1)

    @property
    def n_synapses(self) -> int:
        return int(self.indices.size)

    @property
    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.indices.nbytes + self.weights.nbytes)

    @staticmethod
    def from_dense(matrix: np.ndarray, mask: np.ndarray) -> Csr:
        """From a dense (n_target, n_source) matrix and its bool mask of existing synapses."""
        sources, targets = np.nonzero(mask.T)  # row-major over sources: targets ascending within a source
        indptr = np.zeros(mask.shape[1] + 1, dtype=np.int64)
        np.cumsum(np.bincount(sources, minlength=mask.shape[1]), out=indptr[1:])
        return Csr(indptr, targets.astype(np.int32), matrix.T[sources, targets].astype(np.float64), mask.shape[0])

    @staticmethod
    def from_synapses(syn: Synapses) -> Csr:
        """From a synapse list (canonical order by target): grouped by source, targets ascending within a source,
        the order :meth:`from_dense` gives."""
        indptr, order = syn.by_source()
        return Csr(indptr, syn.targets[order].astype(np.int32), syn.weights[order].astype(np.float64), syn.shape[0])

    def to_synapse_weights(self, syn: Synapses) -> np.ndarray:
        """The CSR weights back in the canonical order of ``syn`` (the list this CSR was built from)."""
        _, order = syn.by_source()
        out = np.empty(syn.n_synapses)
        out[order] = self.weights
        return out

    @staticmethod
    def random(n_source: int, n_target: int, fan_out: int, rng: np.random.Generator, weight_mean: float,
               weight_std: float, no_self: bool = False) -> Csr:
        """Each source draws ``fan_out`` targets uniformly (with replacement; mean fan-in fan_out · n_source /
        n_target), sorted within the row; weights N(mean, std).  Built by source, so no global sort is needed."""
        targets = rng.integers(0, n_target, (n_source, fan_out), dtype=np.int32)
        if no_self:
            own = np.arange(n_source, dtype=np.int32)[:, None]
            targets = np.where(targets == own, (targets + 1) % n_target, targets).astype(np.int32, copy=False)
        targets.sort(axis=1)
        indptr = np.arange(n_source + 1, dtype=np.int64) * fan_out
        weights = rng.normal(weight_mean, weight_std, targets.size)
        return Csr(indptr, targets.reshape(-1), weights, n_target)

    def to_dense(self, values: np.ndarray | None = None) -> np.ndarray:
        """(n_target, n_source) matrix with ``values`` (default: the weights) at the synapses (duplicates summed)."""
        out = np.zeros((self.n_target, self.n_source))
        sources = np.repeat(np.arange(self.n_source), np.diff(self.indptr))
        np.add.at(out, (self.indices, sources), self.weights if values is None else values)
        return out


@dataclass(frozen=True, eq=False)
class SparseNetwork:
    """Per-neuron parameter vectors (as :class:`~neuroport.ir.network.Network`), CSR input and recurrent weights."""

    dt_ms: float
    alpha: np.ndarray  # (n,) exp(−dt/τ_m)
    rho: np.ndarray  # (n,) exp(−dt/τ_a), 1 for LIF
    v_th: np.ndarray  # (n,)
    beta: np.ndarray  # (n,) 0 for LIF
    n_ref_steps: np.ndarray  # (n,) int64
    psi_height: np.ndarray  # (n,) γ / v_th
    psi_width: np.ndarray  # (n,) surrogate β / v_th
    surrogate_function: str
    kappa: np.ndarray  # (n_out,) exp(−dt/τ_out)
    loss: str  # "mse" or "cross_entropy"
    w_in: Csr  # n_in sources → n targets
    w_rec: Csr  # n sources → n targets
    w_out: np.ndarray  # (n_out, n) dense

    @property
    def n_rec(self) -> int:
        return int(self.v_th.size)

    @staticmethod
    def from_graph(graph: FloatGraph) -> SparseNetwork:
        """The network of a graph in either form, built from its synapse lists (never a matrix of n × n):
        the same CSR as :meth:`from_network` of its dense view.  Delays other than one step are refused."""
        if has_delays(graph):
            raise UnsupportedError("the sparse e-prop engine delivers every spike one step after it is sent; this "
                                   "model has synaptic delays (train it with the dense engine)")
        f = SimpleNamespace(**neuron_fields(graph))
        refuse_input_scaling(f, "the sparse e-prop engine")
        lists, _ = sparse_matrices(graph)
        as64 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
        return SparseNetwork(f.dt_ms, as64(np.exp(-f.dt_ms / f.tau_m_ms)), as64(np.exp(-f.dt_ms / f.tau_a_ms)),
                             as64(f.v_th), as64(f.beta), np.round(f.t_ref_ms / f.dt_ms).astype(np.int64),
                             as64(f.surrogate_gamma / f.v_th), as64(f.surrogate_beta / f.v_th), f.surrogate_function,
                             as64(np.exp(-f.dt_ms / f.tau_out_ms)), f.loss, Csr.from_synapses(lists["w_in"]),
                             Csr.from_synapses(lists["w_rec"]), as64(lists["w_out"].dense()))

    @staticmethod
    def from_network(net: Network) -> SparseNetwork:
        """The sparse view of a dense network: its masks become the CSR structure."""
        as64 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
        return SparseNetwork(net.dt_ms, as64(net.alpha), as64(net.rho), as64(net.v_th), as64(net.beta),
                             net.n_ref_steps.astype(np.int64), as64(net.surrogate_gamma / net.v_th),
                             as64(net.surrogate_beta / net.v_th), net.surrogate_function, as64(net.kappa), net.loss,
                             Csr.from_dense(net.w_in, net.w_in_mask), Csr.from_dense(net.w_rec, net.w_rec_mask),
                             as64(net.w_out))


@dataclass(frozen=True, eq=False)
class SparseRun:
    """One sample's run: spikes as events (neurons spiking at step t: ``spike_idx[spike_ptr[t]:spike_ptr[t+1]]``)."""

    spike_ptr: np.ndarray
    spike_idx: np.ndarray
    psi: np.ndarray  # (T, n) surrogate derivative
    y: np.ndarray  # (T, n_out) readout
    v: np.ndarray  # (T, n) or (0, n) unless recorded
    a: np.ndarray

    def raster(self, n: int) -> np.ndarray:
        """Dense (T, n) 0/1 spikes (for small networks and tests)."""
        out = np.zeros((self.spike_ptr.size - 1, n))
        out[np.repeat(np.arange(out.shape[0]), np.diff(self.spike_ptr)), self.spike_idx] = 1.0
        return out


def simulate_sparse(net: SparseNetwork, inputs: np.ndarray, *, record_states: bool = False) -> SparseRun:
    """Run one sample, ``inputs`` (T, n_in) 0/1; the equations of :func:`neuroport.emulator.reference.simulate`,
    event-driven (:func:`neuroport.training.sparse_kernels.sparse_forward`), y = κ y[t−1] + W_out z[t]."""
    x = np.ascontiguousarray(inputs, dtype=np.bool_)
    ptr, idx, psi, u, v, a = sparse_forward(
        x, net.w_in.indptr, net.w_in.indices, net.w_in.weights, net.w_rec.indptr, net.w_rec.indices,
        net.w_rec.weights, net.alpha, net.rho, net.v_th, net.beta, net.n_ref_steps, net.psi_height, net.psi_width,
        SHAPE_CODES[net.surrogate_function], net.w_out, record_states)
    return SparseRun(ptr, idx, psi, leaky_sum(u[None], net.kappa)[0], v, a)


def simulate_sparse_graph(graph: FloatGraph, inputs: np.ndarray) -> SimpleNamespace:
    """Float run of a graph in either form on ``inputs`` (batch, T, n_in), event-driven: ``.z`` (batch, T, n)
    uint8 spikes and ``.y`` (batch, T, n_out) readout, as :func:`neuroport.emulator.reference.simulate` returns
    them (it is the same model, :func:`simulate_sparse`); memory ∝ synapses + batch × T × n bytes."""
    net = SparseNetwork.from_graph(graph)
    batch, n_steps = inputs.shape[:2]
    z = np.zeros((batch, n_steps, net.n_rec), np.uint8)
    y = np.zeros((batch, n_steps, net.kappa.size))
    for b, sample in enumerate(inputs):
        run = simulate_sparse(net, sample)
        z[b, np.repeat(np.arange(n_steps), np.diff(run.spike_ptr)), run.spike_idx] = 1
        y[b] = run.y
    return SimpleNamespace(z=z, y=y)


@dataclass(frozen=True, eq=False)
class SparseGradients:
    """Summed over the batch; ``w_in`` / ``w_rec`` aligned with the CSR synapses, ``w_out`` (n_out, n)."""

    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    loss: float  # summed over the batch, as :class:`neuroport.training.gradients.Gradients`
    n_errors: int
    rate_hz: float
    n_spikes: int


def _sample(batch: Batch, b: int) -> Batch:
    labels = None if batch.labels is None else batch.labels[b: b + 1]
    return Batch(batch.inputs[b: b + 1], batch.targets[b: b + 1], batch.loss_mask[b: b + 1], labels)


def _add_sample(net: SparseNetwork, run: SparseRun, x: np.ndarray, err: np.ndarray, b_mat: np.ndarray,
                reg: np.ndarray, out: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Add one sample's gradients to ``out`` = (g_in, g_rec, g_out) (module docstring)."""
    err_filtered = np.ascontiguousarray(backward_filter(err, net.kappa)[0])
    err_tilde = np.ascontiguousarray(err_filtered * (1.0 - net.kappa))
    sparse_backward(err_tilde, err_filtered, b_mat, reg, run.psi, x, run.spike_ptr, run.spike_idx, net.w_in.indptr,
                    net.w_in.indices, net.w_rec.indptr, net.w_rec.indices, net.alpha, net.rho, net.beta, *out)


def sparse_gradients(net: SparseNetwork, batch: Batch, *, feedback: str = "symmetric", b_random: np.ndarray | None = None,
                     c_reg: float = 0.0, f_target_hz: float = 10.0) -> SparseGradients:
    """Simulate each sample of ``batch`` and sum its e-prop gradients (module docstring); equal to
    :func:`neuroport.training.gradients.sequence_gradients` on the existing synapses.  B = W_outᵀ for symmetric
    feedback, else ``b_random`` (n, n_out).  One sample's ψ is held at a time: memory synapses + T × n."""
    b_mat = np.ascontiguousarray(net.w_out.T if feedback == "symmetric" else b_random, dtype=np.float64)
    out = (np.zeros(net.w_in.n_synapses), np.zeros(net.w_rec.n_synapses), np.zeros(net.w_out.shape))
    loss, n_errors, n_spikes = 0.0, 0, 0
    for b in range(batch.size):
        one = _sample(batch, b)
        x = np.ascontiguousarray(one.inputs[0], dtype=np.bool_)
        run = simulate_sparse(net, x)
        err, sample_loss, sample_errors = output_error(net, SimpleNamespace(y=run.y[None]), one)
        counts = np.bincount(run.spike_idx, minlength=net.n_rec)
        reg = c_reg * (counts / batch.n_steps - f_target_hz * net.dt_ms * 1e-3) / batch.n_steps
        _add_sample(net, run, x, err, b_mat, reg, out)
        loss, n_errors, n_spikes = loss + sample_loss, n_errors + sample_errors, n_spikes + int(run.spike_idx.size)
    rate_hz = n_spikes / (batch.size * batch.n_steps * net.n_rec) * 1e3 / net.dt_ms
    return SparseGradients(*out, loss=loss, n_errors=n_errors, rate_hz=rate_hz, n_spikes=n_spikes)


def _descend(weights: np.ndarray, grad: np.ndarray, step: float, low: float, high: float) -> np.ndarray:
    """clip(W − step · g, low, high) with one new array (no temporaries of the synapse count)."""
    new = np.multiply(grad, -step)
    new += weights
    return np.clip(new, low, high, out=new)


def sgd_step(net: SparseNetwork, grads: SparseGradients, learning_rate: float, batch_size: int, *,
             weight_min: float = -np.inf, weight_max: float = np.inf) -> SparseNetwork:
    """W ← clip(W − η g / batch, W_min, W_max) for the input, recurrent and readout weights; a new network."""
    step = learning_rate / batch_size
    return replace(net, w_in=replace(net.w_in, weights=_descend(net.w_in.weights, grads.w_in, step, weight_min, weight_max)),
                   w_rec=replace(net.w_rec, weights=_descend(net.w_rec.weights, grads.w_rec, step, weight_min, weight_max)),
                   w_out=_descend(net.w_out, grads.w_out, step, weight_min, weight_max))


def train_step(net: SparseNetwork, batch: Batch, learning_rate: float, **gradient_options) -> tuple[SparseNetwork, SparseGradients]:
    """One e-prop training step: forward, gradients (:func:`sparse_gradients`), SGD (:func:`sgd_step`)."""
    grads = sparse_gradients(net, batch, **gradient_options)
    return sgd_step(net, grads, learning_rate, batch.size), grads


def _refuse_unsupported(graph: FloatGraph, rule: EpropRule, mode: str) -> None:
    """What the sparse trainer does not implement (the dense trainer does): a clear error, never a silent change."""
    problems = {
        f"learning.variant '{rule.variant}' (only bsshslm_2020)": rule.variant != "bsshslm_2020",
        "adaptive feedback": rule.feedback == "adaptive",
        "rewiring (DEEP R)": rule.rewiring is not None,
        f"--mode {mode} (only sequence)": mode != "sequence",
    }
    found = [name for name, present in problems.items() if present]
    if found:
        raise UnsupportedError(f"the sparse e-prop trainer (models with connectivity rules) has no {', '.join(found)}; "
                               "use the dense form of the model", path="learning")


def train_sparse(graph: FloatGraph, iterations: int, *, seed: int | None = None, mode: str = "sequence",
                 batch_size: int | None = None, on_iteration: Callable[[IterationStats], None] | None = None) -> TrainResult:
    """``neuroport train`` for a graph in the sparse form: the dense trainer's loop
    (:func:`neuroport.training.eprop.train_on_batches`: same batches, batch-mean gradient + weight decay, SGD or
    Adam per synapse, clip to [W_min, W_max]) on per-synapse arrays, gradients from :func:`sparse_gradients`;
    memory ∝ synapses + steps × neurons.  Frozen projections (plastic: false) keep their weights."""
    rule = rule_of(graph)
    _refuse_unsupported(graph, rule, mode)
    net = SparseNetwork.from_graph(graph)
    lists, plastic = sparse_matrices(graph)
    out_syn = lists["w_out"]
    flags = {"w_in": plastic["w_in"][lists["w_in"].by_source()[1]], "w_rec": plastic["w_rec"][lists["w_rec"].by_source()[1]],
             "w_out": out_syn.dense(plastic["w_out"].astype(np.float64))}
    exists_out = out_syn.dense_mask()
    b_random = None if rule.feedback == "symmetric" else rule.feedback_weights
    weights = {"w_in": net.w_in.weights.copy(), "w_rec": net.w_rec.weights.copy(), "w_out": net.w_out.copy()}
    states = {k: AdamState(np.zeros_like(w), np.zeros_like(w)) for k, w in weights.items()}
    history = []
    for it, batch in enumerate(draw_batches(graph, iterations, seed=seed, batch_size=batch_size)):
        net = replace(net, w_in=replace(net.w_in, weights=weights["w_in"]), w_rec=replace(net.w_rec, weights=weights["w_rec"]),
                      w_out=weights["w_out"])
        grads = sparse_gradients(net, batch, feedback=rule.feedback, b_random=b_random, c_reg=rule.c_reg,
                                 f_target_hz=rule.f_target_hz)
        for name in weights:
            mean_grad = (average_gradient(getattr(grads, name), rule, batch) + rule.weight_decay * weights[name]) * flags[name]
            new = np.clip(optimizer_step(rule.optimizer, weights[name], mean_grad, states[name]), rule.weight_min, rule.weight_max)
            weights[name] = np.where(exists_out, new, 0.0) if name == "w_out" else new
        error = grads.n_errors / batch.size if net.loss == "cross_entropy" else float("nan")
        stats = IterationStats(it, grads.loss / batch.size, error, grads.rate_hz)
        history.append(stats)
        if on_iteration:
            on_iteration(stats)
    per_synapse = {"w_in": replace(net.w_in, weights=weights["w_in"]).to_synapse_weights(lists["w_in"]),
                   "w_rec": replace(net.w_rec, weights=weights["w_rec"]).to_synapse_weights(lists["w_rec"]),
                   "w_out": weights["w_out"][out_syn.targets, out_syn.sources]}
    return TrainResult(with_synapse_weights(graph, per_synapse), history)
