"""Izhikevich neuron program as a Lava Process (fixed_pt), the emulator's ``FixedNeurons(kind='izhikevich')`` bit for
bit (neuroport.emulator.fixed_izhikevich has the equations and bounds).

Per step, integers (F = 20, rnd_F(x) = (x + 2^(F−1)) >> F, k = sq_shift):
    sq = (v · v + 2^(k−1)) >> k
    v' = sat24(v + rnd_F(p2 · sq + p1 · v − pu · u) + c0 + (a_in << 6));   u' = sat24(u + rnd_F(pab · v − pa · u))
    z  = [v' ≥ vth << 6];   v ← c where z else v';   u ← sat24(u' + d · z)
A neuron whose ``started`` flag is 0 — the first step of a run, or of a sample after the host zeroed the states —
loads v ← v0, u ← u0 instead and sends no spike: that is the chip's pipeline-fill step, in which the Dense has
nothing to deliver yet (the runner's LATENCY_OFFSET_STEPS), so the program's first integrating step is the
emulator's step 0.  ``*_rec`` Vars record v, u and z of every step (rows = time step).
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
from neuroport.backends.loihi.lava_procs.alif import record

from neuroport.numerics import saturate_signed

SHIFT = 6  # act_shift = vth_shift = 6
STATE_BITS = 24
FRAC = 20
WORDS = ("vth", "p2", "p1", "pu", "c0", "pab", "pa", "c", "d", "sq_shift", "v0", "u0")  # FixedNeurons: izh_<word>, vth


class NeuroportIzhikevich(AbstractProcess):
    """n Izhikevich neurons with per-neuron integer words ``WORDS`` (keyword arguments); records ``n_steps`` steps."""

    def __init__(self, *, n_steps: int, **words) -> None:
        n = len(words["vth"])
        super().__init__(shape=(n,))
        self.a_in = InPort(shape=(n,))
        self.s_out = OutPort(shape=(n,))
        for name in WORDS:
            setattr(self, name, Var(shape=(n,), init=np.asarray(words[name], dtype=np.int64)))
        for name in ("v", "u", "z", "started"):
            setattr(self, name, Var(shape=(n,), init=np.zeros(n, dtype=np.int64)))
        for name in ("v_rec", "u_rec", "z_rec"):
            setattr(self, name, Var(shape=(n_steps, n), init=np.zeros((n_steps, n), dtype=np.int64)))


@implements(proc=NeuroportIzhikevich, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyNeuroportIzhikevichModelFixed(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)
    vth: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=17)
    p2: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=20)
    p1: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    pu: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    c0: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    pab: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    pa: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    c: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    d: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    sq_shift: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=5)
    v0: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    u0: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    v: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    u: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    z: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=1)
    started: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=1)
    v_rec: np.ndarray = LavaPyType(np.ndarray, np.int64)
    u_rec: np.ndarray = LavaPyType(np.ndarray, np.int64)
    z_rec: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def run_spk(self) -> None:
        spikes = izhikevich_step(self, self.a_in.recv().astype(np.int64))
        self.s_out.send(spikes)
        record(self, ("v", "u", "z"))


def izhikevich_step(model, a_in: np.ndarray) -> np.ndarray:
    """One step on the model's Vars (module docstring), or the load of v0, u0 where not started; returns z (bool)."""
    v, u = model.v.copy(), model.u.copy()
    rnd = lambda x: (x + (1 << (FRAC - 1))) >> FRAC  # noqa: E731
    sq = (v * v + (np.int64(1) << (model.sq_shift - 1))) >> model.sq_shift
    v_new = saturate_signed(v + rnd(model.p2 * sq + model.p1 * v - model.pu * u) + model.c0 + (a_in << SHIFT),
                            STATE_BITS)[0]
    u_new = saturate_signed(u + rnd(model.pab * v - model.pa * u), STATE_BITS)[0]
    started = model.started != 0
    spikes = (v_new >= (model.vth << SHIFT)) & started
    model.v[:] = np.where(started, np.where(spikes, model.c, v_new), model.v0)
    model.u[:] = np.where(started, saturate_signed(u_new + spikes * model.d, STATE_BITS)[0], model.u0)
    model.started[:] = 1
    model.z[:] = spikes
    return spikes
