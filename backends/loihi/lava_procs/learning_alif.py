"""The e-prop learning neuron as a Lava Process (fixed_pt): neuroport's ALIF plus the two post-synaptic factors it
sends to its LearningDense synapses, equal to :class:`neuroport.emulator.onchip.OnChipTrainer` bit for bit.

Per step, integers (after the ALIF step of :mod:`.alif`):
    ψ = max(0, 127 − ((|v − (vth << 6) − a| · psi_mult) >> 16)) · [z ∨ r = 0]       surrogate derivative → y1
    L = clip((a_third >> l_shift) + R · window[row], ±127)                          learning signal      → y2
    y3 = ψ · alif_y3                                                                ALIF eligibility factor
``a_third`` is the readout's graded error of the previous step through the 8-bit feedback Dense(B).  With rate
regularization on (reg = (target, shift, 1)): r̄ ← r̄ + (z << 7) − (r̄ >> 8),  R = (r̄ − target) >> shift;
``window`` (a host-written table, one row per step) gates R to the steps whose error arrives.
Lava's ``LearningLIF`` models neither read a third factor nor send traces, hence this process.
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
from neuroport.backends.loihi.lava_procs.alif import SHIFT, alif_step, record

PSI_MAX = 127
PSI_SHIFT = 16
MESSAGE_MAX = 127  # 7-bit trace values plus sign
RATE_TAU_SHIFT = 8  # the rate trace's τ = 256 steps
RATE_IMPULSE_SHIFT = 7


class NeuroportLearningALIF(AbstractProcess):
    """n ALIF neurons that send ψ and L on ``s_out_y1`` / ``s_out_y2``; tables (``window``) have ``n_steps`` rows;
    records z of the first ``record_steps`` steps (default: all)."""

    def __init__(self, *, dv, vth, da, a_inc, n_ref, psi_mult, l_shift: int, n_steps: int, alif_y3=None,
                 reg=(0, 0, 0), window=None, record_steps: int | None = None, **kwargs) -> None:
        n = len(vth)
        super().__init__(shape=(n,), **kwargs)
        self.a_in = InPort(shape=(n,))
        self.a_third = InPort(shape=(n,))
        self.s_out = OutPort(shape=(n,))
        self.s_out_y1, self.s_out_y2, self.s_out_y3 = OutPort(shape=(n,)), OutPort(shape=(n,)), OutPort(shape=(n,))
        for name, value in (("dv", dv), ("vth", vth), ("da", da), ("a_inc", a_inc), ("n_ref", n_ref), ("psi_mult", psi_mult)):
            setattr(self, name, Var(shape=(n,), init=np.asarray(value, dtype=np.int64)))
        self.l_shift = Var(shape=(1,), init=int(l_shift))
        self.alif_y3 = Var(shape=(n,), init=np.zeros(n, np.int64) if alif_y3 is None else np.asarray(alif_y3, np.int64))
        self.reg = Var(shape=(3,), init=np.asarray(reg, dtype=np.int64))
        self.window = Var(shape=(n_steps,), init=np.ones(n_steps, np.int64) if window is None else np.asarray(window, np.int64))
        self.rate = Var(shape=(n,), init=np.zeros(n, dtype=np.int64))
        for name in ("v", "a", "r", "z"):
            setattr(self, name, Var(shape=(n,), init=np.zeros(n, dtype=np.int64)))
        rows = n_steps if record_steps is None else max(record_steps, 1)  # Lava wants no empty Var
        self.z_rec = Var(shape=(rows, n), init=np.zeros((rows, n), dtype=np.int64))


@implements(proc=NeuroportLearningALIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyNeuroportLearningALIFModelFixed(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_third: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    dv: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=12)
    vth: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=17)
    da: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=12)
    a_inc: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    n_ref: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=8)
    psi_mult: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    l_shift: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=5)
    alif_y3: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=1)
    reg: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    window: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=1)
    rate: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    v: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    a: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    r: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=8)
    z: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=1)
    z_rec: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def run_spk(self) -> None:
        spikes = alif_step(self, self.a_in.recv().astype(np.int64))
        third = self.a_third.recv().astype(np.int64)
        free = spikes | (self.r == 0)
        distance = np.abs(self.v - (self.vth << SHIFT) - self.a)
        psi = np.maximum(0, PSI_MAX - ((distance * self.psi_mult) >> PSI_SHIFT)) * free
        learning_signal = np.clip((third >> int(self.l_shift[0])) + self._rate_term(spikes), -MESSAGE_MAX, MESSAGE_MAX)
        self.s_out.send(spikes)
        self.s_out_y1.send(psi)
        self.s_out_y2.send(learning_signal)
        self.s_out_y3.send(psi * self.alif_y3)
        record(self, ("z",))

    def _rate_term(self, spikes: np.ndarray) -> np.ndarray | int:
        target, shift, enabled = (int(v) for v in self.reg)
        if not enabled:
            return 0
        self.rate[:] = self.rate + (spikes.astype(np.int64) << RATE_IMPULSE_SHIFT) - (self.rate >> RATE_TAU_SHIFT)
        row = min(self.time_step - 1, self.window.shape[0] - 1)
        return ((self.rate - target) >> shift) * self.window[row]
