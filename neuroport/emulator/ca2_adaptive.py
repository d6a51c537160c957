"""Float forward simulation of networks of sPyNNaker's ``IF_curr_delta_ca2_adaptive`` neuron
(:class:`neuroport.ir.float_graph.LIFCa2Adaptive`), batched numpy.

Per step t and sample, for recurrent neuron j (state before step 0: v = c = 0, z[−1] = 0, not refractory):

    c[t]   = ρ (c[t−1] + i_alpha z[t−1]),   ρ = exp(−dt/τ_ca2)               calcium current (voltage units)
    q[t]   = 1 while refractory: fewer than n_ref = ⌈t_ref/dt⌉ steps since the last spike, else 0
    v'[t]  = (1 − q[t]) (α v[t−1] + W_in x[t] + W_rec z[t−1] + c[t]) + q[t] v[t−1],   α = exp(−dt/τ_m)
    z[t]   = H(v'[t] − v_th) (1 − q[t]),   ψ[t] = (1 − q[t]) γ/v_th · shape(β |v'[t] − v_th| / v_th)
    v[t]   = (1 − z[t]) v'[t]                                                 reset to V_reset = 0
    y[t]   = κ y[t−1] + W_out z[t],   κ = exp(−dt/τ_out)                      (the LIF networks' readout)

This is the order of sPyNNaker's neuron_impl_standard.h (sPyNNaker 1!7.4.1): the additional input's
``additional_input_get_input_value_as_current`` decays i_ca2 and returns it as external bias *before*
``neuron_model_state_update`` (LIF closed form, skipped while refract_timer > 0), and ``additional_input_has_spiked``
adds i_alpha *after* the threshold (additional_input_ca2_adaptive_impl.h); the s16.15 words are
:mod:`neuroport.emulator.spinnaker_ca2`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroport.emulator.reference import leaky_sum
from neuroport.errors import UnsupportedError
from neuroport.ir.float_graph import FloatGraph, LIFCa2Adaptive
from neuroport.ir.network import dense_matrices

NEURON_FIELDS = ("tau_m_ms", "v_th", "t_ref_ms", "tau_ca2_ms", "i_alpha")


@dataclass(frozen=True, eq=False)
class Ca2Network:
    """Dense view of an all-``lif_ca2_adaptive`` FloatGraph: per-neuron vectors (n_rec,) and the three weight
    matrices with their masks, laid out as :class:`neuroport.ir.network.Network` (the e-prop loop reuses it)."""

    dt_ms: float
    n_in: int
    n_rec: int
    n_out: int
    tau_m_ms: np.ndarray
    v_th: np.ndarray
    t_ref_ms: np.ndarray
    tau_ca2_ms: np.ndarray
    i_alpha: np.ndarray
    psi_height: np.ndarray  # γ / v_th
    psi_scale: np.ndarray  # β / v_th
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

    @property
    def alpha(self) -> np.ndarray:
        return np.exp(-self.dt_ms / self.tau_m_ms)

    @property
    def rho(self) -> np.ndarray:
        """Calcium decay per step, ρ = exp(−dt/τ_ca2)."""
        return np.exp(-self.dt_ms / self.tau_ca2_ms)

    @property
    def kappa(self) -> np.ndarray:
        return np.exp(-self.dt_ms / self.tau_out_ms)

    @property
    def n_ref(self) -> np.ndarray:
        """Refractory steps ⌈t_ref/dt⌉ (sPyNNaker's T_refract = lif_ceil_accum(τ_refrac / dt))."""
        return np.ceil(np.round(self.t_ref_ms / self.dt_ms, 9)).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Ca2Run:
    """A run, time on axis 1, arrays (batch, n_steps, n): spikes, pre-reset v', calcium c, refractory flag q, ψ, y."""

    z: np.ndarray
    v: np.ndarray
    c: np.ndarray
    q: np.ndarray
    psi: np.ndarray
    y: np.ndarray


def assemble_ca2(graph: FloatGraph) -> Ca2Network:
    """The dense :class:`Ca2Network` of a graph whose populations are all ``lif_ca2_adaptive``."""
    for i, pop in enumerate(graph.populations):
        if pop.kind != LIFCa2Adaptive.kind:
            raise UnsupportedError(f"population '{pop.name}' is {pop.kind}: networks mixing lif_ca2_adaptive and "
                                   f"{pop.kind} populations are not supported; make every population lif_ca2_adaptive",
                                   path=f"populations[{i}].model")
    for i, proj in enumerate(graph.projections):
        if proj.is_sparse or proj.delay_steps != 1:
            raise UnsupportedError(f"projection '{proj.name}': lif_ca2_adaptive networks support dense projections "
                                   "of delay 1 step only", path=f"projections[{i}]")
    pops = graph.populations
    functions = {p.surrogate.function for p in pops}
    if len(functions) > 1:
        raise UnsupportedError(f"lif_ca2_adaptive populations use different surrogates {sorted(functions)}; use one",
                               path="populations")
    per_neuron = {f: np.concatenate([getattr(p, f) for p in pops]).astype(np.float64) for f in NEURON_FIELDS}
    return Ca2Network(
        dt_ms=graph.dt_ms, n_in=graph.input.size, n_rec=graph.n_recurrent, n_out=graph.readout.size, **per_neuron,
        psi_height=np.concatenate([np.full(p.size, p.surrogate.gamma) for p in pops]) / per_neuron["v_th"],
        psi_scale=np.concatenate([np.full(p.size, p.surrogate.beta) for p in pops]) / per_neuron["v_th"],
        surrogate_function=functions.pop(), tau_out_ms=graph.readout.tau_out_ms, loss=graph.readout.loss,
        **dense_matrices(graph)[0])


def simulate_ca2(net: Ca2Network, inputs: np.ndarray) -> Ca2Run:
    """Run ``net`` on 0/1 ``inputs`` of shape (batch, n_steps, n_in) (module docstring; the step loop is compiled:
    :func:`neuroport.emulator.ca2_kernels.ca2_steps`)."""
    from neuroport.emulator.ca2_kernels import ca2_steps
    from neuroport.emulator.kernels import SHAPE_CODES

    x = np.asarray(inputs, dtype=np.float64)
    batch, n_steps, n_in = x.shape
    drive = (x.reshape(-1, n_in) @ net.w_in.T).reshape(batch, n_steps, -1)
    z, v, c, q, psi = ca2_steps(drive, np.ascontiguousarray(net.w_rec.T), net.alpha, net.rho, net.i_alpha, net.v_th,
                                net.n_ref, net.psi_height, net.psi_scale, SHAPE_CODES[net.surrogate_function])
    return Ca2Run(z=z, v=v, c=c, q=q, psi=psi, y=leaky_sum(z @ net.w_out.T, net.kappa))


def simulate_ca2_graph(graph: FloatGraph, inputs: np.ndarray) -> Ca2Run:
    """Float run of a lif_ca2_adaptive FloatGraph (the entry of :data:`neuroport.emulator.float_run.GRAPH_SIMULATORS`)."""
    return simulate_ca2(assemble_ca2(graph), inputs)
