"""Float forward of Izhikevich networks with ``integration: spinnaker_rk2``: sPyNNaker's ``IZK_curr_exp``.

What sPyNNaker 1!7.4.1 computes per timestep (neuron_impl_standard.h, neuron_model_izh_impl.h,
synapse_types_exponential_impl.h + exp_synapse_utils.h), written in reals; the s16.15 words are
:mod:`neuroport.emulator.spinnaker_izhikevich`.  Per step t, neuron j (dt in ms, h the step of this update):

    J[t]   = λ J[t−1] + g (W_in x[t] + W_rec z[t−1]),   λ = exp(−dt/τ_syn),  g = (τ_syn/dt)(1 − λ),  J[−1] = 0
    I      = J[t] + i_offset                                        (exc − inh exponential current, nA)
    α      = 140 + I − u + (5 + M v) v,        η = v + h α / 2,     β = h a (b v − u) / 2
    v'     = v + h (140 + I − u − β + (5 + M η) η)                   RK2 midpoint, M = 0.040008544921875
    u'     = u + a h (−u − β + b η)
    z[t]   = H(v' − 30 mV),   v ← c where z else v',   u ← u' + d z
    h[t]   = dt · (1.85 if z[t−1] else 1)                           SIMPLE_TQ_OFFSET: one longer step after a spike
    y[t]   = κ y[t−1] + W_out z[t]                                  (the readout of the LIF networks)

M is sPyNNaker's MAGIC_MULTIPLIER (0.04 + 2^−17, exactly an s16.15 word).  J is the synaptic current the
neuron reads in step t: the ring buffer of step t is added (× g, ``add_input_exp``) before the update and the
current decays by λ after it (``exp_shaping``), so a weight-w spike contributes w g λ^k in the k-th step after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroport.emulator.izhikevich_network import IzhikevichNetwork, IzhikevichRun, surrogate
from neuroport.emulator.reference import leaky_sum
from neuroport.ir.float_graph import Izhikevich

MAGIC_MULTIPLIER = 0.040008544921875  # neuron_model_izh_impl.h: 1311 / 2^15
SIMPLE_TQ_OFFSET = 1.85  # neuron_model_izh_impl.h: the step after a spike is 1.85 h


@dataclass(frozen=True, eq=False)
class RK2Run(IzhikevichRun):
    """An RK2 run: also the synaptic current J and the step h of every update, (batch, n_steps, n)."""

    j_syn: np.ndarray
    h_ms: np.ndarray


def synapse_constants(net: IzhikevichNetwork) -> tuple[np.ndarray, np.ndarray]:
    """(λ, g) per neuron: the per-step decay and the input gain of the exponential synapse."""
    lam = np.exp(-net.dt_ms / net.tau_syn_ms)
    return lam, net.tau_syn_ms / net.dt_ms * (1.0 - lam)


def rk2_step(net: IzhikevichNetwork, v: np.ndarray, u: np.ndarray, current: np.ndarray,
             h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(v', u') of sPyNNaker's ``rk2_kernel_midpoint`` (module docstring) from the post-reset (v, u)."""
    pre_alpha = 140.0 + current - u
    eta = v + 0.5 * h * (pre_alpha + (5.0 + MAGIC_MULTIPLIER * v) * v)
    beta = 0.5 * h * net.a * (net.b * v - u)
    v_new = v + h * (pre_alpha - beta + (5.0 + MAGIC_MULTIPLIER * eta) * eta)
    u_new = u + net.a * h * (-u - beta + net.b * eta)
    return v_new, u_new


def simulate_rk2(net: IzhikevichNetwork, inputs: np.ndarray) -> RK2Run:
    """Run ``net`` (integration spinnaker_rk2) on 0/1 ``inputs`` (batch, n_steps, n_in): module docstring."""
    x = np.asarray(inputs, dtype=np.float64)
    batch, n_steps, n_in = x.shape
    lam, gain = synapse_constants(net)
    drive = (x.reshape(-1, n_in) @ net.w_in.T).reshape(batch, n_steps, -1)
    v = np.broadcast_to(net.v_init_mv, (batch, net.n_rec)).copy()
    u = np.broadcast_to(net.u_init, (batch, net.n_rec)).copy()
    z, j = np.zeros((batch, net.n_rec)), np.zeros((batch, net.n_rec))
    out = {k: np.zeros((batch, n_steps, net.n_rec)) for k in ("z", "v", "u", "psi", "j_syn", "h_ms")}
    for t in range(n_steps):
        j = lam * j + gain * (drive[:, t] + z @ net.w_rec.T)
        h = net.dt_ms * np.where(z > 0, SIMPLE_TQ_OFFSET, 1.0)
        v_pre, u_pre = rk2_step(net, v, u, j + net.i_offset, h)
        z = (v_pre >= Izhikevich.v_peak_mv).astype(np.float64)
        v = np.where(z > 0, net.c_mv, v_pre)
        u = u_pre + net.d * z
        for key, value in (("z", z), ("v", v), ("u", u), ("psi", surrogate(net, v_pre)), ("j_syn", j), ("h_ms", h)):
            out[key][:, t] = value
    y = leaky_sum(out["z"] @ net.w_out.T, net.kappa)
    return RK2Run(y=y, **out)
