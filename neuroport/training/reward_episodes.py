"""Episodes of reward-based e-prop: actions sampled from the policy, rewards, TD errors and advantages.

What the sequence form (:mod:`neuroport.training.reward_eprop`, whose docstring has the equations) and the online
form (:mod:`neuroport.training.reward_online`) of the actor-critic share: the decision steps m[t], the policy π
(per step, or π̄ over the recall window for ``decision: window_mean``), a[t] ~ π[t] by inverse CDF, the rewards
r[t], the TD errors δ[t] = r[t] + γ V[t+1] − V[t] and the advantages D[t] = Σ_{t'≥t} γ^{t'−t} δ[t'].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroport.emulator.reference import FloatRun, leaky_sum
from neuroport.errors import ModelError
from neuroport.ir.learning_rule import EpropRule, RewardSpec
from neuroport.ir.network import Network
from neuroport.tasks import Batch
from neuroport.training.gradients import backward_filter, softmax


@dataclass(frozen=True, eq=False)
class Episodes:
    """One batch of episodes, arrays (batch, T[, n_actions]); ``actions`` is −1 where no action is taken."""

    pi: np.ndarray
    value: np.ndarray
    decisions: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    delta: np.ndarray
    advantage: np.ndarray  # D[t] = Σ_{t'≥t} γ^{t'−t} δ[t']
    evidence: np.ndarray  # (batch, n_actions): Σ_t m[t] y[t], what the greedy policy decides on
    spread: np.ndarray | None = None  # window_mean: w[t] / M, how the one decision's signal reaches each y[t]


def decision_mask(batch: Batch, decision: str) -> np.ndarray:
    """m[t]: every step of the task's loss mask (``every_step``) or the last masked step of each sequence
    (``last_step``, and ``window_mean``, whose one action is drawn there)."""
    if decision == "every_step":
        return batch.loss_mask.copy()
    last = batch.n_steps - 1 - np.argmax(batch.loss_mask[:, ::-1], axis=1)
    mask = np.zeros_like(batch.loss_mask)
    mask[np.arange(batch.size), last] = batch.loss_mask.any(axis=1)
    return mask


def evidence_mask(batch: Batch, decision: str) -> np.ndarray:
    """The steps whose readout the policy (and the greedy decision) reads: the decision steps, or the whole window
    for ``window_mean``."""
    return batch.loss_mask.copy() if decision == "window_mean" else decision_mask(batch, decision)


def window_policy(y: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """π̄ = softmax((1/M) Σ_t w[t] y[t]) broadcast over the steps (batch, T, n), and w[t] / M (batch, T)."""
    spread = window / np.maximum(window.sum(axis=1, keepdims=True), 1)
    pi_bar = softmax(np.sum(y * spread[..., None], axis=1))
    return np.broadcast_to(pi_bar[:, None, :], y.shape).copy(), spread


def sample_actions(pi: np.ndarray, decisions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """a[t] ~ π[t] by inverse CDF with one uniform number per step; −1 where m[t] = 0."""
    return inverse_cdf(pi, decisions, rng.random(pi.shape[:2]))


def inverse_cdf(pi: np.ndarray, decisions: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The action whose cumulative probability first exceeds u (π over the last axis); −1 where m = 0."""
    actions = np.minimum((u[..., None] >= np.cumsum(pi, axis=-1)).sum(axis=-1), pi.shape[-1] - 1)
    return np.where(decisions, actions, -1)


def policy_terms(pi: np.ndarray, actions: np.ndarray, decisions: np.ndarray, c_entropy: float) -> tuple[np.ndarray, np.ndarray]:
    """Per readout channel (π over the last axis): the policy gradient's (π − onehot(a)) m and the entropy bonus's
    c_H m π (log π + H), H = −Σ_k π_k log π_k."""
    onehot = (actions[..., None] == np.arange(pi.shape[-1])).astype(np.float64)
    log_pi = np.log(pi + 1e-12)
    entropy = -np.sum(pi * log_pi, axis=-1, keepdims=True)
    m = decisions[..., None]
    return m * (pi - onehot), m * c_entropy * pi * (log_pi + entropy)


def feedback_of(net: Network, rule: EpropRule, w_value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B^π (n_rec, n_actions), B^V (n_rec,)): W_outᵀ and w_V for symmetric feedback, else the fixed random ones."""
    if rule.feedback == "symmetric":
        return net.w_out.T, w_value
    return rule.feedback_weights, rule.reward.value_feedback


def rewards_of(actions: np.ndarray, labels: np.ndarray, decisions: np.ndarray, spec: RewardSpec) -> np.ndarray:
    """r[t] = r_correct if a[t] = label, r_wrong otherwise, 0 where no action is taken."""
    correct = actions == labels[:, None]
    return np.where(decisions, np.where(correct, spec.reward_correct, spec.reward_wrong), 0.0)


def td_errors(rewards: np.ndarray, value: np.ndarray, gamma: float) -> np.ndarray:
    """δ[t] = r[t] + γ V[t+1] − V[t] with V[T] = 0, along axis 1."""
    next_value = np.concatenate([value[:, 1:], np.zeros_like(value[:, :1])], axis=1)
    return rewards + gamma * next_value - value


def play(net: Network, spec: RewardSpec, w_value: np.ndarray, run: FloatRun, batch: Batch,
         rng: np.random.Generator, actions: np.ndarray | None = None) -> Episodes:
    """Sample (or take the given) actions on a simulated batch and score them: π, V, r, δ, D."""
    if batch.labels is None:
        raise ModelError("reward-based e-prop needs a task with class labels to reward the actions", path="task")
    pi, spread = window_policy(run.y, batch.loss_mask) if spec.decision == "window_mean" else (softmax(run.y), None)
    value = leaky_sum(run.z @ w_value[:, None], np.array([np.exp(-net.dt_ms / spec.value_tau_ms)]))[..., 0]
    decisions = decision_mask(batch, spec.decision)
    actions = sample_actions(pi, decisions, rng) if actions is None else actions
    rewards = rewards_of(actions, batch.labels, decisions, spec)
    delta = td_errors(rewards, value, spec.gamma)
    advantage = backward_filter(delta[..., None], np.array([spec.gamma]))[..., 0]
    evidence = np.sum(run.y * evidence_mask(batch, spec.decision)[..., None], axis=1)
    return Episodes(pi, value, decisions, actions, rewards, delta, advantage, evidence, spread)


@dataclass(frozen=True, eq=False)
class RewardGradients:
    """Summed over the batch: the network's matrices and the critic's weights (n_rec,)."""

    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    w_value: np.ndarray
    episodes: Episodes
    rate_hz: float
