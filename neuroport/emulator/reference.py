"""Float reference simulation of a :class:`~neuroport.ir.network.Network`, batched over samples (numpy).

Per step t, for every sample (NEST ``*_bsshslm_2020`` order; voltages relative to E_L, ζ = 1):

    r      ← max(r − 1, 0)                                   refractory counter (steps)
    v      ← α v + W_in x[t] + W_rec z[t−1] − v_th z[t−1]    reset by subtraction one step after the spike
    a      ← ρ a + z[t−1],   A = v_th + β a                  (LIF: β = 0)
    ψ      = surrogate(v − A) · [r = 0]                       pseudo-derivative, 0 while refractory
    z[t]   = [v ≥ A] · [r = 0];   r ← n_ref where z[t]
    y[t]   = κ y[t−1] + W_out z[t]                           leaky readout of this step's spikes: NEST's
                                                             ``readout_signal`` and TensorFlow's e-prop output

NEST's readout membrane sees the spikes one synaptic delay later, but NEST shifts the readout's update interval
by that delay (``delay_rec_out``), so the signal it scores against the target of sequence step t is y[t] above
(measured in tests/nest).  On Loihi the readout's Dense adds a real one-step delay: the fixed-point emulator's
readout at step t + 1 corresponds to y[t] (:func:`neuroport.pipeline.compare` aligns the two).

Synaptic delays (:class:`~neuroport.ir.network.Network` ``delays``; d = 1 is the above): a synapse of delay d
carries x[t − d + 1] (input), z[t − d] (recurrent) or z[t − d + 1] (readout) to step t, so

    v      ← α v + Σ_d W_in,d x[t−d+1] + Σ_d W_rec,d z[t−d] − v_th z[t−1],    y[t] = κ y[t−1] + Σ_d W_out,d z[t−d+1]

(W_·,d: the synapses of delay d; zero before the first step).  The reset and the adaptation stay one-step.

The arrays of a run are returned as a :class:`FloatRun` so that the e-prop trainer can compute gradients
from them without simulating again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroport.ir.network import Network


@dataclass(frozen=True, eq=False)
class FloatRun:
    """Everything a run produced, time on axis 1: arrays (batch, n_steps, n)."""

    z: np.ndarray  # recurrent spikes (0/1, float64)
    v: np.ndarray  # membrane voltage after reset and input
    a: np.ndarray  # adaptation variable
    psi: np.ndarray  # surrogate derivative ψ
    y: np.ndarray  # readout


def simulate(net: Network, inputs: np.ndarray, *, record_states: bool = True) -> FloatRun:
    """Run ``net`` on ``inputs`` of shape (batch, n_steps, n_in) with 0/1 spikes; see the module docstring.

    The step loop is compiled (:mod:`neuroport.emulator.kernels`, event-driven recurrent input, ψ in the loop by
    the formulas of :class:`neuroport.ir.float_graph.Surrogate`); the input drive and the readout are computed
    for all steps at once.  A neuron is free (r = 0 above) when at least
    n_ref steps have passed since its last spike.
    """
    from neuroport.emulator.kernels import SHAPE_CODES, lif_alif_steps, lif_alif_steps_delayed

    net = net.folded()  # NEST's regular_spike_arrival False: ζ into the weights
    x = np.asarray(inputs, dtype=np.float64)
    drive = delayed_product(x, net, "w_in", 1)
    params = (*(np.asarray(p, dtype=np.float64) for p in (net.alpha, net.rho, net.v_th, net.beta)),
              net.n_ref_steps.astype(np.int64), np.asarray(net.surrogate_gamma / net.v_th, dtype=np.float64),
              np.asarray(net.surrogate_beta / net.v_th, dtype=np.float64), SHAPE_CODES[net.surrogate_function], record_states)
    if not net.is_delayed("w_rec"):
        w_rec_reset = np.ascontiguousarray(net.w_rec.T - np.diag(net.v_th))  # row i: what a spike of i adds
        z_all, psi, v_all, a_all = lif_alif_steps(drive, w_rec_reset, *params)
    else:
        groups = net.delay_groups("w_rec")
        w_groups = np.ascontiguousarray(np.stack([np.where(m, net.w_rec, 0.0).T for _, m in groups]))
        delays = np.array([d for d, _ in groups], dtype=np.int64)
        z_all, psi, v_all, a_all = lif_alif_steps_delayed(drive, w_groups, delays, *params)
    y = leaky_sum(delayed_product(z_all, net, "w_out", 1), net.kappa)
    return FloatRun(z=z_all, v=v_all, a=a_all, psi=psi, y=y)


def delayed(signal: np.ndarray, steps: int) -> np.ndarray:
    """signal[:, t − steps] at t (zero before), along axis 1 of (batch, T, n): a train delayed by ``steps``."""
    if steps == 0:
        return signal
    out = np.zeros_like(signal)
    if steps < signal.shape[1]:
        out[:, steps:] = signal[:, :signal.shape[1] - steps]
    return out


def delayed_product(pre: np.ndarray, net: Network, name: str, lag: int) -> np.ndarray:
    """Σ_d pre[:, t − d + lag] W_d^T over the delay groups of matrix ``name`` (lag 1: input and readout, whose
    delay-1 synapses act in the same step): (batch, T, n_pre) → (batch, T, n_post)."""
    w = getattr(net, name)
    batch, n_steps, n_pre = pre.shape
    groups = net.delay_groups(name)
    if not net.is_delayed(name) and lag == 1:  # no delays: one product, as without this function
        return (pre.reshape(-1, n_pre) @ w.T).reshape(batch, n_steps, -1)
    out = np.zeros((batch, n_steps, w.shape[0]))
    for d, mask in groups:
        w_d = w if mask is None else np.where(mask, w, 0.0)
        out += (delayed(pre, d - lag).reshape(-1, n_pre) @ w_d.T).reshape(batch, n_steps, -1)
    return out


def leaky_sum(signal: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """out[t] = decay · out[t−1] + signal[t] along axis 1 of (batch, T, n), one decay per channel."""
    from neuroport.emulator import kernels

    signal = np.ascontiguousarray(signal, dtype=np.float64)
    return kernels.leaky_sum(signal, np.ascontiguousarray(np.broadcast_to(decay, signal.shape[2:]), dtype=np.float64))
