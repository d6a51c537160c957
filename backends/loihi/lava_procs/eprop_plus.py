"""The e-prop+ neuron (NEST's ``eprop_iaf`` / ``eprop_iaf_adapt``: the reset in the spike step) as a Lava Process
(fixed_pt), the emulator's ``FixedNeurons(kind='eprop_plus')`` bit for bit.

Per step, integers:
    r ← max(r − 1, 0)
    v ← sat24(decay12(v, dv) + (a_in << 6))
    a ← sat24(decay12(a, da) + z[t−1] · a_inc)                           threshold adaptation
    z = [v ≥ (vth << 6) + a] · [r = 0]
    v ← v − z · (vth << 6);  r ← n_ref where z                           reset by subtraction, in the spike step
The Vars are those of :class:`~neuroport.backends.loihi.lava_procs.alif.NeuroportALIF` (the same integer
parameters; only the place of the reset differs), so the runner's host I/O reads and zeroes both alike; ``*_rec``
Vars record v (after the reset), a and z of every step.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from neuroport.backends.loihi.lava_procs.alif import SHIFT, STATE_BITS, AbstractNeuroportALIFModel, NeuroportALIF

from neuroport.numerics import decay12, saturate_signed


class NeuroportEpropPlus(NeuroportALIF):
    """n e-prop+ neurons: NeuroportALIF's parameters and Vars (dv, vth, da, a_inc, n_ref; records ``n_steps``)."""


@implements(proc=NeuroportEpropPlus, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyNeuroportEpropPlusModelFixed(AbstractNeuroportALIFModel):
    """The ALIF model's Vars and recording (AbstractNeuroportALIFModel) with the e-prop+ step."""

    def neuron_step(self, a_in: np.ndarray) -> np.ndarray:
        return eprop_plus_step(self, a_in)


def eprop_plus_step(model, a_in: np.ndarray) -> np.ndarray:
    """One e-prop+ step on the model's Vars (module docstring); returns the spikes (bool)."""
    vth_scaled = model.vth << SHIFT
    model.r[:] = np.maximum(model.r - 1, 0)
    model.v[:] = saturate_signed(decay12(model.v, model.dv) + (a_in << SHIFT), STATE_BITS)[0]
    model.a[:] = saturate_signed(decay12(model.a, model.da) + model.z * model.a_inc, STATE_BITS)[0]
    spikes = (model.v >= vth_scaled + model.a) & (model.r == 0)
    model.v[:] = model.v - spikes * vth_scaled  # ≥ a ≥ −(2^23 − 1): in range without saturation
    model.r[:] = np.where(spikes, model.n_ref, model.r)
    model.z[:] = spikes
    return spikes
