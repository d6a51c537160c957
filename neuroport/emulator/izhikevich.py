"""Float forward simulation of Izhikevich networks (:class:`neuroport.ir.float_graph.Izhikevich`), batched numpy.

Per step t and sample, for recurrent neuron j (PyNN's ``Izhikevich`` cell, explicit Euler, dt in ms; the state
before step 0 is (v_init, u_init) and z[−1] = 0):

    I[t]  = i_offset + W_in x[t] + W_rec z[t−1]
    v'[t] = v[t−1] + dt (0.04 v[t−1]² + 5 v[t−1] + 140 − u[t−1] + I[t])
    u'[t] = u[t−1] + dt a (b v[t−1] − u[t−1])
    z[t]  = H(v'[t] − 30 mV),   ψ[t] = γ/w · shape(β |v'[t] − 30| / w)     (w = psi_width_mv)
    v[t]  = c where z[t] else v'[t],   u[t] = u'[t] + d z[t]
    y[t]  = κ y[t−1] + W_out z[t],   κ = exp(−dt/τ_out)                     (the LIF networks' readout)

This is NEST's ``izhikevich`` with ``consistent_integration: true`` (forward Euler from the old v and u), a
spike of weight w_nest = dt·w added to V_m after the Euler step, I_e = i_offset, V_th = 30 mV (tests/test_izhikevich).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neuroport.emulator.reference import leaky_sum
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


def euler_step(net: IzhikevichNetwork, v: np.ndarray, u: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(v', u') from the previous post-reset (v, u) and this step's input current (module docstring)."""
    dt = net.dt_ms
    v_new = v + dt * (0.04 * v * v + 5.0 * v + 140.0 - u + current)
    u_new = u + dt * net.a * (net.b * v - u)
    return v_new, u_new


def surrogate(net: IzhikevichNetwork, v_pre: np.ndarray) -> np.ndarray:
    """ψ = γ/w · shape(β |v' − v_peak| / w)."""
    distance = np.abs(v_pre - Izhikevich.v_peak_mv) * net.psi_scale
    return net.psi_height * SURROGATE_SHAPES[net.surrogate_function](distance)


def simulate_izhikevich(net: IzhikevichNetwork, inputs: np.ndarray) -> IzhikevichRun:
    """Run ``net`` on 0/1 ``inputs`` of shape (batch, n_steps, n_in) with its integration (Euler: the module
    docstring; spinnaker_rk2: :func:`neuroport.emulator.izhikevich_rk2.simulate_rk2`)."""
    return INTEGRATORS[net.integration](net, inputs)


def _simulate_rk2(net: IzhikevichNetwork, inputs: np.ndarray) -> IzhikevichRun:
    from neuroport.emulator.izhikevich_rk2 import simulate_rk2

    return simulate_rk2(net, inputs)


def simulate_euler(net: IzhikevichNetwork, inputs: np.ndarray) -> IzhikevichRun:
    """The Euler run of ``net`` (module docstring)."""
    x = np.asarray(inputs, dtype=np.float64)
    batch, n_steps, n_in = x.shape
    drive = (x.reshape(-1, n_in) @ net.w_in.T).reshape(batch, n_steps, -1) + net.i_offset
    v = np.broadcast_to(net.v_init_mv, (batch, net.n_rec)).copy()
    u = np.broadcast_to(net.u_init, (batch, net.n_rec)).copy()
    z = np.zeros((batch, net.n_rec))
    out = {k: np.zeros((batch, n_steps, net.n_rec)) for k in ("z", "v", "u", "psi")}
    for t in range(n_steps):
        v_pre, u_pre = euler_step(net, v, u, drive[:, t] + z @ net.w_rec.T)
        z = (v_pre >= Izhikevich.v_peak_mv).astype(np.float64)
        v = np.where(z > 0, net.c_mv, v_pre)
        u = u_pre + net.d * z
        out["z"][:, t], out["v"][:, t], out["u"][:, t], out["psi"][:, t] = z, v, u, surrogate(net, v_pre)
    y = leaky_sum(out["z"] @ net.w_out.T, net.kappa)
    return IzhikevichRun(y=y, **out)


INTEGRATORS: dict[str, Callable[[IzhikevichNetwork, np.ndarray], IzhikevichRun]] = {
    "euler": simulate_euler, "spinnaker_rk2": _simulate_rk2}


def simulate_izhikevich_graph(graph, inputs: np.ndarray) -> IzhikevichRun:
    """Float run of an Izhikevich FloatGraph (the entry of :data:`neuroport.emulator.reference.GRAPH_SIMULATORS`)."""
    return simulate_izhikevich(assemble_izhikevich(graph), inputs)
