"""Reward-based e-prop: an actor-critic trained with e-prop (Bellec et al. 2020, Methods "Reward-based e-prop").

The model's readout is the policy, π_k[t] = softmax(y[t])_k, and a critic is a second leaky readout of the same
network, V[t] = κ_V V[t−1] + Σ_j w_V[j] z_j[t] (:class:`neuroport.ir.learning_rule.RewardSpec`).  At the task's
decision steps m[t] (every step of its loss mask, or only the last one) an action a[t] ~ π[t] is sampled from a
seeded generator and rewarded: r[t] = r_correct if a[t] is the label, else r_wrong.  With the discount γ per step:

    δ[t] = r[t] + γ V[t+1] − V[t]                    TD error (V[T] = 0: the episode ends with the sequence)
    D[t] = Σ_{t'≥t} γ^{t'−t} δ[t'] = R[t] − V[t]     R[t] = Σ_{t'≥t} γ^{t'−t} r[t'], the return
    L_j[t] = −c_V B^V_j + Σ_k B^π_jk (π_k[t] − 1[a[t] = k]) m[t]                 learning signal
    ΔW_ji = −η Σ_t δ[t] F_γ(L_j ē_ji)[t],   F_γ(x)[t] = γ F_γ(x)[t−1] + x[t]     (the paper's update)
          = −η Σ_t D[t] L_j[t] ē_ji[t]                                          (the same sum, reordered)

plus, with c_H > 0, the entropy bonus's own gradient Σ_t m[t] Σ_k B^π_jk c_H π_k (log π_k + H[t]) ē_ji[t].
ē is the e-prop eligibility trace of :mod:`neuroport.training.gradients` with the readout filter of the paper,
ē[t] = κ ē[t−1] + e[t] (no (1 − κ)), so that on a network without recurrent weights and with symmetric
feedback (B^π = W_outᵀ, B^V = w_V) the update is the exact gradient of the actor-critic objective

    E = Σ_t D[t] (−m[t] log π_{a[t]}[t] − c_V V[t]) − c_H Σ_t m[t] H[t]            (D held constant)

whose policy part descends −log π weighted by the advantage and whose value part reduces Σ_t (R[t] − V[t])².
The readout weights get their exact gradients: g^out_kj = Σ_t D[t] (π_k − 1[a = k]) m[t] z̄^κ_j[t] (plus the
entropy term) and g^V_j = −c_V Σ_t D[t] z̄^{κ_V}_j[t].  The second line above is how it is computed: one
per-step signal per readout channel, err[t] = (D[t] (π[t] − onehot(a[t])) m[t] + entropy, −c_V D[t]), through the
compiled backward pass of supervised e-prop (:func:`neuroport.emulator.kernels.eprop_gradients`) with feedback
[B^π, B^V].  Firing-rate regularization and the optimizer are those of :mod:`neuroport.training.eprop`.
The first line, streamed forward in time with per-synapse traces (``mode="online"``), is
:mod:`neuroport.training.reward_online`: the same numbers (tests/test_reward_eprop.py, rtol 1e-10).

With ``decision: window_mean`` a trial is one decision: one action a ~ π̄ = softmax(ȳ), ȳ = (1/M) Σ_t w[t] y[t]
the readout averaged over the M steps of the recall window w (the quantity the greedy policy decides on), drawn
and rewarded at the window's last step t_d (m[t] = 1 there only).  E's policy term is D[t_d] (−log π̄_a) and its
entropy term −c_H H(π̄); since ∂ȳ/∂y[t] = w[t] / M, the chain rule spreads the one decision's signal over the window:

    ∂(−log π̄_a)/∂y_k[t] = (w[t] / M) (π̄_k − 1[a = k])
    ΔW_ji = −η Σ_t [D[t_d] (w[t] / M) Σ_k B^π_jk (π̄_k − 1[a = k]) − c_V D[t] B^V_j] ē_ji[t]

(plus the entropy bonus, c_H (w[t] / M) Σ_k B^π_jk π̄_k (log π̄_k + H(π̄))); the critic is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np

from neuroport.emulator.kernels import eprop_gradients
from neuroport.emulator.reference import simulate
from neuroport.errors import UnsupportedError
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.learning_rule import EpropRule, RewardSpec
from neuroport.ir.network import MATRICES, Network, assemble, with_weights
from neuroport.tasks import Batch, task_of
from neuroport.training.eprop import (
    AdamState,
    IterationStats,
    TrainResult,
    average_gradient,
    optimizer_step,
    refuse_input_scaling,
    rule_of,
    within_learning_window,
)
from neuroport.training.gradients import backward_filter, rate_signal
from neuroport.training.parallel import (
    PresetUniforms,
    Shards,
    concat_fields,
    shard_bounds,
    split_batch,
    sum_in_order,
    weighted_rate,
)
from neuroport.training.reward_episodes import Episodes, RewardGradients, feedback_of, play, policy_terms
from neuroport.training.reward_online import online_reward_gradients

ACTION_STREAM = 7919  # the action sampler's generator: default_rng([seed, ACTION_STREAM])


def channel_errors(ep: Episodes, spec: RewardSpec) -> np.ndarray:
    """err[t] (batch, T, n_actions + 1): D (π − onehot(a)) m + c_H m π (log π + H) for the policy, −c_V D for V;
    with ``window_mean`` the policy term of the trial's one decision, times w[t] / M at each step of the window."""
    err, ent = policy_terms(ep.pi, ep.actions, ep.decisions, spec.c_entropy)
    policy = ep.advantage[..., None] * err + ent
    if ep.spread is not None:  # one decision per trial: ∂ȳ/∂y[t] = w[t] / M
        policy = ep.spread[..., None] * policy.sum(axis=1, keepdims=True)
    return np.concatenate([policy, -spec.c_value * ep.advantage[..., None]], axis=-1)


def reward_gradients(net: Network, rule: EpropRule, w_value: np.ndarray, batch: Batch, rng: np.random.Generator,
                     actions: np.ndarray | None = None) -> RewardGradients:
    """Simulate a batch, play it and return the summed reward-based e-prop gradients (module docstring)."""
    spec = rule.reward
    run = simulate(net, batch.inputs, record_states=False)
    ep = play(net, spec, w_value, run, batch, rng, actions)
    err = channel_errors(ep, spec)
    decay = np.append(net.kappa, np.exp(-net.dt_ms / spec.value_tau_ms))
    err_filtered = np.ascontiguousarray(backward_filter(err, decay))  # Σ_{t≥s} κ^{t−s} err[t]: ē's filter moved
    feedback = np.ascontiguousarray(np.column_stack(feedback_of(net, rule, w_value)))
    x = np.ascontiguousarray(batch.inputs, dtype=np.float64)
    g_in, g_rec = eprop_gradients(err_filtered, feedback, rate_signal(net, run, rule.c_reg, rule.f_target_hz),
                                  run.psi, x, run.z, *(np.asarray(p, dtype=np.float64) for p in (net.alpha, net.rho, net.beta)))
    g_readouts = err_filtered.reshape(-1, err.shape[2]).T @ run.z.reshape(-1, net.n_rec)
    return RewardGradients(w_in=g_in * net.w_in_plastic, w_rec=g_rec * net.w_rec_plastic,
                           w_out=g_readouts[:-1] * net.w_out_plastic, w_value=g_readouts[-1], episodes=ep,
                           rate_hz=float(run.z.mean() * 1e3 / net.dt_ms))


def sharded_reward_gradients(compute: Callable[..., RewardGradients], shards: Shards, net: Network, rule: EpropRule,
                             w_value: np.ndarray, batch: Batch, rng: np.random.Generator) -> RewardGradients:
    """``compute``'s gradients of a batch split across ``shards``, summed in shard order.  The action sampler's
    uniform numbers are drawn here for the whole batch, as ``compute`` would draw them (one per sample and step),
    and each shard gets its rows: the same actions as the single-process run."""
    uniforms = rng.random((batch.size, batch.n_steps))
    parts = split_batch(batch, shards.n_shards)
    bounds = shard_bounds(batch.size, shards.n_shards)
    results = shards.map(_reward_shard, (compute, net, rule, w_value),
                         [(part, PresetUniforms(uniforms[a:b])) for part, (a, b) in zip(parts, bounds, strict=True)])
    summed = {name: sum_in_order([getattr(r, name) for r in results]) for name in (*MATRICES, "w_value")}
    return RewardGradients(**summed, episodes=concat_fields([r.episodes for r in results]),
                           rate_hz=weighted_rate([r.rate_hz for r in results], [p.size for p in parts]))


def _reward_shard(common: tuple, shard: tuple[Batch, PresetUniforms]) -> RewardGradients:
    compute, net, rule, w_value = common
    return compute(net, rule, w_value, *shard)


def episode_stats(it: int, grads: RewardGradients, batch: Batch) -> IterationStats:
    """loss: ½ Σ_t δ[t]² per episode (the critic's TD loss); error: greedy misclassification; train_error: the
    fraction of sampled actions that were wrong.  The greedy policy decides argmax_k Σ_t m[t] y_k[t] (as the
    supervised classifier is scored)."""
    ep = grads.episodes
    wrong = (ep.actions != batch.labels[:, None]) & ep.decisions
    return IterationStats(it, float(0.5 * np.sum(ep.delta**2) / batch.size),
                          float(np.mean(np.argmax(ep.evidence, axis=1) != batch.labels)), grads.rate_hz,
                          train_error=float(wrong.sum() / max(ep.decisions.sum(), 1)))


def batches_of(graph: FloatGraph, iterations: int, seed: int, batch_size: int) -> Iterator[Batch]:
    """The batches of :func:`neuroport.training.eprop.draw_batches`, drawn one at a time (long runs)."""
    rule, task, rng = rule_of(graph), task_of(graph), np.random.default_rng(seed)
    for _ in range(iterations):
        yield within_learning_window(task.batch(rng, batch_size), rule.learning_window_steps)


def train_reward_eprop(graph: FloatGraph, iterations: int, *, seed: int | None = None, mode: str = "sequence",
                       batch_size: int | None = None, on_iteration: Callable[[IterationStats], None] | None = None,
                       shards: Shards | None = None) -> TrainResult:
    """Train ``graph``'s policy and critic with reward-based e-prop, one optimizer step per batch of episodes
    (``shards``: each batch split across workers, :func:`sharded_reward_gradients`)."""
    compute = {"sequence": reward_gradients, "online": online_reward_gradients}.get(mode)
    if compute is None:
        raise UnsupportedError(f"reward-based e-prop has modes 'sequence' and 'online', not '{mode}'")
    rule = rule_of(graph)
    seed = graph.seed if seed is None else seed
    net, spec = assemble(graph), rule.reward
    refuse_input_scaling(net, "reward-based e-prop")
    weights = {name: getattr(net, name).copy() for name in MATRICES} | {"w_value": spec.value_weights.copy()}
    states = {name: AdamState(np.zeros_like(w), np.zeros_like(w)) for name, w in weights.items()}
    masks = {name: getattr(net, f"{name}_mask") for name in MATRICES} | {"w_value": np.ones(net.n_rec, dtype=bool)}
    plastic = {name: getattr(net, f"{name}_plastic") for name in MATRICES} | {"w_value": 1.0}
    actions_rng, history = np.random.default_rng([seed, ACTION_STREAM]), []
    for it, batch in enumerate(batches_of(graph, iterations, seed, batch_size or rule.batch_size)):
        net = replace(net, **{name: weights[name] for name in MATRICES})
        if shards is None:
            grads = compute(net, rule, weights["w_value"], batch, actions_rng)
        else:
            grads = sharded_reward_gradients(compute, shards, net, rule, weights["w_value"], batch, actions_rng)
        for name, w in weights.items():
            mean_grad = average_gradient(getattr(grads, name), rule, batch) + rule.weight_decay * w * plastic[name]
            new = optimizer_step(rule.optimizer, w, mean_grad, states[name])
            weights[name] = np.where(masks[name], np.clip(new, rule.weight_min, rule.weight_max), 0.0)
        stats = episode_stats(it, grads, batch)
        history.append(stats)
        if on_iteration:
            on_iteration(stats)
    trained = with_weights(graph, weights["w_in"], weights["w_rec"], weights["w_out"])
    trained = replace(trained, learning=replace(rule, reward=replace(spec, value_weights=weights["w_value"])))
    return TrainResult(trained, history)
