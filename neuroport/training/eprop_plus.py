"""Float e-prop+ (``learning.variant: eprop_plus``): NEST 3.10's event-driven e-prop (``eprop_iaf``,
``eprop_iaf_adapt``, ``eprop_readout``, ``eprop_synapse``; Korcsak-Gorzo et al.), equal to it on identical inputs.

The sequences of a training run are one continuous stream: no update intervals, no resets.  Per step t
(sequence steps; voltages relative to E_L; input factor 1):

    v ← α v + Σ_i W_in x_i[t] + Σ_i W_rec z_i[t−1],   a ← ρ a + z[t−1],   A = v_th + β a       (LIF: β = 0)
    ψ[t] = surrogate(v − A) (0 while refractory);  z[t] = [v ≥ A, free];  v ← v − v_th z[t]   (reset in the spike step)
    y_k[t] = κ_k y_k[t−1] + Σ_j W_out z_j[t],   err_k[t] = (y_k[t] − y*_k[t]) · mask[t]      (MSE only)
    L_j[t] = Σ_k B_jk err_k[t];   f̄_j ← κ_reg f̄_j + (1 − κ_reg) z_j[t]/dt;   R_j[t] = c_reg (f̄_j − f_target dt)

NEST's psc_delta neurons (``lif_psc_delta`` / ``alif_psc_delta``, ``eprop_iaf_psc_delta(_adapt)``) instead reset
to v_reset in the spike step and, for the n_ref steps after it, keep v and a and drop their input; z = [v ≥ A]
(their gradient code is eprop_iaf's).  With ``target_alignment: nest_example`` the readout meets y*[t + 1] and the
mask of t + 1, as NEST's example scripts wire the target generator.

Every input/recurrent synapse ji keeps, from its first presynaptic spike on (s_i: the presynaptic train as it
arrives, x_i[t] or z_i[t−1]):

    z̄ ← α_j z̄ + s_i[t];   e = ψ_j[t] (z̄ − β_j ε);   ε ← ρ_j ε + e
    ē ← κ ē + e   (no (1 − κ), unlike bsshslm_2020);   ē_reg ← κ_reg ē_reg + (1 − κ_reg) e
    g_ji += L_j[t] ē + R_j[t] ē_reg

and a readout synapse kj: z̄ ← κ_k z̄ + z_j[t], g_kj += err_k[t] z̄.  Trace cutoff: a synapse integrates only the
first ``isi_trace_cutoff_steps`` steps after each presynaptic spike (from the step before it); past that its
traces just decay.  Updates are event-driven: when a presynaptic spike arrives at step t, the synapse's gradient,
integrated through step t − 2 (the learning signal reaches the neuron two steps late), updates its weight
before the spike is transmitted: gradient descent W ← W − η g, or Adam stepping once per elapsed time step (the
first step with g, the rest with 0: NEST's optimizer with batch_size 1), then W is clipped to
[weight_min, weight_max].  A synapse's first spike updates nothing.  Gradient integrated after a synapse's last
presynaptic spike stays pending (as in NEST, which updates lazily).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from neuroport.emulator.kernels import SHAPE_CODES
from neuroport.errors import ModelError
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.learning_rule import EpropPlus, EpropRule
from neuroport.ir.network import Network, assemble, with_weights
from neuroport.tasks import Batch
from neuroport.training.eprop import IterationStats, TrainedWeights, TrainResult, draw_batches, rule_of
from neuroport.training.eprop_plus_kernel import ADAM, SGD, apply_pre_arrivals, run_chunk

OPTIMIZER_CODES = {"sgd": SGD, "adam": ADAM}
NO_CUTOFF = 2**62


def refusals(net: Network, rule: EpropRule) -> list[tuple[str, str]]:
    """(YAML path, reason) for each setting e-prop+ (NEST 3.10's models and this trainer) does not support."""
    checks = [
        (net.loss != "mse", "readout.loss",
         f"loss '{net.loss}': NEST 3.10's eprop_readout computes the mean-squared error only"),
        (rule.feedback != "random", "learning.feedback",
         f"feedback '{rule.feedback}': e-prop+ learning-signal connections have fixed weights; use random feedback"),
        (rule.weight_decay != 0, "learning.weight_decay", "weight_decay: NEST's e-prop optimizers have no weight decay"),
        (rule.optimizer.decays, "learning.optimizer.decay",
         "a learning-rate decay: NEST's e-prop optimizers keep the learning rate constant"),
        (rule.average_gradient, "learning.average_gradient",
         "average_gradient: e-prop+ has no update interval to average over"),
        (rule.learning_window_steps is not None, "learning.learning_window_ms",
         "learning_window_ms: e-prop+ has no update interval; the task's loss mask is the learning window"),
        (rule.rewiring is not None, "learning.rewiring", "rewiring is implemented for variant bsshslm_2020 only"),
        (net.delays is not None and any(np.any(d != 1) for d in net.delays.values()), "projections",
         "synaptic delays other than 1 step: NEST's eprop_synapse requires a delay of one step"),
        (net.input_scale_rec is not None, "populations.regular_spike_arrival",
         "regular_spike_arrival: false: NEST 3.10's eprop_iaf has no such option (input factor 1); use variant "
         "bsshslm_2020"),
        (net.input_scale_out is not None, "readout.regular_spike_arrival",
         "regular_spike_arrival: false: NEST 3.10's eprop_readout has no such option (input factor 1); use variant "
         "bsshslm_2020"),
    ]
    return [(path, reason) for failed, path, reason in checks if failed]


def check_supported(net: Network, rule: EpropRule) -> None:
    """Raise a ModelError naming the first unsupported setting (see :func:`refusals`)."""
    reasons = refusals(net, rule)
    if reasons:
        path, reason = reasons[0]
        raise ModelError(f"e-prop+ (variant eprop_plus) does not support {reason}", path=path)


def plus_settings(net: Network, rule: EpropRule) -> tuple[float, float, int]:
    """(κ, κ_reg, cutoff steps) with the defaults of :class:`~neuroport.ir.learning_rule.EpropPlus` resolved."""
    plus = rule.plus or EpropPlus()
    if plus.kappa is None and np.unique(net.kappa).size != 1:
        raise ModelError("readouts with different tau_out_ms need an explicit eprop_plus.kappa",
                         path="learning.eprop_plus.kappa")
    kappa = float(net.kappa[0]) if plus.kappa is None else plus.kappa
    kappa_reg = kappa if plus.kappa_reg is None else plus.kappa_reg
    return kappa, kappa_reg, plus.isi_trace_cutoff_steps or NO_CUTOFF


@dataclass
class PlusState:
    """Everything that carries from one step to the next (arrays updated in place by the kernel)."""

    t: int
    w_pre: np.ndarray  # (n, n_in + n): [W_in | W_rec]
    w_out: np.ndarray
    neuron: np.ndarray  # (3, n): v, a, z[t−1]
    last_spike: np.ndarray
    readout: np.ndarray  # (3, max(n, n_out)): y, err[t−1], f̄
    syn_pre: np.ndarray  # (7, n, n_in + n): z̄, ε, ē, ē_reg, g through t−1, g of step t, per-step weight
    last_pre: np.ndarray
    adam_pre: np.ndarray  # (5, …): m, v, β1^n, β2^n, n
    syn_out: np.ndarray  # (3, n_out, n): z̄, g, per-step weight
    last_out: np.ndarray
    adam_out: np.ndarray


def initial_state(net: Network) -> PlusState:
    n, pre = net.n_rec, net.n_in + net.n_rec

    def adam(shape: tuple[int, int]) -> np.ndarray:
        out = np.zeros((5, *shape))
        out[2:4] = 1.0
        out[4] = 1.0  # NEST's optimization_step_ starts at 1
        return out

    w_pre, w_out = np.hstack([net.w_in, net.w_rec]).astype(np.float64), net.w_out.astype(np.float64).copy()
    syn_pre, syn_out = np.zeros((7, n, pre)), np.zeros((3, net.n_out, n))
    syn_pre[6], syn_out[2] = w_pre, w_out
    return PlusState(
        t=0, w_pre=w_pre, w_out=w_out, neuron=np.zeros((3, n)), last_spike=np.full(n, -(10**9), dtype=np.int64),
        readout=np.zeros((3, max(n, net.n_out))), syn_pre=syn_pre, last_pre=np.full((n, pre), -1, dtype=np.int64),
        adam_pre=adam((n, pre)), syn_out=syn_out, last_out=np.full((net.n_out, n), -1, dtype=np.int64),
        adam_out=adam((net.n_out, n)))


@dataclass(frozen=True)
class PlusConstants:
    """The kernel's constant arguments for one network and rule."""

    feedback: np.ndarray
    plastic_pre: np.ndarray
    plastic_out: np.ndarray
    cells: np.ndarray
    kappas: np.ndarray
    reg_params: np.ndarray
    shape: int
    cutoff: int
    opt: tuple
    each_step: bool

    @classmethod
    def of(cls, net: Network, rule: EpropRule) -> PlusConstants:
        kappa, kappa_reg, cutoff = plus_settings(net, rule)
        o = rule.optimizer
        cells = np.vstack([net.alpha, net.rho, net.v_th, net.beta, net.n_ref_steps.astype(np.float64),
                           net.surrogate_gamma / net.v_th, net.surrogate_beta / net.v_th,
                           np.full(net.n_rec, np.nan) if net.v_reset is None else net.v_reset]).astype(np.float64)
        return cls(
            feedback=np.ascontiguousarray(rule.feedback_weights, dtype=np.float64),
            plastic_pre=np.hstack([net.w_in_plastic & net.w_in_mask, net.w_rec_plastic & net.w_rec_mask]),
            plastic_out=net.w_out_plastic & net.w_out_mask, cells=cells,
            kappas=np.concatenate([[kappa, kappa_reg], net.kappa]).astype(np.float64),
            reg_params=np.array([rule.c_reg, rule.f_target_hz * 1e-3, net.dt_ms]), shape=SHAPE_CODES[net.surrogate_function],
            cutoff=int(cutoff), opt=(float(OPTIMIZER_CODES[o.name]), o.learning_rate, o.beta1, o.beta2, o.epsilon,
                                     rule.weight_min, rule.weight_max),
            each_step=(rule.plus or EpropPlus()).optimize_each_step)


def run_sequences(state: PlusState, const: PlusConstants, batch: Batch, next_input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run the batch's sequences one after the other (advancing ``state``); ``next_input`` (n_in,) is the input of
    the step after them.  Returns the masked error (steps, n_out) and spikes (steps, n), steps = batch × T."""
    x = np.concatenate([batch.inputs.reshape(-1, batch.inputs.shape[2]), next_input[None]]).astype(np.float64)
    err, spikes = run_chunk(
        state.t, x, batch.targets.reshape(-1, batch.targets.shape[2]).astype(np.float64),
        batch.loss_mask.reshape(-1).astype(np.float64), state.w_pre, state.w_out, const.feedback, const.plastic_pre,
        const.plastic_out, state.neuron, state.last_spike, state.readout, state.syn_pre, state.last_pre, state.adam_pre,
        state.syn_out, state.last_out, state.adam_out, const.cells, const.kappas, const.reg_params, const.shape,
        const.cutoff, const.opt, const.each_step)
    state.t += x.shape[0] - 1
    return err, spikes


def finish(state: PlusState, const: PlusConstants, n_in: int) -> None:
    """Deliver the last step's recurrent spikes to their recurrent targets (their updates are due then)."""
    arriving = np.concatenate([np.zeros(n_in), state.neuron[2]])
    apply_pre_arrivals(state.t, arriving, state.w_pre, const.plastic_pre, state.syn_pre, state.last_pre,
                       state.adam_pre, const.opt, const.each_step)


def aligned_batches(batches: list[Batch], rule: EpropRule) -> list[Batch]:
    """The batches with the targets and loss mask the readout meets: unchanged for ``target_alignment: same_step``;
    for ``nest_example`` those of the next stream step (the last step keeps its own, as NEST's generators hold)."""
    if (rule.plus or EpropPlus()).target_alignment == "same_step":
        return batches
    flat = lambda a: a.reshape(-1, *a.shape[2:])  # noqa: E731
    targets = np.concatenate([flat(b.targets) for b in batches])
    mask = np.concatenate([flat(b.loss_mask) for b in batches])
    targets, mask = np.concatenate([targets[1:], targets[-1:]]), np.concatenate([mask[1:], mask[-1:]])
    out, start = [], 0
    for b in batches:
        stop = start + b.size * b.n_steps
        out.append(replace(b, targets=targets[start:stop].reshape(b.targets.shape),
                           loss_mask=mask[start:stop].reshape(b.loss_mask.shape)))
        start = stop
    return out


def nest_plus_loss(err: np.ndarray, batch: Batch, rule: EpropRule, before: np.ndarray) -> float:
    """One batch's loss as NEST's e-prop+ example and testsuite report it, from its masked errors (steps, n_out):
    0.5 Σ err² / (batch · n_out) over the batch's steps — with ``nest_example`` targets over the steps one earlier
    (NEST's multimeter window starts at total_offset): ``before`` is the error of the step before the batch (before
    the stream: y = 0 against the first target, :func:`stream_start_error`)."""
    if (rule.plus or EpropPlus()).target_alignment == "nest_example":
        err = np.concatenate([before[None], err[:-1]])
    return 0.5 * float(np.sum(err**2)) / (batch.size * err.shape[1])


def stream_start_error(first: Batch) -> np.ndarray:
    """The error NEST's testsuite counts for the step before the stream: y = 0 against the (unshifted) first
    target of the stream, masked."""
    return -first.targets[0, 0] * first.loss_mask[0, 0]


def train_plus_on_batches(net: Network, rule: EpropRule, batches: list[Batch], *,
                          on_iteration: Callable[[IterationStats], None] | None = None) -> TrainedWeights:
    """e-prop+ over ``batches`` run back to back (module docstring); one history entry per batch."""
    check_supported(net, rule)
    state, const = initial_state(net), PlusConstants.of(net, rule)
    history, before = [], stream_start_error(batches[0]) if batches else None
    for it, batch in enumerate(aligned_batches(batches, rule)):
        following = batches[it + 1].inputs[0, 0] if it + 1 < len(batches) else np.zeros(net.n_in)
        err, spikes = run_sequences(state, const, batch, following)
        loss = 0.5 * float(np.sum(err**2)) / batch.size
        stats = IterationStats(it, loss, float("nan"), float(spikes.mean() * 1e3 / net.dt_ms),
                               nest_loss=nest_plus_loss(err, batch, rule, before))
        before = err[-1]
        history.append(stats)
        if on_iteration:
            on_iteration(stats)
    finish(state, const, net.n_in)
    weights = {"w_in": state.w_pre[:, :net.n_in].copy(), "w_rec": state.w_pre[:, net.n_in:].copy(),
               "w_out": state.w_out.copy()}
    return TrainedWeights(weights, rule.feedback_weights, history)


def train_eprop_plus(graph: FloatGraph, iterations: int, *, seed: int | None = None, mode: str = "sequence",
                     batch_size: int | None = None,
                     on_iteration: Callable[[IterationStats], None] | None = None) -> TrainResult:
    """Train ``graph`` with e-prop+ on ``iterations`` batches of the model's task, run as one stream (``mode`` is
    accepted for train_eprop's signature: e-prop+ has one, online, mode)."""
    rule = rule_of(graph)
    net = assemble(graph, reset_kinds=True)
    check_supported(net, rule)
    batches = draw_batches(graph, iterations, seed=seed, batch_size=batch_size)
    result = train_plus_on_batches(net, rule, batches, on_iteration=on_iteration)
    w = result.weights
    return TrainResult(with_weights(graph, w["w_in"], w["w_rec"], w["w_out"]), result.history)


@dataclass(frozen=True, eq=False)
class PlusRun:
    """An inference run with e-prop+ dynamics: arrays (batch, n_steps, n)."""

    z: np.ndarray  # recurrent spikes (0/1)
    y: np.ndarray  # readout


def simulate_plus(graph: FloatGraph, inputs: np.ndarray) -> PlusRun:
    """Run ``graph`` without learning, with e-prop+ dynamics (reset in the spike step, module docstring), each
    sample from rest: the float simulator for ``variant: eprop_plus`` models (the bsshslm_2020 reference,
    :func:`neuroport.emulator.reference.simulate`, resets one step later)."""
    net = assemble(graph, reset_kinds=True).folded()
    rule = graph.learning or EpropRule(variant="eprop_plus")
    frozen = replace(net, w_in_plastic=np.zeros_like(net.w_in_mask), w_rec_plastic=np.zeros_like(net.w_rec_mask),
                     w_out_plastic=np.zeros_like(net.w_out_mask))
    feedback = np.zeros((net.n_rec, net.n_out))
    const = PlusConstants.of(frozen, replace(rule, feedback_weights=feedback, c_reg=0.0))
    x = np.asarray(inputs)
    z, y = np.zeros((*x.shape[:2], net.n_rec)), np.zeros((*x.shape[:2], net.n_out))
    for b in range(x.shape[0]):
        sample = Batch(x[b:b + 1], np.zeros((1, x.shape[1], net.n_out)), np.ones((1, x.shape[1]), bool))
        y[b], z[b] = run_sequences(initial_state(frozen), const, sample, np.zeros(net.n_in))
    return PlusRun(z=z, y=y)
