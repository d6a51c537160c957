"""Reward-based e-prop, online: per-synapse traces streamed forward in time, the paper's form of the update.

The numbers are those of :func:`neuroport.training.reward_eprop.reward_gradients` (same actions, same notation; see
that module's docstring); here nothing looks backwards in time.  At each step t, per synapse ji (batch, post, pre):

    ε^a_ji[t] = ψ_j[t−1] x̄_i[t−1] + (ρ_j − β_j ψ_j[t−1]) ε^a_ji[t−1],   e_ji[t] = ψ_j[t] (x̄_i[t] − β_j ε^a_ji[t])
    ē_ji[t] = κ ē_ji[t−1] + e_ji[t],   ē^V_ji[t] = κ_V ē^V_ji[t−1] + e_ji[t]      (policy and critic filters)
    π[t] = softmax(y[t]),  a[t] ~ π[t] where m[t] (one uniform number per step, as ``sample_actions``), r[t]
    V[t] = κ_V V[t−1] + Σ_j w_V[j] z_j[t]
    F_ji[t] = γ F_ji[t−1] + L^π_j[t] ē_ji[t] − c_V B^V_j ē^V_ji[t],   L^π_j[t] = Σ_k B^π_jk (π_k[t] − 1[a[t] = k]) m[t]
    δ[t−1] = r[t−1] + γ V[t] − V[t−1]   (known at step t; δ[T−1] = r[T−1] − V[T−1] at the end)
    g_ji += δ[t−1] F_ji[t−1]    then   g_ji += Σ_k B^π_jk c_H m[t] π_k (log π_k + H[t]) ē_ji[t]    (entropy: not δ-weighted)

so that g = Σ_t δ[t] F_γ(L ē)[t] + entropy = Σ_t D[t] L[t] ē[t] + entropy, the sequence form's sum.  The readout
weights are computed online the same way, with the κ-filtered spike trains as their eligibility:
F^out_kj[t] = γ F^out_kj[t−1] + (π_k − 1[a = k]) m[t] z̄^κ_j[t] (plus the entropy term c_H m π_k (log π_k + H) z̄^κ_j[t],
not δ-weighted), F^V_j[t] = γ F^V_j[t−1] − c_V z̄^{κ_V}_j[t], each multiplied by δ[t] once it is known.

``decision: window_mean``: π̄ = softmax(ȳ), ȳ = (1/M) Σ_t w[t] y[t], is known only at the window's last step t_d, so
each synapse also keeps S_ji = Σ_{t ≤ t_d} w[t] ē_ji[t] (and S^out_j = Σ w[t] z̄^κ_j[t]); at t_d the policy term uses
S / M in place of ē (∂ȳ/∂y[t] = w[t] / M) with π̄ and the one action drawn there.

Firing-rate regularization as :func:`neuroport.training.gradients.online_gradients`: Σ_t e_ji accumulated, multiplied
by the rate signal at the end.  Memory is O(batch × synapses), independent of the sequence length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroport.emulator.reference import FloatRun, simulate
from neuroport.ir.learning_rule import EpropRule, RewardSpec
from neuroport.ir.network import Network
from neuroport.tasks import Batch
from neuroport.training.gradients import eligibility_step, rate_signal, softmax
from neuroport.training.reward_episodes import (
    RewardGradients,
    decision_mask,
    feedback_of,
    inverse_cdf,
    play,
    policy_terms,
    rewards_of,
)


@dataclass(eq=False)
class Discounted:
    """Σ_t δ[t] F_γ(x)[t] streamed: ``push`` F ← γ F + x[t]; ``settle`` adds δ[t] F[t] once δ[t] is known."""

    f: np.ndarray  # (batch, ...)
    total: np.ndarray  # (...)

    @classmethod
    def zeros(cls, shape: tuple[int, ...]) -> Discounted:
        return cls(np.zeros(shape), np.zeros(shape[1:]))

    def push(self, gamma: float, x: np.ndarray) -> None:
        self.f = gamma * self.f + x

    def settle(self, delta: np.ndarray) -> None:
        self.total += np.tensordot(delta, self.f, axes=(0, 0))


@dataclass(eq=False)
class Eligibility:
    """Per-synapse traces of one weight matrix (batch, n_post, n_pre) and its gradient accumulators."""

    pre: np.ndarray  # x̄ or z̄
    eps: np.ndarray  # ε^a (ALIF)
    ebar: np.ndarray  # ē, the readout's κ filter
    ebar_v: np.ndarray  # ē^V, the critic's κ_V filter
    window: np.ndarray  # S = Σ_t w[t] ē[t] (window_mean)
    esum: np.ndarray  # Σ_t e (regularization)
    discounted: Discounted
    direct: np.ndarray  # the entropy bonus's gradient (not δ-weighted)

    @classmethod
    def zeros(cls, shape: tuple[int, int, int]) -> Eligibility:
        return cls(*(np.zeros(shape) for _ in range(6)), Discounted.zeros(shape), np.zeros(shape[1:]))

    def advance(self, net: Network, psi: np.ndarray, psi_prev: np.ndarray, arrived: np.ndarray | float,
                decays: tuple[float, float], w: np.ndarray) -> None:
        """One step of the traces: ε^a with x̄[t−1], then x̄, e, ē, ē^V, S and Σ e."""
        self.eps, self.pre, e = eligibility_step(net, self.eps, self.pre, psi, psi_prev, arrived)
        self.ebar = decays[0] * self.ebar + e
        self.ebar_v = decays[1] * self.ebar_v + e
        if w.any():
            self.window += w[:, None, None] * self.ebar
        self.esum += e

    def learn(self, gamma: float, signals: Signals, scale: np.ndarray | None) -> None:
        """F ← γ F + L^π P + L^V ē^V, and the entropy term L^H P, with P = ē (or S / M for window_mean)."""
        p = self.ebar if scale is None else self.window * scale[:, None, None]
        self.discounted.push(gamma, signals.policy[:, :, None] * p + signals.value[None, :, None] * self.ebar_v)
        self.direct += np.einsum("bj,bji->ji", signals.entropy, p)


@dataclass(frozen=True, eq=False)
class Signals:
    """The learning signals of one step: per readout channel (batch, n_out) and through the feedback (…, n_rec)."""

    err: np.ndarray  # (π − onehot(a)) m
    ent: np.ndarray  # c_H m π (log π + H)
    policy: np.ndarray  # L^π = err B^πᵀ
    entropy: np.ndarray  # ent B^πᵀ
    value: np.ndarray  # −c_V B^V (n_rec,)


def step_signals(pi: np.ndarray, actions: np.ndarray, m: np.ndarray, spec: RewardSpec, b_policy: np.ndarray,
                 b_value: np.ndarray) -> Signals:
    """The per-step signals from π[t] (or π̄), a[t] and m[t] (log π + 1e-12 as the sequence form)."""
    err, ent = policy_terms(pi, actions, m, spec.c_entropy)
    return Signals(err, ent, err @ b_policy.T, ent @ b_policy.T, -spec.c_value * b_value)


@dataclass(eq=False)
class Stream:
    """Everything the online pass carries from one step to the next (all O(batch × synapses))."""

    syn_in: Eligibility
    syn_rec: Eligibility
    out: Discounted  # (batch, n_out, n_rec)
    out_direct: np.ndarray
    value: Discounted  # (batch, n_rec)
    z_kappa: np.ndarray  # z̄^κ (batch, n_rec)
    z_value: np.ndarray  # z̄^{κ_V}
    z_window: np.ndarray  # S^out = Σ w z̄^κ
    y_window: np.ndarray  # Σ w y (batch, n_out)
    count: np.ndarray  # Σ w (batch,)
    v: np.ndarray  # V[t−1] (batch,)
    r: np.ndarray  # r[t−1] (batch,)

    @classmethod
    def zeros(cls, n_batch: int, n_in: int, n_rec: int, n_out: int) -> Stream:
        return cls(Eligibility.zeros((n_batch, n_rec, n_in)), Eligibility.zeros((n_batch, n_rec, n_rec)),
                   Discounted.zeros((n_batch, n_out, n_rec)), np.zeros((n_out, n_rec)),
                   Discounted.zeros((n_batch, n_rec)), *(np.zeros((n_batch, n_rec)) for _ in range(3)),
                   np.zeros((n_batch, n_out)), np.zeros(n_batch), np.zeros(n_batch), np.zeros(n_batch))

    def settle(self, delta: np.ndarray) -> None:
        for acc in (self.syn_in.discounted, self.syn_rec.discounted, self.out, self.value):
            acc.settle(delta)


def choose(pi: np.ndarray, m: np.ndarray, u: np.ndarray | None, given: np.ndarray | None) -> np.ndarray:
    """a[t]: the given action, or a ~ π[t] by inverse CDF of u[t] (``sample_actions``'s rule); −1 where m[t] = 0."""
    return given if given is not None else inverse_cdf(pi, m, u)


@dataclass(frozen=True, eq=False)
class Setting:
    """The constants of one online pass."""

    net: Network
    spec: RewardSpec
    w_value: np.ndarray
    b_policy: np.ndarray
    b_value: np.ndarray
    decays: tuple[float, float]  # κ, κ_V
    decisions: np.ndarray  # m (batch, T)
    window: np.ndarray  # w (batch, T) as float, zeros unless window_mean
    labels: np.ndarray


def online_step(s: Setting, st: Stream, run: FloatRun, x: np.ndarray, t: int, u: np.ndarray | None,
                actions: np.ndarray | None) -> np.ndarray:
    """Advance the stream by step t; return a[t]."""
    net, spec, m, w = s.net, s.spec, s.decisions[:, t], s.window[:, t]
    psi_prev = run.psi[:, t - 1] if t > 0 else np.zeros_like(run.psi[:, 0])
    st.syn_in.advance(net, run.psi[:, t], psi_prev, x[:, t][:, None, :], s.decays, w)
    st.syn_rec.advance(net, run.psi[:, t], psi_prev, run.z[:, t - 1][:, None, :] if t > 0 else 0.0, s.decays, w)
    st.z_kappa = s.decays[0] * st.z_kappa + run.z[:, t]
    st.z_value = s.decays[1] * st.z_value + run.z[:, t]
    st.z_window += w[:, None] * st.z_kappa
    st.y_window += w[:, None] * run.y[:, t]
    st.count += w
    scale = 1.0 / np.maximum(st.count, 1.0) if spec.decision == "window_mean" else None
    pi = softmax(run.y[:, t] if scale is None else st.y_window * scale[:, None])
    a = choose(pi, m, None if u is None else u[:, t], None if actions is None else actions[:, t])
    value = s.decays[1] * st.v + run.z[:, t] @ s.w_value
    if t > 0:
        st.settle(st.r + spec.gamma * value - st.v)  # δ[t−1], now that V[t] is known
    sig = step_signals(pi, a, m, spec, s.b_policy, s.b_value)
    for syn in (st.syn_in, st.syn_rec):
        syn.learn(spec.gamma, sig, scale)
    p_out = st.z_kappa if scale is None else st.z_window * scale[:, None]
    st.out.push(spec.gamma, sig.err[:, :, None] * p_out[:, None, :])
    st.out_direct += sig.ent.T @ p_out
    st.value.push(spec.gamma, -spec.c_value * st.z_value)
    st.v, st.r = value, rewards_of(a[:, None], s.labels, m[:, None], spec)[:, 0]
    return a


def setting_of(net: Network, rule: EpropRule, w_value: np.ndarray, batch: Batch) -> Setting:
    """Feedback [B^π, B^V] as the sequence form takes it, the decays, the decision steps and the window."""
    spec = rule.reward
    if np.unique(net.kappa).size != 1:
        raise ValueError("online reward-based e-prop needs one readout time constant for all readouts")
    b_policy, b_value = feedback_of(net, rule, w_value)
    window = batch.loss_mask.astype(np.float64) if spec.decision == "window_mean" else np.zeros(batch.loss_mask.shape)
    decays = (float(net.kappa[0]), float(np.exp(-net.dt_ms / spec.value_tau_ms)))
    return Setting(net, spec, w_value, b_policy, b_value, decays, decision_mask(batch, spec.decision), window,
                   batch.labels)


def online_reward_gradients(net: Network, rule: EpropRule, w_value: np.ndarray, batch: Batch,
                            rng: np.random.Generator, actions: np.ndarray | None = None) -> RewardGradients:
    """Online reward-based e-prop (module docstring): the numbers of ``reward_gradients`` for the same actions.
    Without ``actions`` they are drawn from ``rng`` exactly as the sequence form draws them (one uniform number per
    step of the batch, drawn up front).  The returned ``episodes`` (π, V, δ, D for the statistics) are recomputed
    from the run by :func:`~neuroport.training.reward_episodes.play` with the actions taken here."""
    run = simulate(net, batch.inputs, record_states=False)
    s = setting_of(net, rule, w_value, batch)
    x = np.asarray(batch.inputs, dtype=np.float64)
    u = rng.random(batch.loss_mask.shape) if actions is None else None
    st = Stream.zeros(batch.size, x.shape[2], net.n_rec, net.n_out)
    taken = np.stack([online_step(s, st, run, x, t, u, actions) for t in range(batch.n_steps)], axis=1)
    st.settle(st.r - st.v)  # δ[T−1] = r[T−1] − V[T−1]
    reg = rate_signal(net, run, rule.c_reg, rule.f_target_hz)[:, :, None]
    g_in = st.syn_in.discounted.total + st.syn_in.direct + np.sum(reg * st.syn_in.esum, axis=0)
    g_rec = st.syn_rec.discounted.total + st.syn_rec.direct + np.sum(reg * st.syn_rec.esum, axis=0)
    episodes = play(net, s.spec, w_value, run, batch, rng, taken)
    return RewardGradients(w_in=g_in * net.w_in_plastic, w_rec=g_rec * net.w_rec_plastic,
                           w_out=(st.out.total + st.out_direct) * net.w_out_plastic, w_value=st.value.total,
                           episodes=episodes, rate_hz=float(run.z.mean() * 1e3 / net.dt_ms))
