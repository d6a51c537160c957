"""A post-synaptic stand-in that sends given y1, y2, y3 values to a LearningDense every step (fixed_pt).

Used to check the learning engine on its own: step t (1-based) sends row t − 1 of each table on s_out_y1..3,
and swallows the Dense output on a_in.
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


class YTraceSource(AbstractProcess):
    def __init__(self, *, y: np.ndarray, **kwargs) -> None:
        """``y``: (3, n_steps, n_post) integers."""
        n = y.shape[2]
        super().__init__(shape=(n,), **kwargs)
        self.a_in = InPort(shape=(n,))
        self.s_out_y1, self.s_out_y2, self.s_out_y3 = OutPort(shape=(n,)), OutPort(shape=(n,)), OutPort(shape=(n,))
        self.y = Var(shape=y.shape, init=np.asarray(y, dtype=np.int32))


@implements(proc=YTraceSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyYTraceSourceModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    y: np.ndarray = LavaPyType(np.ndarray, np.int32)

    def run_spk(self) -> None:
        self.a_in.recv()
        row = min(self.time_step - 1, self.y.shape[1] - 1)
        self.s_out_y1.send(self.y[0, row])
        self.s_out_y2.send(self.y[1, row])
        self.s_out_y3.send(self.y[2, row])
