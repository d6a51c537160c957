"""The dense view of an all-Izhikevich network and what both integrations share: the surrogate derivative ψ.

Used by the Euler forward (:mod:`neuroport.emulator.izhikevich`), sPyNNaker's RK2 forward
(:mod:`neuroport.emulator.izhikevich_rk2`) and their e-prop trainers.  ψ of a step's pre-reset voltage v' is

    ψ = γ/w · shape(β |v' − v_peak| / w),   v_peak = 30 mV,  w = psi_width_mv

with the shapes of :class:`neuroport.ir.float_graph.Surrogate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neuroport.errors import UnsupportedError
from neuroport.ir.float_graph import Izhikevich
from neuroport.ir.network import dense_matrices

# ψ / height at the scaled distance x ≥ 0 (the formulas of float_graph.Surrogate, as emulator.kernels)
SURROGATE_SHAPES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "piecewise_linear": lambda x: np.maximum(0.0, 1.0 - x),
    "exponential": lambda x: np.exp(-x),
    "fast_sigmoid_derivative": lambda x: 1.0 / (1.0 + x) ** 2,
    "arctan": lambda x: 1.0 / (1.0 + x * x),
}
NEURON_FIELDS = ("a", "b", "c_mv", "d", "v_init_mv", "u_init", "i_offset")


@dataclass(frozen=True, eq=False)
class IzhikevichNetwork:
    """Dense view of an all-Izhikevich FloatGraph: per-neuron vectors (n_rec,) and the three weight matrices
    with their masks, laid out as :class:`neuroport.ir.network.Network` (which the e-prop loop reuses)."""

    dt_ms: float
    n_in: int
    n_rec: int
    n_out: int
    a: np.ndarray
    b: np.ndarray
    c_mv: np.ndarray
    d: np.ndarray
    v_init_mv: np.ndarray
    u_init: np.ndarray
    i_offset: np.ndarray
    psi_height: np.ndarray  # γ / w, per mV
    psi_scale: np.ndarray  # β / w, per mV
    surrogate_function: str
    tau_out_ms: np.ndarray
    loss: str
    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    w_in_mask: np.ndarray
    w_rec_mask: np.ndarray
    w_out_mask: np.ndarray
    w_in_plastic: np.ndarray
    w_rec_plastic: np.ndarray
    w_out_plastic: np.ndarray
    integration: str = "euler"  # or "spinnaker_rk2" (neuroport.emulator.izhikevich_rk2)
    tau_syn_ms: np.ndarray | None = None  # spinnaker_rk2: exponential synapse time constant per neuron

    @property
    def kappa(self) -> np.ndarray:
        """Readout decay per step, κ = exp(−dt/τ_out)."""
        return np.exp(-self.dt_ms / self.tau_out_ms)


@dataclass(frozen=True, eq=False)
class IzhikevichRun:
    """A run, time on axis 1, arrays (batch, n_steps, n): spikes, post-reset v and u, ψ, readout."""

    z: np.ndarray
    v: np.ndarray
    u: np.ndarray
    psi: np.ndarray
    y: np.ndarray


def assemble_izhikevich(graph) -> IzhikevichNetwork:
    """The dense :class:`IzhikevichNetwork` of a graph whose populations are all Izhikevich."""
    for i, pop in enumerate(graph.populations):
        if pop.kind != Izhikevich.kind:
            raise UnsupportedError(f"population '{pop.name}' is {pop.kind}: networks mixing Izhikevich and "
                                   f"{pop.kind} populations are not supported; make every population izhikevich",
                                   path=f"populations[{i}].model")
    for i, proj in enumerate(graph.projections):
        if proj.delay_steps != 1:
            raise UnsupportedError(f"delay_steps {proj.delay_steps}: Izhikevich networks support synaptic delays of "
                                   "1 step only", path=f"projections[{i}].delay_steps")
    pops = graph.populations
    functions = {p.surrogate.function for p in pops}
    if len(functions) > 1:
        raise UnsupportedError(f"Izhikevich populations use different surrogates {sorted(functions)}; use one",
                               path="populations")
    integrations = {p.integration for p in pops}
    if len(integrations) > 1:
        raise UnsupportedError(f"Izhikevich populations use different integrations {sorted(integrations)}; use one",
                               path="populations")
    integration = integrations.pop()
    tau_syn = np.concatenate([p.tau_syn_ms for p in pops]).astype(np.float64) if integration != "euler" else None
    per_neuron = {f: np.concatenate([getattr(p, f) for p in pops]).astype(np.float64) for f in NEURON_FIELDS}
    width = np.concatenate([p.psi_width_mv for p in pops])
    return IzhikevichNetwork(
        dt_ms=graph.dt_ms, n_in=graph.input.size, n_rec=graph.n_recurrent, n_out=graph.readout.size, **per_neuron,
        psi_height=np.concatenate([np.full(p.size, p.surrogate.gamma) for p in pops]) / width,
        psi_scale=np.concatenate([np.full(p.size, p.surrogate.beta) for p in pops]) / width,
        surrogate_function=functions.pop(), tau_out_ms=graph.readout.tau_out_ms, loss=graph.readout.loss,
        integration=integration, tau_syn_ms=tau_syn, **dense_matrices(graph)[0])


def surrogate(net: IzhikevichNetwork, v_pre: np.ndarray) -> np.ndarray:
    """ψ = γ/w · shape(β |v' − v_peak| / w)."""
    distance = np.abs(v_pre - Izhikevich.v_peak_mv) * net.psi_scale
    return net.psi_height * SURROGATE_SHAPES[net.surrogate_function](distance)
