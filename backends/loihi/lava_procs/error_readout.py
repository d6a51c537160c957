"""The e-prop readout as a Lava Process (fixed_pt): the leaky readout of :mod:`.readout` that also computes its
graded error against a target table, equal to :class:`neuroport.emulator.onchip.OnChipTrainer` bit for bit.

Per step τ (1-based ``time_step``; row = τ − 1 of the tables the host wrote):
    y  ← sat24(decay12(y, dy) + (a_in << 6))
    ẽ  = clip((π(y) − target[row]) >> err_shift, ±127) · active[row]   → s_err (graded) → Dense(B) → neurons
    y1 = ẽ >> out_err_shift                                              → the readout's own LearningDense
π(y) = y (MSE error), or with ``softmax_unit`` u > 0 the hard softmax clip(u/K + ((y_k − ⌊Σ y / K⌋) >> 1), 0, u).
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
from neuroport.backends.loihi.lava_procs.readout import SHIFT, STATE_BITS

from neuroport.numerics import decay12, saturate_signed

MESSAGE_MAX = 127


class NeuroportErrorReadout(AbstractProcess):
    """``targets`` (n_steps, k) integers and ``active`` (n_steps,) 0/1: the error is sent where active."""

    def __init__(self, *, dy, targets, active, err_shift: int, out_err_shift: int, softmax_unit: int = 0, **kwargs) -> None:
        k = len(dy)
        n_steps = len(active)
        super().__init__(shape=(k,), **kwargs)
        self.a_in = InPort(shape=(k,))
        self.s_err = OutPort(shape=(k,))
        self.s_out_y1, self.s_out_y2, self.s_out_y3 = OutPort(shape=(k,)), OutPort(shape=(k,)), OutPort(shape=(k,))
        self.dy = Var(shape=(k,), init=np.asarray(dy, dtype=np.int64))
        self.targets = Var(shape=(n_steps, k), init=np.asarray(targets, dtype=np.int64))
        self.active = Var(shape=(n_steps,), init=np.asarray(active, dtype=np.int64))
        self.shifts = Var(shape=(3,), init=np.array([err_shift, out_err_shift, softmax_unit], dtype=np.int64))
        self.y = Var(shape=(k,), init=np.zeros(k, dtype=np.int64))
        self.y_rec = Var(shape=(n_steps, k), init=np.zeros((n_steps, k), dtype=np.int64))


@implements(proc=NeuroportErrorReadout, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyNeuroportErrorReadoutModelFixed(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_err: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=8)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    dy: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=12)
    targets: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    active: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=1)
    shifts: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=5)
    y: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    y_rec: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def run_spk(self) -> None:
        a_in = self.a_in.recv().astype(np.int64)
        self.y[:] = saturate_signed(decay12(self.y, self.dy) + (a_in << SHIFT), STATE_BITS)[0]
        row = min(self.time_step - 1, self.active.shape[0] - 1)
        err_shift, out_err_shift, unit = (int(s) for s in self.shifts)
        scored = self.y
        if unit:
            k = self.y.shape[0]
            scored = np.clip(unit // k + ((self.y - self.y.sum() // k) >> 1), 0, unit)
        err = np.clip((scored - self.targets[row]) >> err_shift, -MESSAGE_MAX, MESSAGE_MAX) * self.active[row]
        self.s_err.send(err)
        self.s_out_y1.send(err >> out_err_shift)
        self.s_out_y2.send(np.zeros_like(err))
        self.s_out_y3.send(np.zeros_like(err))
        self.y_rec[row] = self.y
