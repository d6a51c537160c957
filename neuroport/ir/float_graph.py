"""The float IR: a recurrent spiking network trained (or to be trained) with e-prop.

Nodes are frozen dataclasses holding numpy arrays.  Dynamics, in discrete time with step ``dt_ms``
(Bellec et al. 2020; NEST ``*_bsshslm_2020``), for recurrent neuron j:

    v_j[t+1] = α_j v_j[t] + Σ_i W_rec[j,i] z_i[t] + Σ_i W_in[j,i] x_i[t+1] − z_j[t] v_th_j,   α = exp(−dt/τ_m)
    A_j[t]   = v_th_j + β_j a_j[t],   a_j[t+1] = ρ_j a_j[t] + z_j[t],   ρ = exp(−dt/τ_a)       (ALIF; LIF: β = 0)
    z_j[t]   = H(v_j[t] − A_j[t])     (no spike for n_ref = round(t_ref/dt) steps after a spike)
    y_k[t]   = κ y_k[t−1] + Σ_j W_out[k,j] z_j[t],   κ = exp(−dt/τ_out)

The recurrent populations are concatenated, in the order listed, into one state vector; every projection is a
block of one of three matrices (input → recurrent, recurrent → recurrent, recurrent → readout), see
:mod:`neuroport.ir.network`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

SCHEMA_VERSION = 1

LOSSES = ("mse", "cross_entropy")
FEEDBACKS = ("symmetric", "random", "adaptive")
OPTIMIZERS = ("adam", "sgd")
SURROGATES = ("piecewise_linear", "exponential", "fast_sigmoid_derivative", "arctan")
EPROP_VARIANTS = ("bsshslm_2020", "eprop_plus")


@dataclass(frozen=True)
class Surrogate:
    """Pseudo-derivative ψ of the spike function (NEST parameter names).

    piecewise_linear:          ψ = γ/v_th · max(0, 1 − β |v − A| / v_th)
    exponential:               ψ = γ/v_th · exp(−β |v − A| / v_th)
    fast_sigmoid_derivative:   ψ = γ/v_th · (1 + β |v − A| / v_th)^−2
    arctan:                    ψ = γ/v_th · 1 / (1 + (β (v − A) / v_th)^2)
    ψ = 0 while the neuron is refractory.
    """

    function: str = "piecewise_linear"
    gamma: float = 0.3  # height scale (dimensionless)
    beta: float = 1.0  # width scale (dimensionless)


@dataclass(frozen=True)
class InputLayer:
    """Spiking input: x_i[t] ∈ {0, 1}, one channel per input neuron."""

    name: str
    size: int
    encoding: str = "spikes"


@dataclass(frozen=True, eq=False)
class LIF:
    """Leaky integrate-and-fire population with reset by subtraction. Per-neuron arrays, shape (size,)."""

    kind: ClassVar[str] = "lif"
    name: str
    size: int
    tau_m_ms: np.ndarray
    v_th: np.ndarray  # threshold, same unit as the weights (voltage relative to E_L)
    t_ref_ms: np.ndarray
    surrogate: Surrogate = field(default_factory=Surrogate)

    def adaptation(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (β, τ_a in ms) per neuron; a LIF neuron has β = 0 (τ_a is then irrelevant)."""
        return np.zeros(self.size), np.full(self.size, np.inf)

    def array_fields(self) -> dict[str, np.ndarray]:
        return {"tau_m_ms": self.tau_m_ms, "v_th": self.v_th, "t_ref_ms": self.t_ref_ms}

    def __eq__(self, other: object) -> bool:
        return _nodes_equal(self, other)


@dataclass(frozen=True, eq=False)
class ALIF(LIF):
    """Adaptive LIF (Bellec et al. 2018): moving threshold A = v_th + β a, a ← ρ a + z, ρ = exp(−dt/τ_a)."""

    kind: ClassVar[str] = "alif"
    tau_a_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    beta: np.ndarray = field(default_factory=lambda: np.zeros(0))  # threshold increase per unit of a

    def adaptation(self) -> tuple[np.ndarray, np.ndarray]:
        return self.beta, self.tau_a_ms

    def array_fields(self) -> dict[str, np.ndarray]:
        return {**super().array_fields(), "tau_a_ms": self.tau_a_ms, "beta": self.beta}


NEURON_TYPES: dict[str, type[LIF]] = {cls.kind: cls for cls in (LIF, ALIF)}


@dataclass(frozen=True, eq=False)
class Readout:
    """Leaky readout y_k[t] = κ_k y_k[t−1] + Σ_j W_out[k,j] z_j[t]; loss 'mse' (regression) or 'cross_entropy'."""

    name: str
    size: int
    tau_out_ms: np.ndarray
    loss: str = "mse"

    def __eq__(self, other: object) -> bool:
        return _nodes_equal(self, other)


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from the concatenation of ``source`` nodes to the concatenation of ``target`` nodes.

    ``weights`` has shape (n_target, n_source); ``mask`` (same shape, bool) marks existing synapses of a sparse
    projection (None: dense).  ``plastic`` says whether e-prop updates it.  ``delay_steps`` ≥ 1.
    """

    name: str
    source: tuple[str, ...]
    target: tuple[str, ...]
    weights: np.ndarray
    mask: np.ndarray | None = None
    plastic: bool = True
    delay_steps: int = 1

    @property
    def n_synapses(self) -> int:
        return int(self.weights.size if self.mask is None else np.count_nonzero(self.mask))

    def __eq__(self, other: object) -> bool:
        return _nodes_equal(self, other)


@dataclass(frozen=True)
class Optimizer:
    """Gradient descent (``sgd``: W −= η g) or Adam (β1, β2, ε as in NEST's examples)."""

    name: str = "adam"
    learning_rate: float = 5e-3
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8


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

    def __eq__(self, other: object) -> bool:
        return _nodes_equal(self, other)


@dataclass(frozen=True)
class TaskSpec:
    """A task generator from :mod:`neuroport.tasks` with its keyword parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class FloatGraph:
    """A whole network: input, recurrent populations, readout, projections, learning rule and task."""

    name: str
    dt_ms: float
    seed: int
    input: InputLayer
    populations: tuple[LIF, ...]
    readout: Readout
    projections: tuple[Projection, ...]
    learning: EpropRule | None = None
    task: TaskSpec | None = None
    description: str = ""
    version: int = SCHEMA_VERSION

    def node_sizes(self) -> dict[str, int]:
        """Size of every node by name, input and readout included."""
        sizes = {self.input.name: self.input.size, self.readout.name: self.readout.size}
        sizes.update({p.name: p.size for p in self.populations})
        return sizes

    @property
    def n_recurrent(self) -> int:
        return sum(p.size for p in self.populations)

    def population(self, name: str) -> LIF:
        return next(p for p in self.populations if p.name == name)

    def with_projections(self, projections: tuple[Projection, ...]) -> FloatGraph:
        return replace(self, projections=projections)

    def __eq__(self, other: object) -> bool:
        return _nodes_equal(self, other)


def _values_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if a is None or b is None:
            return a is b
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        return a_arr.shape == b_arr.shape and bool(np.array_equal(a_arr, b_arr, equal_nan=a_arr.dtype.kind == "f"))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_values_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _nodes_equal(a: Any, b: Any) -> bool:
    """Structural equality for dataclasses holding numpy arrays (arrays compared exactly)."""
    if type(a) is not type(b):
        return False
    names = a.__dataclass_fields__.keys()
    return all(_values_equal(getattr(a, n), getattr(b, n)) for n in names)
