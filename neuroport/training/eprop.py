"""Float e-prop training of a FloatGraph (Bellec et al. 2020), batched numpy.

One iteration: draw a batch from the model's task, simulate (:mod:`neuroport.emulator.reference`), compute
e-prop gradients (:mod:`neuroport.training.gradients`, sequence-batched or online — the same numbers), average
them over the batch and take one optimizer step:

    SGD:   W ← W − η_k ḡ
    Adam:  m ← β1 m + (1 − β1) ḡ,  v ← β2 v + (1 − β2) ḡ²,  η_t = η_k √(1 − β2^t) / (1 − β1^t)
           W ← W − η_t m / (√v + ε)                    (TensorFlow's form, as NEST's e-prop models)
    η_k = η · decay_factor^⌊k / decay_every⌋ at step k = t − 1 (``optimizer.decay``; η without it)
    then W ← clip(W, weight_min, weight_max).
ḡ is the gradient summed over a sequence and averaged over the batch (NEST's ``average_gradient`` also divides
it by the learning window).
Feedback: symmetric (B = W_outᵀ, implicit), random (B fixed), adaptive (Kolen-Pollack: B receives W_out's
update transposed, and both decay, W ← W − η λ W).
Input scaling (NEST's ``regular_spike_arrival: false``, ζ = 1 − α / 1 − κ per target neuron): the network runs
with the folded weights ζ W (:meth:`~neuroport.ir.network.Network.folded`), whose gradient g̃ the engines compute;
the stored W gets the optimizer step of g = ζ_j g̃_ji — NEST's own gradient, whose presynaptic trace is
z̄ ← α z̄ + ζ z (``eprop_iaf_bsshslm_2020.cpp``, ``eprop_readout_bsshslm_2020.cpp``, ``compute_gradient``).
With ``learning.rewiring``, DEEP R follows every step on the rewired projections (L1 prior, noise, retirement of
synapses whose sign would flip, uniform reactivation; :mod:`neuroport.training.rewiring`): their masks change.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from neuroport.emulator.reference import simulate
from neuroport.errors import ModelError, UnsupportedError
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.learning_rule import EpropRule, Optimizer
from neuroport.ir.network import MATRICES, Network, assemble, with_weights
from neuroport.tasks import Batch, task_of
from neuroport.training.gradients import Gradients, online_gradients, sequence_gradients
from neuroport.training.parallel import ShardedGradient, Shards
from neuroport.training.rewiring import RewiringPlan, rewiring_plan, start_rewiring, with_masks

GRADIENT_MODES = {"sequence": sequence_gradients, "online": online_gradients}

# learning.variant → "module:function" of the variants with a trainer of their own (imported when used); each takes
# train_eprop's arguments and returns a TrainResult.  bsshslm_2020 is trained here.
VARIANT_TRAINERS = {
    "eprop_plus": "neuroport.training.eprop_plus:train_eprop_plus",
    "reward_based": "neuroport.training.reward_eprop:train_reward_eprop",
}
# population kind → "module:function" of the trainer for networks with populations of that neuron model (it
# refuses mixes it cannot train); takes train_eprop's arguments and returns a TrainResult.  LIF/ALIF: here.
NEURON_TRAINERS = {"izhikevich": "neuroport.training.izhikevich:train_izhikevich",
                   "lif_ca2_adaptive": "neuroport.training.ca2_adaptive:train_ca2_adaptive"}
SHARDED_VARIANTS = ("reward_based",)  # variant trainers that split a batch across workers (``shards``)


@dataclass
class AdamState:
    """Optimizer state for one matrix."""

    m: np.ndarray
    v: np.ndarray
    step: int = 0


def optimizer_step(opt: Optimizer, weights: np.ndarray, grad: np.ndarray, state: AdamState) -> np.ndarray:
    """Return the updated weights (see the module docstring)."""
    learning_rate = opt.learning_rate_at(state.step)
    state.step += 1
    if opt.name == "sgd":
        return weights - learning_rate * grad
    state.m = opt.beta1 * state.m + (1 - opt.beta1) * grad
    state.v = opt.beta2 * state.v + (1 - opt.beta2) * grad**2
    lr_t = learning_rate * np.sqrt(1 - opt.beta2**state.step) / (1 - opt.beta1**state.step)
    return weights - lr_t * state.m / (np.sqrt(state.v) + opt.epsilon)


@dataclass(frozen=True)
class IterationStats:
    iteration: int
    loss: float  # mean per sequence of neuroport's sum over the loss window (and readouts)
    error: float  # fraction of misclassified sequences (classification) or NaN
    rate_hz: float
    train_error: float = float("nan")  # on-chip only: error of the sequences while they were being learned
    nest_loss: float = float("nan")  # the same loss as NEST's e-prop examples and testsuite report it (nest_loss)


def nest_loss(loss: str, summed: float, batch: Batch, n_out: int) -> float:
    """A batch's summed loss as NEST's e-prop example scripts and testsuite report it (NEST 3.10,
    pynest/examples/eprop_plasticity): MSE 0.5 · mean over readouts and sequences of Σ_t (y − y*)², i.e.
    ``summed / (batch · n_out)``; cross-entropy −mean over the learning window's steps and the sequences of
    Σ_k π* log π, i.e. ``summed / masked steps``."""
    if loss == "mse":
        return summed / (batch.size * n_out)
    return summed / max(int(batch.loss_mask.sum()), 1)


@dataclass
class TrainResult:
    graph: FloatGraph
    history: list[IterationStats] = field(default_factory=list)


def refuse_shards(shards: Shards | None, what: str) -> None:
    """Data-parallel training is for the trainers that sum a batch's gradient in one place."""
    if shards is not None:
        raise UnsupportedError(f"data-parallel training (--workers/--scheduler) does not support '{what}' models: it "
                               "splits the batches of bsshslm_2020 and reward_based e-prop, BPTT and on-chip training; "
                               "train this one in one process")


def rule_of(graph: FloatGraph) -> EpropRule:
    if graph.learning is None:
        raise ModelError("the model has no `learning:` section; add one to train it", path="learning")
    return graph.learning


def eprop_gradients(net: Network, rule: EpropRule, b_matrix: np.ndarray | None, batch: Batch, mode: str = "sequence") -> Gradients:
    """Simulate one batch and return its summed e-prop gradients."""
    run = simulate(net, batch.inputs, record_states=False)
    return GRADIENT_MODES[mode](net, batch.inputs.astype(np.float64), run, batch, feedback=rule.feedback,
                                b_random=b_matrix, c_reg=rule.c_reg, f_target_hz=rule.f_target_hz)


def within_learning_window(batch: Batch, window_steps: int | None) -> Batch:
    """NEST's ``eprop_learning_window``: the error counts only in the last ``window_steps`` steps of a sequence
    (and only where the task's own loss mask is set)."""
    if window_steps is None:
        return batch
    mask = batch.loss_mask.copy()
    mask[:, : max(batch.n_steps - window_steps, 0)] = False
    return replace(batch, loss_mask=mask)


def draw_batches(graph: FloatGraph, iterations: int, *, seed: int | None = None,
                 batch_size: int | None = None) -> list[Batch]:
    """The batches a training run of ``graph`` uses (every engine draws the same ones for a seed)."""
    rule, task = rule_of(graph), task_of(graph)
    rng = np.random.default_rng(graph.seed if seed is None else seed)
    size = batch_size or rule.batch_size
    return [within_learning_window(task.batch(rng, size), rule.learning_window_steps) for _ in range(iterations)]


def average_gradient(grad: np.ndarray, rule: EpropRule, batch: Batch) -> np.ndarray:
    """Batch mean of a summed gradient; with NEST's ``average_gradient`` also divided by the learning window."""
    mean = grad / batch.size
    if rule.average_gradient:
        mean = mean / (rule.learning_window_steps or int(batch.loss_mask.sum(axis=1).max()))
    return mean


def folded_network(net: Network) -> Network:
    """The network gradients are computed on: ζ folded into the weights (the LIF :class:`Network`; others, such as
    the Izhikevich network, have no input scaling and are returned as they are)."""
    return net.folded() if isinstance(net, Network) else net


def stored_gradients(grads: Gradients, net: Network) -> Gradients:
    """Gradients of the stored weights from those of the folded ones, g = ζ_post g̃ (identity without scaling)."""
    if getattr(net, "input_scale_rec", None) is None and getattr(net, "input_scale_out", None) is None:
        return grads
    rec = np.ones(net.n_rec) if net.input_scale_rec is None else net.input_scale_rec
    out = np.ones(net.n_out) if net.input_scale_out is None else net.input_scale_out
    return replace(grads, w_in=rec[:, None] * grads.w_in, w_rec=rec[:, None] * grads.w_rec,
                   w_out=out[:, None] * grads.w_out)


def refuse_input_scaling(net: Network, trainer: str) -> None:
    """Raise for ``regular_spike_arrival: false`` in a trainer that does not carry the input factor ζ."""
    if net.input_scale_rec is not None or net.input_scale_out is not None:
        where = "readout" if net.input_scale_rec is None else "populations"
        raise UnsupportedError(f"{trainer} does not support `regular_spike_arrival: false` (input factor 1 − α / "
                               "1 − κ); train this model with variant bsshslm_2020 (numpy or nest engine) or BPTT",
                               path=f"{where}.regular_spike_arrival")


@dataclass
class TrainedWeights:
    weights: dict[str, np.ndarray]
    feedback: np.ndarray | None
    history: list[IterationStats]
    masks: dict[str, np.ndarray] | None = None  # final connectivity of the rewired matrices (learning.rewiring)


GradientFn = Callable[[Network, EpropRule, np.ndarray | None, Batch], Gradients]


def train_on_batches(net: Network, rule: EpropRule, batches: list[Batch], *, mode: str = "sequence",
                     on_iteration: Callable[[IterationStats], None] | None = None,
                     gradients: GradientFn | None = None, rewiring: RewiringPlan | None = None,
                     shards: Shards | None = None) -> TrainedWeights:
    """One optimizer step per batch (module docstring); returns the final weights and the learning curve.
    ``gradients`` (net, rule, B, batch) → summed :class:`Gradients` replaces e-prop's (BPTT uses this).
    ``rewiring``: DEEP R after each step (:mod:`neuroport.training.rewiring`), required with learning.rewiring.
    ``shards``: data-parallel, each batch's gradient summed over shards (:mod:`neuroport.training.parallel`)."""
    compute = gradients or partial(eprop_gradients, mode=mode)
    if shards is not None:
        compute = ShardedGradient(compute, shards)
    b_matrix = None if rule.feedback == "symmetric" else rule.feedback_weights.copy()
    weights = {name: getattr(net, name).copy() for name in MATRICES}
    states = {name: AdamState(np.zeros_like(w), np.zeros_like(w)) for name, w in weights.items()}
    b_state = AdamState(np.zeros(net.w_out.shape), np.zeros(net.w_out.shape))
    history = []
    rewire = start_rewiring(net, rule, rewiring)  # None without learning.rewiring
    for it, batch in enumerate(batches):
        net = replace(net, **weights, **(rewire.masks() if rewire else {}))
        grads = stored_gradients(compute(folded_network(net), rule, b_matrix, batch), net)
        for name in MATRICES:
            plastic = getattr(net, f"{name}_plastic")
            mean_grad = average_gradient(getattr(grads, name), rule, batch) + rule.weight_decay * weights[name] * plastic
            new = optimizer_step(rule.optimizer, weights[name], mean_grad, states[name])
            weights[name] = np.where(getattr(net, f"{name}_mask"), np.clip(new, rule.weight_min, rule.weight_max), 0.0)
        if rewire:
            weights = rewire.step(weights)
        if rule.feedback == "adaptive":
            grad_b = average_gradient(grads.w_out, rule, batch) + rule.weight_decay * b_matrix.T
            b_matrix = optimizer_step(rule.optimizer, b_matrix.T, grad_b, b_state).T
        error = grads.n_errors / batch.size if net.loss == "cross_entropy" else float("nan")
        stats = IterationStats(it, grads.loss / batch.size, error, grads.rate_hz,
                               nest_loss=nest_loss(net.loss, grads.loss, batch, net.n_out))
        history.append(stats)
        if on_iteration:
            on_iteration(stats)
    return TrainedWeights(weights, b_matrix, history, masks=dict(rewire.active) if rewire else None)


def train_eprop(graph: FloatGraph, iterations: int, *, seed: int | None = None, mode: str = "sequence",
                batch_size: int | None = None, on_iteration: Callable[[IterationStats], None] | None = None,
                shards: Shards | None = None) -> TrainResult:
    """Train ``graph`` with float e-prop for ``iterations`` batches; returns the trained graph and its curve.
    ``shards``: split every batch across workers (:mod:`neuroport.training.parallel`)."""
    rule = rule_of(graph)
    neuron_kinds = [p.kind for p in graph.populations if p.kind in NEURON_TRAINERS]
    parallel = {"shards": shards} if shards is not None else {}
    if neuron_kinds or (rule.variant in VARIANT_TRAINERS and rule.variant not in SHARDED_VARIANTS):
        refuse_shards(shards, neuron_kinds[0] if neuron_kinds else rule.variant)
    if neuron_kinds:
        module, name = NEURON_TRAINERS[neuron_kinds[0]].split(":")
        neuron_trainer = getattr(importlib.import_module(module), name)
        return neuron_trainer(graph, iterations, seed=seed, mode=mode, batch_size=batch_size, on_iteration=on_iteration)
    if rule.variant in VARIANT_TRAINERS:
        module, name = VARIANT_TRAINERS[rule.variant].split(":")
        variant_trainer = getattr(importlib.import_module(module), name)
        return variant_trainer(graph, iterations, seed=seed, mode=mode, batch_size=batch_size, on_iteration=on_iteration,
                               **parallel)
    batches = draw_batches(graph, iterations, seed=seed, batch_size=batch_size)
    result = train_on_batches(assemble(graph), rule, batches, mode=mode, on_iteration=on_iteration,
                              rewiring=rewiring_plan(graph), shards=shards)
    rewired = graph if result.masks is None else with_masks(graph, result.masks)  # the final connectivity
    trained = with_weights(rewired, result.weights["w_in"], result.weights["w_rec"], result.weights["w_out"])
    if rule.feedback == "adaptive":
        trained = replace(trained, learning=replace(rule, feedback_weights=result.feedback))
    return TrainResult(trained, result.history)
