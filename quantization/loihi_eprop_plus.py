"""The fixed-point profile of e-prop+ neurons (``learning.variant: eprop_plus``; NEST 3.10's ``eprop_iaf`` and
``eprop_iaf_adapt``) for Loihi-family configs: the neuron kind ``eprop_plus`` of
:class:`~neuroport.ir.fixed_graph.FixedNeurons`, whose reset is in the spike step.

The float e-prop+ neuron (:mod:`neuroport.training.eprop_plus`; voltages relative to E_L, per step t)

    v ← α v + W_in x[t] + W_rec z[t−1],   a ← ρ a + z[t−1],   A = v_th + β a
    z[t] = [v ≥ A] · [free],   v ← v − v_th z[t]                                   reset in the spike step

becomes, in the integer units of :mod:`neuroport.quantization.loihi` (v_scale, vth, dv, da, a_inc, n_ref as for
the ALIF neuron: only the place of the reset differs)

    r ← max(r − 1, 0);  v ← sat24(decay12(v, dv) + (a_in << 6));  a ← sat24(decay12(a, da) + z[t−1] · a_inc)
    z = [v ≥ (vth << 6) + a] · [r = 0];  v ← v − z · (vth << 6);  r ← n_ref where z

so the reset voltage decays with v in the next step, as the float neuron's does (the ALIF kind subtracts the
threshold one step later, undecayed).  The calibrated voltage range comes from float runs with these dynamics
(:func:`plus_calibration_peak`, the voltage before the reset included: it is what the 24-bit v must hold).

What the profile refuses (one line naming the population or projection, :func:`refuse_eprop_plus_network`):
NEST's psc_delta neurons (``lif_psc_delta``/``alif_psc_delta``: reset to v_reset and v, a held for the refractory
steps, input dropped — not this neuron's subtractive reset, and no fixed-point kind models it), neuron models other
than LIF/ALIF, and synaptic delays other than one step (NEST's eprop_synapse has none; the float e-prop+ engine
runs without them).  The e-prop+ learning rule itself (event-driven eligibility traces, the online firing-rate
regularization) is not run on the chip: on-chip training refuses the variant
(:func:`neuroport.training.onchip.refuse_float_only`); a model trained with it in float is deployed for inference.
"""

from __future__ import annotations

import numpy as np

from neuroport.errors import UnsupportedError
from neuroport.hw import HwConfig
from neuroport.ir.float_graph import LIF_KINDS, RESET_KINDS, FloatGraph
from neuroport.ir.network import assemble

KIND = "eprop_plus"  # the FixedNeurons kind of this profile


def refuse_eprop_plus_network(graph: FloatGraph, hw: HwConfig) -> None:
    """Raise UnsupportedError naming the first population or projection the e-prop+ profile cannot express."""
    for i, pop in enumerate(graph.populations):
        if pop.kind in RESET_KINDS:
            raise UnsupportedError(
                f"{hw.name} has no fixed-point model of '{pop.kind}' (population '{pop.name}'): NEST's psc_delta "
                "e-prop+ neurons reset to v_reset and hold v and a for the refractory steps, dropping their input; "
                "the chip's e-prop+ neuron resets by subtracting the threshold in the spike step (use model lif or "
                "alif)", path=f"populations[{i}].model")
        if pop.kind not in LIF_KINDS:
            raise UnsupportedError(
                f"{hw.name} has no e-prop+ {pop.kind} neuron: the chip's e-prop+ neuron is LIF/ALIF (population "
                f"'{pop.name}')", path=f"populations[{i}].model")
    for i, proj in enumerate(graph.projections):
        if proj.delay_values().max() > 1:
            raise UnsupportedError(
                f"projection '{proj.name}': e-prop+ networks have one-step synapses (NEST's eprop_synapse requires "
                "a delay of one step; the float e-prop+ reference runs without delays)", path=f"projections[{i}].delay_steps")


def plus_run(graph: FloatGraph, inputs: np.ndarray) -> tuple[np.ndarray, float]:
    """Float e-prop+ runs on ``inputs`` (batch, steps, n_in), every sample from rest (the dynamics of the module
    docstring, readout y[t] = κ y[t−1] + W_out z[t], as :func:`neuroport.training.eprop_plus.simulate_plus`):
    the spikes (batch, steps, n) and the largest |v| (before the reset), |A| = |v_th + β a| and |y| seen."""
    net = assemble(graph).folded()
    x = np.asarray(inputs, dtype=np.float64)
    batch, n_steps, _ = x.shape
    drive = x @ net.w_in.T  # (batch, steps, n)
    v, a, z = (np.zeros((batch, net.n_rec)) for _ in range(3))
    r = np.zeros((batch, net.n_rec), dtype=np.int64)
    y = np.zeros((batch, net.n_out))
    spikes = np.zeros((batch, n_steps, net.n_rec))
    peak = 0.0
    for t in range(n_steps):
        r = np.maximum(r - 1, 0)
        v = net.alpha * v + drive[:, t] + z @ net.w_rec.T
        a = net.rho * a + z
        threshold = net.v_th + net.beta * a
        z = ((v >= threshold) & (r == 0)).astype(np.float64)
        y = net.kappa * y + z @ net.w_out.T
        peak = max(peak, float(np.abs(v).max(initial=0.0)), float(np.abs(threshold).max(initial=0.0)),
                   float(np.abs(y).max(initial=0.0)))
        v = v - net.v_th * z
        r = np.where(z > 0, net.n_ref_steps, r)
        spikes[:, t] = z
    return spikes, peak


def plus_calibration_peak(graph: FloatGraph, inputs: np.ndarray) -> float:
    """The largest |v|, |A| and |y| of float e-prop+ runs on ``inputs`` (:func:`plus_run`): the calibrated range."""
    return plus_run(graph, inputs)[1]
