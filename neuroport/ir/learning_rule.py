"""The learning settings of a float IR model (its ``learning:`` section): e-prop and its variants, the optimizer,
reward-based e-prop, DEEP R rewiring and e-prop+ (:mod:`neuroport.ir.float_graph` holds the network itself)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuroport.ir.equality import nodes_equal

FEEDBACKS = ("symmetric", "random", "adaptive")
OPTIMIZERS = ("adam", "sgd")
EPROP_VARIANTS = ("bsshslm_2020", "eprop_plus", "reward_based")
TARGET_ALIGNMENTS = ("same_step", "nest_example")  # EpropPlus.target_alignment


@dataclass(frozen=True)
class Optimizer:
    """Gradient descent (``sgd``: W −= η_k g) or Adam (β1, β2, ε as in NEST's examples), with the learning rate
    η_k = η · decay_factor^⌊k / decay_every⌋ at optimizer step k = 0, 1, … (one step per batch; ``decay_every`` 0
    keeps η constant, as NEST's optimizers do)."""

    name: str = "adam"
    learning_rate: float = 5e-3
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    decay_factor: float = 1.0
    decay_every: int = 0  # optimizer steps (iterations) between decays; 0: no decay

    @property
    def decays(self) -> bool:
        return self.decay_every > 0 and self.decay_factor != 1.0

    def learning_rate_at(self, step: int) -> float:
        """η_k for optimizer step ``step`` (counted from 0)."""
        return self.learning_rate * self.decay_factor ** (step // self.decay_every) if self.decays else self.learning_rate


REWARD_DECISIONS = ("every_step", "last_step", "window_mean")


@dataclass(frozen=True, eq=False)
class RewardSpec:
    """Reward-based e-prop (actor-critic, Bellec et al. 2020, Methods): the readout is the policy, π = softmax(y),
    and a critic V[t] = κ_V V[t−1] + Σ_j w_V[j] z_j[t] (a leaky readout used in training only) learns the value.
    Actions are sampled at the task's decision steps (``every_step`` of its loss mask, or its ``last_step``; or
    ``window_mean``: one action per trial from softmax of the readout averaged over the window) and
    rewarded ``reward_correct`` / ``reward_wrong`` against the label; ``gamma`` is the discount per step,
    ``c_value`` and ``c_entropy`` weigh the critic and the entropy bonus.  ``value_feedback`` is B^V (n_rec,) for
    random feedback (symmetric: B^V = w_V)."""

    gamma: float = 0.9
    c_value: float = 1.0
    c_entropy: float = 0.0
    reward_correct: float = 1.0
    reward_wrong: float = 0.0
    decision: str = "every_step"
    value_tau_ms: float = 20.0
    value_weights: np.ndarray | None = None
    value_feedback: np.ndarray | None = None

    def __eq__(self, other: object) -> bool:
        return nodes_equal(self, other)


@dataclass(frozen=True)
class Rewiring:
    """DEEP R (Bellec, Kappel, Maass, Legenstein 2018) on the sparse, plastic ``projections`` named.

    Every potential synapse has a fixed sign s and a parameter θ ≥ 0, weight w = s θ while it is active (in the
    projection's mask).  After each optimizer step the active synapses get θ ← θ − η l1 + sqrt(2 η T) ν,
    ν ~ N(0, 1) (η: the optimizer's learning rate, l1 = α_L1, T = ``temperature``); those with θ < 0 become
    dormant (w = 0) and as many dormant ones, drawn uniformly with ``seed``, become active with θ = 0, so each
    projection keeps its synapse count.  ``self_connections`` False: never activate i → i in a projection whose
    source and target are the same nodes.  Equations and choices: :mod:`neuroport.training.rewiring`.
    """

    projections: tuple[str, ...]
    l1: float = 0.0
    temperature: float = 0.0
    self_connections: bool = False
    seed: int = 0


@dataclass(frozen=True)
class EpropPlus:
    """e-prop+ settings (NEST's ``eprop_iaf`` / ``eprop_synapse``; variant eprop_plus only).

    ``kappa``: filter of the eligibility trace, ē ← κ ē + e (None: the readout's κ = exp(−dt/τ_out));
    ``kappa_reg``: filter of the online rate estimate and of the regularization trace (None: ``kappa``);
    ``isi_trace_cutoff_steps``: a synapse integrates its gradient for at most this many steps after each
    presynaptic spike (None: no cutoff); ``optimize_each_step``: the optimizer steps every time step with that
    step's gradient (NEST's default) rather than once per presynaptic spike with the gradient since the last one
    (the same for gradient descent); ``target_alignment`` which target step meets the readout (``nest_example``:
    the next, as NEST's example scripts and testsuite wire it).  :mod:`neuroport.training.eprop_plus` has the
    equations.
    """

    kappa: float | None = None
    kappa_reg: float | None = None
    isi_trace_cutoff_steps: int | None = None
    optimize_each_step: bool = False  # NEST's optimizer option: one optimizer step per time step, not per spike
    # "same_step": the readout's y[s] meets the target y*[s]; "nest_example": y*[s + 1] (and the loss mask of s + 1),
    # as NEST's e-prop+ example scripts and testsuite deliver targets (generator times total_offset + s)
    target_alignment: str = "same_step"


@dataclass(frozen=True, eq=False)
class EpropRule:
    """e-prop learning settings (Bellec et al. 2020; NEST parameter names where NEST has one).

    feedback: 'symmetric' (B = W_outᵀ), 'random' (fixed B) or 'adaptive' (B gets W_out's updates, with weight
    decay, Kolen-Pollack).  ``feedback_weights`` is B, shape (n_rec, n_out), for random/adaptive.
    Firing-rate regularization: strength ``c_reg``, target ``f_target_hz``.
    Gradients are summed over a sequence (``update_interval_steps``) and averaged over ``batch_size`` sequences.
    """

    variant: str = "bsshslm_2020"
    feedback: str = "random"
    feedback_weights: np.ndarray | None = None
    weight_decay: float = 0.0
    optimizer: Optimizer = field(default_factory=Optimizer)
    batch_size: int = 32
    c_reg: float = 0.0
    f_target_hz: float = 10.0
    learning_window_steps: int | None = None  # error counted in the last N steps of each interval; None: all
    weight_min: float = -100.0
    weight_max: float = 100.0
    average_gradient: bool = False  # NEST's `average_gradient`: divide the gradient by the learning window
    reward: RewardSpec | None = None  # variant reward_based only
    rewiring: Rewiring | None = None  # DEEP R (variant bsshslm_2020 only)
    plus: EpropPlus | None = None  # variant eprop_plus only (None there: EpropPlus's defaults)

    def __eq__(self, other: object) -> bool:
        return nodes_equal(self, other)
