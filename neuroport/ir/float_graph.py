"""The float IR: a recurrent spiking network trained (or to be trained) with e-prop.

Nodes are frozen dataclasses holding numpy arrays.  Dynamics, in discrete time with step ``dt_ms``
(Bellec et al. 2020; NEST ``*_bsshslm_2020``), for recurrent neuron j:

    v_j[t+1] = α_j v_j[t] + ζ_j (Σ_i W_rec[j,i] z_i[t] + Σ_i W_in[j,i] x_i[t+1]) − z_j[t] v_th_j,   α = exp(−dt/τ_m)
    A_j[t]   = v_th_j + β_j a_j[t],   a_j[t+1] = ρ_j a_j[t] + z_j[t],   ρ = exp(−dt/τ_a)       (ALIF; LIF: β = 0)
    z_j[t]   = H(v_j[t] − A_j[t])     (no spike for n_ref = round(t_ref/dt) steps after a spike)
    y_k[t]   = κ y_k[t−1] + ζ_k Σ_j W_out[k,j] z_j[t],   κ = exp(−dt/τ_out)

ζ is the input factor of NEST's ``regular_spike_arrival`` (``eprop_iaf_bsshslm_2020``, ``eprop_readout_bsshslm_2020``
in NEST 3.10): 1 when True (the default), 1 − α_j for a population / 1 − κ_k for the readout when False (the
convention of the TensorFlow e-prop code of Bellec et al. 2020).  Weights are stored as written (NEST's weights);
:meth:`neuroport.ir.network.Network.folded` gives the effective weights ζ W the hardware stages use.

The recurrent populations are concatenated, in the order listed, into one state vector; every projection is a
block of one of three matrices (input → recurrent, recurrent → recurrent, recurrent → readout), see
:mod:`neuroport.ir.network`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from neuroport.ir.equality import nodes_equal
from neuroport.ir.learning_rule import EpropRule
from neuroport.ir.synapses import Synapses

SCHEMA_VERSION = 1

LOSSES = ("mse", "cross_entropy")
SURROGATES = ("piecewise_linear", "exponential", "fast_sigmoid_derivative", "arctan")


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
    regular_spike_arrival: bool = True  # NEST's flag; False: incoming spikes scaled by ζ = 1 − α

    def input_scale(self, dt_ms: float) -> np.ndarray:
        """ζ per neuron: 1, or 1 − α = 1 − exp(−dt/τ_m) without regular spike arrival (NEST's ``P_z_in``)."""
        return np.ones(self.size) if self.regular_spike_arrival else 1.0 - np.exp(-dt_ms / self.tau_m_ms)

    def adaptation(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (β, τ_a in ms) per neuron; a LIF neuron has β = 0 (τ_a is then irrelevant)."""
        return np.zeros(self.size), np.full(self.size, np.inf)

    def array_fields(self) -> dict[str, np.ndarray]:
        return {"tau_m_ms": self.tau_m_ms, "v_th": self.v_th, "t_ref_ms": self.t_ref_ms}

    def __eq__(self, other: object) -> bool:
        return nodes_equal(self, other)


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


@dataclass(frozen=True, eq=False)
class Izhikevich:
    """Izhikevich (2003) neuron as PyNN's ``Izhikevich`` cell, explicit Euler with step dt (ms), per neuron:

        v' = v + dt (0.04 v² + 5 v + 140 − u + I),   u' = u + dt a (b v − u)      (both from the old v, u)
        z  = H(v' − v_peak),  v_peak = 30 mV;  then v ← c where z, else v'; u ← u' + d z
        I[t] = i_offset + Σ W_in x[t] + Σ W_rec z[t−1]      (a weight adds dt·w mV to v in the step it arrives)

    v in mV, u and I in mV/ms (PyNN's nA with the Izhikevich constants).  The surrogate ψ of H is the
    :class:`Surrogate` shape with its voltage scale set by ``psi_width_mv`` instead of v_th:
    ψ = γ/w · shape(β (v' − v_peak)/w), w = psi_width_mv.
    """

    kind: ClassVar[str] = "izhikevich"
    v_peak_mv: ClassVar[float] = 30.0
    name: str
    size: int
    a: np.ndarray  # 1/ms, recovery rate
    b: np.ndarray  # sensitivity of u to v
    c_mv: np.ndarray  # reset voltage
    d: np.ndarray  # u increment per spike
    v_init_mv: np.ndarray
    u_init: np.ndarray
    i_offset: np.ndarray  # constant input current
    psi_width_mv: np.ndarray  # voltage scale of the surrogate
    surrogate: Surrogate = field(default_factory=Surrogate)
    # "euler" (above) or "spinnaker_rk2": sPyNNaker's IZK_curr_exp, exponential current synapses of time constant
    # tau_syn_ms and its RK2 midpoint step (neuroport/emulator/izhikevich_rk2.py)
    integration: str = "euler"
    tau_syn_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def array_fields(self) -> dict[str, np.ndarray]:
        names = ("a", "b", "c_mv", "d", "v_init_mv", "u_init", "i_offset", "psi_width_mv")
        names += ("tau_syn_ms",) if self.integration != "euler" else ()
        return {n: getattr(self, n) for n in names}

    def __eq__(self, other: object) -> bool:
        return nodes_equal(self, other)


@dataclass(frozen=True, eq=False)
class LIFPscDelta(LIF):
    """NEST 3.10's ``eprop_iaf_psc_delta`` (e-prop+ only): a LIF that resets *to* ``v_reset`` in its spike step and
    stays clamped there, discarding its input (``refractory_input`` False), for n_ref = round(t_ref/dt) steps:

        not refractory:  v ← α v + Σ W x;   refractory (the n_ref steps after a spike):  v unchanged
        z = H(v − v_th);  on a spike v ← v_reset.   ψ = 0 while refractory, as for LIF.
    """

    kind: ClassVar[str] = "lif_psc_delta"
    v_reset: np.ndarray = field(default_factory=lambda: np.zeros(0))  # relative to E_L, same unit as v_th

    def array_fields(self) -> dict[str, np.ndarray]:
        return {**super().array_fields(), "v_reset": self.v_reset}


@dataclass(frozen=True, eq=False)
class ALIFPscDelta(ALIF):
    """NEST 3.10's ``eprop_iaf_psc_delta_adapt``: :class:`LIFPscDelta` with ALIF's threshold A = v_th + β a, where
    a ← ρ a + z[t−1] only in steps that are not refractory (NEST's code: with t_ref ≥ dt a spike's increment is
    dropped, since the step after it is refractory)."""

    kind: ClassVar[str] = "alif_psc_delta"
    v_reset: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def array_fields(self) -> dict[str, np.ndarray]:
        return {**super().array_fields(), "v_reset": self.v_reset}


@dataclass(frozen=True, eq=False)
class LIFCa2Adaptive:
    """sPyNNaker's ``IF_curr_delta_ca2_adaptive`` (IFCurrDeltaCa2Adaptive: a LIF with a spike-triggered calcium
    current, Liu & Wang 2001), in the float units of the model (voltage relative to E_L, weights and the current
    as the voltage step they give in one step), per neuron j and step t (neuroport.emulator.ca2_adaptive):

        c[t]  = ρ (c[t−1] + i_alpha z[t−1]),   ρ = exp(−dt/τ_ca2)       (decay, then use; the influx follows a spike)
        not refractory:  v[t] = α v[t−1] + Σ W_in x[t] + Σ W_rec z[t−1] + c[t],   α = exp(−dt/τ_m)
        refractory (the n_ref = ⌈t_ref/dt⌉ steps after a spike):  v[t] = v[t−1] (input dropped)
        z[t]  = H(v[t] − v_th);  where z: v[t] ← 0 (V_reset = V_rest)

    i_alpha < 0 adapts (the current is added to the input, as sPyNNaker adds it to the external bias).
    The surrogate ψ is :class:`Surrogate` at v[t] − v_th, 0 while refractory.
    """

    kind: ClassVar[str] = "lif_ca2_adaptive"
    name: str
    size: int
    tau_m_ms: np.ndarray
    v_th: np.ndarray  # threshold, same unit as the weights
    t_ref_ms: np.ndarray
    tau_ca2_ms: np.ndarray  # decay time constant of the calcium current
    i_alpha: np.ndarray  # calcium current step per spike (voltage units per step; negative adapts)
    surrogate: Surrogate = field(default_factory=Surrogate)

    def array_fields(self) -> dict[str, np.ndarray]:
        return {"tau_m_ms": self.tau_m_ms, "v_th": self.v_th, "t_ref_ms": self.t_ref_ms,
                "tau_ca2_ms": self.tau_ca2_ms, "i_alpha": self.i_alpha}

    def __eq__(self, other: object) -> bool:
        return nodes_equal(self, other)


NEURON_TYPES: dict[str, type] = {cls.kind: cls for cls in (LIF, ALIF, Izhikevich, LIFPscDelta, ALIFPscDelta,
                                                           LIFCa2Adaptive)}
LIF_KINDS = (LIF.kind, ALIF.kind)  # the kinds the dense Network (neuroport.ir.network) and its engines handle
RESET_KINDS = (LIFPscDelta.kind, ALIFPscDelta.kind)  # reset to v_reset: dense Network, e-prop+ engines only


@dataclass(frozen=True, eq=False)
class Readout:
    """Leaky readout y_k[t] = κ_k y_k[t−1] + ζ_k Σ_j W_out[k,j] z_j[t]; loss 'mse' (regression) or 'cross_entropy'."""

    name: str
    size: int
    tau_out_ms: np.ndarray
    loss: str = "mse"
    regular_spike_arrival: bool = True  # NEST's flag; False: incoming spikes scaled by ζ = 1 − κ

    def input_scale(self, dt_ms: float) -> np.ndarray:
        """ζ per readout unit: 1, or 1 − κ = 1 − exp(−dt/τ_out) without regular spike arrival."""
        return np.ones(self.size) if self.regular_spike_arrival else 1.0 - np.exp(-dt_ms / self.tau_out_ms)

    def __eq__(self, other: object) -> bool:
        return nodes_equal(self, other)


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from the concatenation of ``source`` nodes to the concatenation of ``target`` nodes.

    Two storage forms (docs/design/sparse-ir.md), exactly one of them set:

    * dense — ``weights`` (n_target, n_source) and ``mask`` (same shape, bool: the synapses that exist; None:
      all of them), for small or all-to-all projections;
    * sparse — ``synapses``, a :class:`~neuroport.ir.synapses.Synapses` list (target, source, weight[, delay] per
      synapse, memory ∝ synapses), what the connectivity rules of model.yaml generate.

    Code that works on matrices reads :meth:`dense_weights` / :meth:`dense_mask` (views of either form); code
    that scales reads :meth:`synapse_list`.  ``plastic`` says whether e-prop updates it; ``delay_steps`` ≥ 1
    (a sparse projection may carry per-synapse delays instead).
    """

    name: str
    source: tuple[str, ...]
    target: tuple[str, ...]
    weights: np.ndarray | None = None
    mask: np.ndarray | None = None
    plastic: bool = True
    delay_steps: int = 1
    synapses: Synapses | None = None

    def __post_init__(self) -> None:
        if (self.weights is None) == (self.synapses is None):
            raise ValueError(f"projection '{self.name}': give exactly one of weights (dense) or synapses (sparse)")

    @property
    def is_sparse(self) -> bool:
        return self.synapses is not None

    @property
    def shape(self) -> tuple[int, int]:
        """(n_target, n_source)."""
        return tuple(self.synapses.shape) if self.is_sparse else tuple(self.weights.shape)

    @property
    def n_synapses(self) -> int:
        if self.is_sparse:
            return self.synapses.n_synapses
        return int(self.weights.size if self.mask is None else np.count_nonzero(self.mask))

    def dense_weights(self) -> np.ndarray:
        """(n_target, n_source) weights, 0 where no synapse exists (a new array for the sparse form)."""
        return self.synapses.dense() if self.is_sparse else self.weights

    def dense_mask(self) -> np.ndarray:
        """(n_target, n_source) bool, True where a synapse exists."""
        if self.is_sparse:
            return self.synapses.dense_mask()
        return np.ones(self.weights.shape, dtype=bool) if self.mask is None else self.mask

    def synapse_list(self) -> Synapses:
        """The synapses as a list in canonical order (the sparse form itself, or built from the dense one)."""
        return self.synapses if self.is_sparse else Synapses.from_dense(self.weights, self.mask)

    def synapse_weights(self) -> np.ndarray:
        """Weights of the existing synapses, (n_synapses,), without building a dense matrix."""
        if self.is_sparse:
            return self.synapses.weights
        return self.weights.reshape(-1) if self.mask is None else self.weights[self.mask]

    def delay_values(self) -> np.ndarray:
        """Distinct synaptic delays (steps) of the projection."""
        if self.is_sparse and self.synapses.delays is not None:
            return np.unique(self.synapses.delays).astype(np.int64)
        return np.array([self.delay_steps])

    def to_sparse(self) -> Projection:
        """The same projection in the sparse form."""
        return self if self.is_sparse else replace(self, weights=None, mask=None, synapses=self.synapse_list())

    def to_dense(self) -> Projection:
        """The same projection in the dense form (weights and mask matrices); per-synapse delays must be uniform."""
        if not self.is_sparse:
            return self
        delays = self.delay_values()
        if delays.size > 1:
            raise ValueError(f"projection '{self.name}' has per-synapse delays; the dense form holds one delay")
        dense_delay = int(delays[0]) if self.synapses.delays is not None and delays.size else self.delay_steps
        return replace(self, weights=self.synapses.dense(), mask=self.synapses.dense_mask(), synapses=None,
                       delay_steps=dense_delay)

    def with_synapse_weights(self, weights: np.ndarray) -> Projection:
        """The same synapses with new weights, given per synapse in :meth:`synapse_list` order."""
        if self.is_sparse:
            return replace(self, synapses=self.synapses.with_weights(weights))
        new = np.zeros(self.weights.shape)
        if self.mask is None:
            new[...] = np.asarray(weights).reshape(self.weights.shape)
        else:
            new[self.mask] = weights
        return replace(self, weights=new)

    def __eq__(self, other: object) -> bool:
        return nodes_equal(self, other)


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
        return nodes_equal(self, other)
