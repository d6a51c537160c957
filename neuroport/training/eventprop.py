"""``neuroport train --engine eventprop``: exact gradients from spike times by an event-based adjoint (EventProp,
Wunderlich & Pehle 2021, Sci. Rep. 11:12829), for the LIF networks neuroport deploys.

**Why not the discrete model itself.**  neuroport's LIF (:mod:`neuroport.ir.float_graph`) is discrete in time:
v[s] = α v[s−1] + W_in x[s] + (W_rec − diag θ) z[s−1],  z[s] = H(v[s] − θ).  Its spikes sit on the step grid, so
under a small change of W_in or W_rec no spike moves: the loss is piecewise constant in them and their exact
gradient is 0 almost everywhere (only W_out has one).  BPTT gets a non-zero gradient only from a surrogate ψ.
EventProp needs spike times that move continuously with the weights, so it differentiates the continuous-time
model of which the discrete one is the sampling at the step ends:

**The model (time t in steps; step s is the interval (s, s+1]).**  A spike at time t_m, and an input spike of
step s (t_m = s), inject a *box* current of one step, I = c_j w on (t_m, t_m + 1], c_j = 1/(τ_j (1 − α_j)),
τ_j = τ_m/dt, α_j = e^{−1/τ_j}, so that a whole box adds exactly w to v (a one-step zero-order-hold synapse):

    dv_j/dt = −v_j/τ_j + c_j u_j(t),   u_j(t) = Σ_i W_in[j,i] Σ_{s: x_i[s]} 1(s < t ≤ s+1)
                                                + Σ_i (W_rec[j,i] − θ_j δ_ji) Σ_{m of i} 1(t_m < t ≤ t_m + 1)
    spike t_n of j:  v_j(t_n) = θ_j from below (a crossing), or t_n = t_prev + n_ref if v_j ≥ θ_j when the
                     refractory period n_ref = max(round(t_ref/dt), 1) steps ends (a release)
    y_k(t) = Σ_j W_out[k,j] Σ_{m of j, t_m ≤ t} κ_k^{t − t_m}

The reset by subtraction is the neuron's own box (weight −θ_j).  v_j(t) = Σ w K_j(t − t_box) with the kernel
K(u) = (1 − α^u)/(1 − α) on (0, 1] and α^{u−1} after: with every spike on the grid, v at the step ends, y and
the spike trains are exactly the discrete model's (tests/test_eventprop.py checks K against the float reference);
the deployed model is this one with the threshold looked at only at step ends (a spike in (s, s+1] is the
discrete spike of step s).

**The loss** (classification; ``readout.loss: cross_entropy``): cross-entropy of the readout averaged over the
recall window, the continuous form of the evidence neuroport classifies with (Σ_s mask_s y[s]).  Masked step s
holds y over [s+1, s+2):

    Ē_k = (1/(n_mask τ_o,k (1 − κ_k))) Σ_{s masked} ∫_{s+1}^{s+2} y_k(t) dt,     L = −Σ_k π*_k log softmax(Ē)_k

With grid spikes Ē_k is the mean of the discrete y_k[s] over the window.  Per spike m of j and readout k,
G_k(t_m) = Σ_s ∫ κ^{t−t_m} H(t − t_m) dt over the masked intervals, ∂G/∂t_m = G/τ_o − 1(t_m in a masked interval).

**The adjoint** (the derivation in the docstring's terms; it is the implicit-function theorem at each spike,
v_j(t_n) = θ, summed backwards in time).  Per spike n: μ_n = −λ_n / v̇_n (crossings; 0 for releases), and per
neuron the adjoint membrane Λ_j(t) = Σ_{n of j, t_n > t} μ_n α_j^{t_n − t} (it decays backwards and jumps by μ_n
at the neuron's spikes) and M_j(t) = Σ_{n of j, t_n > t} μ_n.  Then

    λ_m = ∂L/∂t_m|readout,penalty − Σ_j (W_rec[j,i] − θ_j δ_ji) c_j (Λ_j(t_m) − Λ_j(t_m + 1))      [+ λ_n of a release n
                                                                                             that follows m]
    dL/dW_rec[j,i] = Σ_{m of i} (D_j(t_m) − D_j(t_m + 1)) / (1 − α_j),    D = M − Λ   (= c_j ∫_box Λ_j dt)
    dL/dW_in[j,i]  = Σ_{s: x_i[s]} (D_j(s) − D_j(s + 1)) / (1 − α_j)
    dL/dW_out[k,j] = δ_k Σ_{m of j} G_k(t_m) / (n_mask τ_o,k (1 − κ_k)),   δ = softmax(Ē) − π*

computed in one backward sweep over the events (spikes, box ends t_m + 1, step boundaries): memory is the spike
list (time, neuron, release link, v̇) and O(neurons) adjoint state; no steps × neurons history is kept.

**Where this differs from Wunderlich & Pehle's continuous-time EventProp.**  (1) Synapse: theirs is an exponential
current, τ_syn dI/dt = −I + Σ W δ(t − t_k), so λ_I integrates λ_V and dL/dw_ji = −τ_syn Σ_{spikes of i} λ_I,j;
here the current is a box of one step, so the synaptic adjoint is the box integral c ∫_{t_m}^{t_m+1} Λ dt and a
spike-time shift moves both box edges: c (Λ(t_m) − Λ(t_m + 1)) instead of the paper's jump (λ_V − λ_I) terms.
(2) Reset: theirs sets V to 0 at the spike (the jump conditions carry V̇⁺/V̇⁻ ratios); here the reset is by
subtraction through the neuron's own box, an ordinary synapse of weight −θ, so no extra jump condition appears.
(3) Refractoriness: absent in the paper; here a spike released at the end of the refractory period has a time that
follows the previous spike's (λ_prev += λ_n) and no threshold jump.  (4) The readout is a leaky integrator of
spikes (κ) scored on its window average, not a loss on spike times or on an integrated voltage.  (5) e-prop's
firing-rate regularization counts spikes, whose exact gradient is 0; ``learning.regularization`` is applied to a
smooth stand-in instead, the time-weighted rate r̂_j = 2 Σ_{m of j} (T − t_m)/T² (spikes per step; = the rate for
regular firing; T = the sequence's steps): ½ c_reg Σ_j (r̂_j − f_target·dt)², whose exact gradient
∂/∂t_m = −2 c_reg (r̂_j − f_target·dt)/T² is added to λ_m.  With Adam, c_reg needs tuning per model: on digits-events
c_reg 0 lets the rates run away at 200–400 neurons and c_reg 100 silences 100 neurons
(docs/howto/eventprop.md, results/eventprop_comparison*.md).  As for the paper, the gradient is exact where spikes neither appear nor vanish under a small change of the weights (no
threshold grazing); trained weights then go to the discrete model unchanged, spikes moving to their step's end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neuroport.errors import UnsupportedError
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.learning_rule import EpropRule
from neuroport.ir.network import Network, assemble, with_weights
from neuroport.tasks import Batch
from neuroport.training.eprop import IterationStats, TrainResult, draw_batches, rule_of, train_on_batches
from neuroport.training.eventprop_kernels import backward_events, forward_events
from neuroport.training.gradients import Gradients, softmax


@dataclass(frozen=True, eq=False)
class SpikeEvents:
    """One sample's forward pass: the spikes, time-ordered (time in steps, see the module docstring)."""

    times: np.ndarray  # (M,) float
    neurons: np.ndarray  # (M,) int
    prev: np.ndarray  # (M,) int: the previous spike of the neuron for a release, −1 for a crossing
    vdot: np.ndarray  # (M,) dv/dt at the crossing (per step)


@dataclass(frozen=True, eq=False)
class Constants:
    """Per-neuron constants of the box-synapse model (module docstring), time in steps."""

    tau: np.ndarray  # τ_m / dt
    alpha: np.ndarray  # e^{−1/τ}
    c: np.ndarray  # 1 / (τ (1 − α))
    theta: np.ndarray
    n_ref: np.ndarray  # refractory steps, ≥ 1
    tau_out: np.ndarray  # τ_out / dt (readout)
    kappa: np.ndarray


def constants_of(net: Network) -> Constants:
    tau = np.asarray(net.tau_m_ms / net.dt_ms, dtype=np.float64)
    alpha = np.exp(-1.0 / tau)
    return Constants(tau=tau, alpha=alpha, c=1.0 / (tau * (1.0 - alpha)), theta=np.asarray(net.v_th, np.float64),
                     n_ref=np.maximum(net.n_ref_steps, 1).astype(np.int64),
                     tau_out=np.asarray(net.tau_out_ms / net.dt_ms, np.float64), kappa=np.asarray(net.kappa, np.float64))


def reset_matrix(w_rec: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Row i: what a box of neuron i adds to every target's u, (W_rec − diag θ)ᵀ."""
    return np.ascontiguousarray(w_rec.T - np.diag(theta))


def run_events(weights: dict[str, np.ndarray], k: Constants, inputs: np.ndarray) -> SpikeEvents:
    """Exact event-driven forward pass of one sample, inputs (T, n_in)."""
    x = np.ascontiguousarray(inputs, dtype=np.float64)
    return SpikeEvents(*forward_events(x, np.ascontiguousarray(np.asarray(weights["w_in"], np.float64).T),
                                       reset_matrix(weights["w_rec"], k.theta), k.theta, k.tau, k.c, k.n_ref))


def window_integrals(times: np.ndarray, mask: np.ndarray, k: Constants) -> tuple[np.ndarray, np.ndarray]:
    """(G, ∂G/∂t) of shape (M, n_out): ∫ over the masked intervals [s+1, s+2) of κ^{t − t_m} H(t − t_m) dt."""
    n_steps = mask.size
    starts = np.zeros(n_steps + 3)  # starts[g] = 1 when an interval [g, g+1) is masked (step s = g − 1)
    starts[1:n_steps + 1] = mask
    later = np.zeros((n_steps + 4, k.kappa.size))  # later[g] = Σ_{g' ≥ g} starts[g'] κ^{g' − g}
    for g in range(n_steps + 2, -1, -1):
        later[g] = starts[g] + k.kappa * later[g + 1]
    ceil = np.ceil(times).astype(np.int64)
    frac = (ceil - times)[:, None]  # time to the next integer
    scale = k.tau_out * (1.0 - k.kappa)
    inside = (starts[ceil - 1] * (frac[:, 0] > 0))[:, None]  # t_m inside the masked interval [ceil−1, ceil)
    g = scale * k.kappa**frac * later[ceil] + inside * k.tau_out * (1.0 - k.kappa**frac)
    return g, g / k.tau_out - inside


def readout_loss(events: SpikeEvents, w_out: np.ndarray, k: Constants, mask: np.ndarray, target: np.ndarray, n_rec: int):
    """(loss, evidence Ē, ∂L/∂W_out, ∂L/∂t per spike) of one sample (module docstring)."""
    g, dg = window_integrals(events.times, mask, k)
    norm = mask.sum() * k.tau_out * (1.0 - k.kappa)
    per_neuron = np.zeros((n_rec, k.kappa.size))
    np.add.at(per_neuron, events.neurons, g)
    evidence = (w_out * per_neuron.T).sum(axis=1) / norm
    p = softmax(evidence)
    loss = float(-np.sum(target * np.log(p + 1e-300)))
    delta = (p - target) / norm
    direct = np.sum(delta * w_out[:, events.neurons].T * dg, axis=1)
    return loss, evidence, delta[:, None] * per_neuron.T, direct


@dataclass(frozen=True)
class RatePenalty:
    """½ c Σ_j (r̂_j − f)² on the time-weighted rate r̂_j = 2 Σ_{m of j} (T − t_m) / T² (spikes per step; module
    docstring), f = f_target · dt."""

    c: float = 0.0
    target_per_step: float = 0.0

    def time_gradient(self, events: SpikeEvents, n_rec: int, n_steps: int) -> tuple[float, np.ndarray]:
        """(penalty, ∂penalty/∂t per spike) of one sample."""
        if self.c == 0.0 or events.times.size == 0:
            return 0.0, np.zeros(events.times.size)
        weighted = np.bincount(events.neurons, weights=n_steps - events.times, minlength=n_rec)
        excess = 2.0 * weighted / n_steps**2 - self.target_per_step
        return 0.5 * self.c * float(np.sum(excess**2)), -2.0 * self.c * excess[events.neurons] / n_steps**2


def sample_gradients(weights: dict[str, np.ndarray], k: Constants, inputs: np.ndarray, mask: np.ndarray,
                     target: np.ndarray, penalty: RatePenalty = RatePenalty()):
    """(task loss, evidence, {w_in, w_rec, w_out: d(loss + penalty)/dW}, spike count) of one sample."""
    events = run_events(weights, k, inputs)
    n_rec = weights["w_rec"].shape[0]
    if not mask.any():
        zeros = {name: np.zeros_like(w) for name, w in weights.items()}
        return 0.0, np.zeros(k.kappa.size), zeros, events.times.size
    loss, evidence, grad_out, direct = readout_loss(events, weights["w_out"], k, mask, target, n_rec)
    direct = direct + penalty.time_gradient(events, n_rec, inputs.shape[0])[1]
    grad_in, grad_rec, _ = backward_events(np.ascontiguousarray(inputs, dtype=np.float64), events.times,
                                           events.neurons, events.prev, events.vdot, direct,
                                           reset_matrix(weights["w_rec"], k.theta), k.tau, k.c, k.alpha)
    return loss, evidence, {"w_in": grad_in, "w_rec": grad_rec, "w_out": grad_out}, events.times.size


def class_targets(batch: Batch) -> np.ndarray:
    """π* per sample: the targets averaged over the masked steps (one-hot for neuroport's classification tasks)."""
    mask = batch.loss_mask[..., None]
    return (batch.targets * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)


def eventprop_gradients(net: Network, batch: Batch, penalty: RatePenalty = RatePenalty()) -> Gradients:
    """EventProp gradients of L (+ the rate penalty) summed over the batch, masked to the plastic synapses, with
    the task loss, errors and rate."""
    k = constants_of(net)
    weights = {"w_in": net.w_in, "w_rec": net.w_rec, "w_out": net.w_out}
    totals = {name: np.zeros_like(w) for name, w in weights.items()}
    loss, errors, spikes = 0.0, 0, 0
    targets = class_targets(batch)
    for b in range(batch.size):
        sample_loss, evidence, grads, count = sample_gradients(weights, k, batch.inputs[b], batch.loss_mask[b],
                                                               targets[b], penalty)
        loss += sample_loss
        spikes += count
        errors += int(batch.labels is not None and np.argmax(evidence) != batch.labels[b])
        for name in totals:
            totals[name] += grads[name]
    rate_hz = spikes / (batch.size * batch.n_steps * net.n_rec) * 1e3 / net.dt_ms
    return Gradients(**{name: totals[name] * getattr(net, f"{name}_plastic") for name in totals},
                     loss=loss, n_errors=errors, rate_hz=rate_hz)


def penalty_of(net: Network, rule: EpropRule) -> RatePenalty:
    """The model's learning.regularization as EventProp's time-weighted rate penalty."""
    return RatePenalty(rule.c_reg, rule.f_target_hz * net.dt_ms * 1e-3)


def refuse_unsupported(graph: FloatGraph) -> None:
    """UnsupportedError naming the first feature EventProp's derivation does not cover, with its YAML path."""
    for i, pop in enumerate(graph.populations):
        if pop.kind != "lif":
            raise UnsupportedError(
                f"population '{pop.name}' has neuron model '{pop.kind}': --engine eventprop trains LIF populations "
                f"only (its adjoint is derived for LIF with box synapses; train this one with --engine numpy)",
                path=f"populations[{i}].model")
    for i, proj in enumerate(graph.projections):
        if proj.delay_steps != 1:
            raise UnsupportedError(f"projection '{proj.name}' has delay_steps {proj.delay_steps}: --engine eventprop "
                                   "supports one-step synapses only", path=f"projections[{i}].delay_steps")
    rule = rule_of(graph)
    if rule.variant != "bsshslm_2020":
        raise UnsupportedError(f"learning.variant '{rule.variant}': --engine eventprop computes exact gradients of "
                               "a supervised loss of the bsshslm_2020 network", path="learning.variant")
    if rule.rewiring is not None:
        raise UnsupportedError("--engine eventprop keeps the connectivity fixed; remove learning.rewiring or use "
                               "--engine numpy", path="learning.rewiring")
    if graph.readout.loss != "cross_entropy":
        raise UnsupportedError(f"readout.loss '{graph.readout.loss}': --engine eventprop trains classification "
                               "(cross-entropy on the window-averaged readout)", path="readout.loss")


def train_eventprop(graph: FloatGraph, iterations: int, *, seed: int | None = None, batch_size: int | None = None,
                    on_iteration: Callable[[IterationStats], None] | None = None) -> TrainResult:
    """Train ``graph`` with EventProp gradients on the batches ``train_eprop`` would draw with the same seed,
    through the e-prop trainer's optimizer loop (same Adam, clipping, masks, weight decay)."""
    refuse_unsupported(graph)
    rule: EpropRule = rule_of(graph)
    batches = draw_batches(graph, iterations, seed=seed, batch_size=batch_size)
    result = train_on_batches(assemble(graph), rule, batches, on_iteration=on_iteration,
                              gradients=lambda net, _rule, _b, batch: eventprop_gradients(net, batch, penalty_of(net, rule)))
    w = result.weights
    return TrainResult(with_weights(graph, w["w_in"], w["w_rec"], w["w_out"]), result.history)
