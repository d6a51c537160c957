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

import numpy as np

from neuroport.emulator.izhikevich_network import IzhikevichNetwork, IzhikevichRun, assemble_izhikevich, surrogate
from neuroport.emulator.izhikevich_rk2 import simulate_rk2
from neuroport.emulator.reference import leaky_sum
from neuroport.ir.float_graph import Izhikevich


def euler_step(net: IzhikevichNetwork, v: np.ndarray, u: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(v', u') from the previous post-reset (v, u) and this step's input current (module docstring)."""
    dt = net.dt_ms
    v_new = v + dt * (0.04 * v * v + 5.0 * v + 140.0 - u + current)
    u_new = u + dt * net.a * (net.b * v - u)
    return v_new, u_new


def simulate_izhikevich(net: IzhikevichNetwork, inputs: np.ndarray) -> IzhikevichRun:
    """Run ``net`` on 0/1 ``inputs`` of shape (batch, n_steps, n_in) with its integration (Euler: the module
    docstring; spinnaker_rk2: :func:`neuroport.emulator.izhikevich_rk2.simulate_rk2`)."""
    return INTEGRATORS[net.integration](net, inputs)


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
    "euler": simulate_euler, "spinnaker_rk2": simulate_rk2}


def simulate_izhikevich_graph(graph, inputs: np.ndarray) -> IzhikevichRun:
    """Float run of an Izhikevich FloatGraph (the entry of :data:`neuroport.emulator.reference.GRAPH_SIMULATORS`)."""
    return simulate_izhikevich(assemble_izhikevich(graph), inputs)
