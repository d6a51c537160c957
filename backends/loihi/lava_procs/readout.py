"""Leaky integrating readout as a Lava Process (fixed_pt), the emulator's ``FixedReadout`` bit for bit.

Per step, integers:  y ← sat24(decay12(y, dy) + (a_in << 6)).  No spikes; ``y_rec`` records every step.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neuroport.numerics import decay12, saturate_signed

SHIFT = 6
STATE_BITS = 24


class NeuroportReadout(AbstractProcess):
    def __init__(self, *, dy, n_steps: int, **kwargs) -> None:
        k = len(dy)
        super().__init__(shape=(k,), **kwargs)
        self.a_in = InPort(shape=(k,))
        self.dy = Var(shape=(k,), init=np.asarray(dy, dtype=np.int64))
        self.y = Var(shape=(k,), init=np.zeros(k, dtype=np.int64))
        self.y_rec = Var(shape=(n_steps, k), init=np.zeros((n_steps, k), dtype=np.int64))


@implements(proc=NeuroportReadout, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyNeuroportReadoutModelFixed(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    dy: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=12)
    y: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    y_rec: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def run_spk(self) -> None:
        a_in = self.a_in.recv().astype(np.int64)
        self.y[:] = saturate_signed(decay12(self.y, self.dy) + (a_in << SHIFT), STATE_BITS)[0]
        row = self.time_step - 1
        if row < self.y_rec.shape[0]:
            self.y_rec[row] = self.y
