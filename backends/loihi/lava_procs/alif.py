"""Loihi-style ALIF neuron as a Lava Process (fixed_pt), the emulator's ``FixedNeurons(kind='alif')`` bit for bit.

Per step, integers:
    r ← max(r − 1, 0)
    v ← sat24(decay12(v, dv) + (a_in << 6) − z[t−1] · (vth << 6))       reset by subtraction
    a ← sat24(decay12(a, da) + z[t−1] · a_inc)                           threshold adaptation
    z = [v ≥ (vth << 6) + a] · [r = 0];  r ← n_ref where z
Lava's own LIF resets v to 0, has no refractory period and no adaptation, hence this process.  ``*_rec`` Vars
record v, a and z of every step (rows = time step) so a run is read back in one ``get``.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neuroport.numerics import decay12, saturate_signed

SHIFT = 6  # act_shift = vth_shift = 6 (Lava's LIF)
STATE_BITS = 24


class NeuroportALIF(AbstractProcess):
    """n neurons with per-neuron integer parameters dv, vth, da, a_inc, n_ref; records ``n_steps`` steps."""

    def __init__(self, *, dv, vth, da, a_inc, n_ref, n_steps: int, **kwargs) -> None:
        n = len(vth)
        super().__init__(shape=(n,), **kwargs)
        self.a_in = InPort(shape=(n,))
        self.s_out = OutPort(shape=(n,))
        for name, value in (("dv", dv), ("vth", vth), ("da", da), ("a_inc", a_inc), ("n_ref", n_ref)):
            setattr(self, name, Var(shape=(n,), init=np.asarray(value, dtype=np.int64)))
        for name in ("v", "a", "r", "z"):
            setattr(self, name, Var(shape=(n,), init=np.zeros(n, dtype=np.int64)))
        for name in ("v_rec", "a_rec", "z_rec"):
            setattr(self, name, Var(shape=(n_steps, n), init=np.zeros((n_steps, n), dtype=np.int64)))


class AbstractNeuroportALIFModel(PyLoihiProcessModel):
    """The Vars and the recording of NeuroportALIF-shaped neurons; :meth:`neuron_step` is the neuron model's step.
    Undecorated (Lava lets a decorated ProcessModel implement one Process only, not be subclassed for another)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)
    dv: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=12)
    vth: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=17)
    da: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=12)
    a_inc: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    n_ref: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=8)
    v: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    a: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    r: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=8)
    z: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=1)
    v_rec: np.ndarray = LavaPyType(np.ndarray, np.int64)
    a_rec: np.ndarray = LavaPyType(np.ndarray, np.int64)
    z_rec: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def run_spk(self) -> None:
        spikes = self.neuron_step(self.a_in.recv().astype(np.int64))
        self.s_out.send(spikes)
        record(self, ("v", "a", "z"))

    def neuron_step(self, a_in: np.ndarray) -> np.ndarray:
        """One step of the neurons on the model's Vars; returns the spikes (bool)."""
        raise NotImplementedError


@implements(proc=NeuroportALIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyNeuroportALIFModelFixed(AbstractNeuroportALIFModel):
    def neuron_step(self, a_in: np.ndarray) -> np.ndarray:
        return alif_step(self, a_in)


def alif_step(model, a_in: np.ndarray) -> np.ndarray:
    """One ALIF step on the model's Vars (module docstring); returns the spikes (bool)."""
    vth_scaled = model.vth << SHIFT
    model.r[:] = np.maximum(model.r - 1, 0)
    model.v[:] = saturate_signed(decay12(model.v, model.dv) + (a_in << SHIFT) - model.z * vth_scaled, STATE_BITS)[0]
    model.a[:] = saturate_signed(decay12(model.a, model.da) + model.z * model.a_inc, STATE_BITS)[0]
    spikes = (model.v >= vth_scaled + model.a) & (model.r == 0)
    model.r[:] = np.where(spikes, model.n_ref, model.r)
    model.z[:] = spikes
    return spikes


def record(model, names: tuple[str, ...]) -> None:
    """Copy the Vars ``names`` into row ``time_step − 1`` of their ``<name>_rec`` tables (while rows last)."""
    row = model.time_step - 1
    for name in names:
        table = getattr(model, f"{name}_rec")
        if row < table.shape[0]:
            table[row] = getattr(model, name)
