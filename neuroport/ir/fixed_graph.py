"""The fixed-point IR: integer parameters in the hardware's own units and field names.

A FixedGraph is one recurrent layer (the FloatGraph's populations concatenated) with three Dense connections,
as it is placed on a Loihi-style chip:

    input ──Dense(w_in)──► neurons ──Dense(w_rec)──► neurons ──Dense(w_out)──► readout

Units (Loihi profile, Lava's conventions): a Dense delivers ``a_in = shift(Σ W s, weight_exp)`` and the neuron
adds ``a_in << act_shift`` (6) to its voltage; thresholds are compared as ``vth << vth_shift`` (6); decays are
12-bit (``dv``: v ← v·(4096 − dv) >> 12).  One float voltage unit is ``v_scale`` integer voltage units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIXED_FORMAT_VERSION = 1
NEURON_KINDS = ("alif", "lava_lif")


@dataclass(frozen=True, eq=False)
class FixedDense:
    """Integer weight mantissas (n_target, n_source) as the hardware stores them, and the shared exponent."""

    weights: np.ndarray  # int64 mantissas, already clipped/truncated as the target does
    mask: np.ndarray  # bool: synapse exists
    weight_exp: int
    num_weight_bits: int = 8
    delays: np.ndarray | None = None  # int64 steps ≥ 1 per synapse (n_target, n_source); None: all 1 (plain Dense)

    @property
    def n_synapses(self) -> int:
        return int(np.count_nonzero(self.mask))

    @property
    def max_delay(self) -> int:
        """Largest synaptic delay in steps (1 for a plain Dense): the ring buffer's number of slots."""
        return 1 if self.delays is None else int(self.delays.max(initial=1))


@dataclass(frozen=True, eq=False)
class FixedNeurons:
    """The recurrent layer; per-neuron integer arrays of shape (n,).

    kind 'alif' (neuroport's Loihi-style neuron; LIF when ``a_inc`` = 0), per step:
        v ← sat24(decay12(v, dv) + (a_in << 6) − z[t−1] · (vth << 6))        reset by subtraction
        a ← sat24(decay12(a, da) + z[t−1] · a_inc)                             threshold adaptation
        r ← max(r − 1, 0);  z = [v ≥ (vth << 6) + a] · [r = 0];  r ← n_ref where z
    kind 'lava_lif' (Lava's own LIF, bit for bit), per step:
        u ← wrap24(decay12(u, du + 1) + (a_in << 6));  v ← sat24(decay12(v, dv) + u + bias)
        z = [v > vth << 6];  v ← 0 where z
    """

    kind: str
    dv: np.ndarray
    vth: np.ndarray
    da: np.ndarray
    a_inc: np.ndarray
    n_ref: np.ndarray
    du: np.ndarray
    bias: np.ndarray  # bias_mant << bias_exp, already applied
    populations: tuple[tuple[str, str, int, int], ...]  # (name, float model, start, stop)

    @property
    def size(self) -> int:
        return int(self.vth.shape[0])


@dataclass(frozen=True, eq=False)
class FixedReadout:
    """Leaky integrating readout, per unit: y ← sat24(decay12(y, dy) + (a_in << 6)); no spikes."""

    dy: np.ndarray


@dataclass(frozen=True, eq=False)
class FixedGraph:
    name: str
    profile: str  # numeric profile: 'loihi'
    hw_name: str
    hw_sha256: str
    dt_ms: float
    neurons: FixedNeurons
    readout: FixedReadout
    w_in: FixedDense
    w_rec: FixedDense
    w_out: FixedDense
    v_scale: float  # integer voltage units per float voltage unit
    loss: str
    version: int = FIXED_FORMAT_VERSION

    @property
    def n_in(self) -> int:
        return int(self.w_in.weights.shape[1])

    @property
    def n_rec(self) -> int:
        return self.neurons.size

    @property
    def n_out(self) -> int:
        return int(self.w_out.weights.shape[0])

    def dense(self) -> dict[str, FixedDense]:
        return {"w_in": self.w_in, "w_rec": self.w_rec, "w_out": self.w_out}
