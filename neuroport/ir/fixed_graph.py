"""The fixed-point IR: integer parameters in the hardware's own units and field names.

A FixedGraph is one recurrent layer (the FloatGraph's populations concatenated) with three Dense connections,
as it is placed on a Loihi-style chip:

    input ──Dense(w_in)──► neurons ──Dense(w_rec)──► neurons ──Dense(w_out)──► readout

Units (Loihi profile, Lava's conventions): a Dense delivers ``a_in = shift(Σ W s, weight_exp)`` and the neuron
adds ``a_in << act_shift`` (6) to its voltage; thresholds are compared as ``vth << vth_shift`` (6); decays are
12-bit (``dv``: v ← v·(4096 − dv) >> 12).  One float voltage unit is ``v_scale`` integer voltage units.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from neuroport.ir.synapses import INDEX_DTYPE, Synapses

FIXED_FORMAT_VERSION = 1
NEURON_KINDS = ("alif", "lava_lif", "izhikevich", "eprop_plus")
IZH_FIELDS = ("izh_p2", "izh_p1", "izh_pu", "izh_c0", "izh_pab", "izh_pa", "izh_c", "izh_d", "izh_sq_shift", "izh_v0",
              "izh_u0")  # the integer words of kind 'izhikevich' (neuroport.emulator.fixed_izhikevich)


@dataclass(frozen=True, eq=False)
class FixedDense:
    """Integer weight mantissas as the hardware stores them, and the shared exponent, in one of two forms:
    dense — ``weights`` (n_target, n_source) and ``mask``; sparse — ``synapses``, a
    :class:`~neuroport.ir.synapses.Synapses` list with int16 mantissas (memory ∝ synapses).  Code that needs
    matrices reads :meth:`dense_weights` / :meth:`dense_mask`; code that scales reads :meth:`synapse_list`."""

    weights: np.ndarray | None  # int64 mantissas, already clipped/truncated as the target does (dense form)
    mask: np.ndarray | None  # bool: synapse exists (dense form)
    weight_exp: int
    num_weight_bits: int = 8
    delays: np.ndarray | None = None  # int64 steps ≥ 1 per synapse (n_target, n_source); None: all 1 (plain Dense)
    synapses: Synapses | None = None  # sparse form (delays, if any, per synapse in synapses.delays)

    @property
    def is_sparse(self) -> bool:
        return self.synapses is not None

    @property
    def shape(self) -> tuple[int, int]:
        """(n_target, n_source)."""
        return tuple(self.synapses.shape) if self.is_sparse else tuple(self.weights.shape)

    @property
    def n_synapses(self) -> int:
        return self.synapses.n_synapses if self.is_sparse else int(np.count_nonzero(self.mask))

    @property
    def max_delay(self) -> int:
        """Largest synaptic delay in steps (1 for a plain Dense): the ring buffer's number of slots."""
        delays = self.synapses.delays if self.is_sparse else self.delays
        return 1 if delays is None else int(delays.max(initial=1))

    def dense_weights(self) -> np.ndarray:
        """(n_target, n_source) int64 mantissas, 0 where no synapse exists."""
        return self.synapses.dense().astype(np.int64) if self.is_sparse else self.weights

    def dense_mask(self) -> np.ndarray:
        return self.synapses.dense_mask() if self.is_sparse else self.mask

    def dense_delays(self) -> np.ndarray | None:
        """(n_target, n_source) int64 delays in steps (1 where no synapse exists), or None when all are 1."""
        if not self.is_sparse:
            return self.delays
        if self.synapses.delays is None:
            return None
        return np.where(self.dense_mask(), self.synapses.dense(self.synapses.delays.astype(np.int64)), 1)

    def to_dense(self) -> FixedDense:
        """The same Dense in the dense form (for small networks and the engines that need matrices)."""
        if not self.is_sparse:
            return self
        return FixedDense(weights=self.dense_weights(), mask=self.dense_mask(), weight_exp=self.weight_exp,
                          num_weight_bits=self.num_weight_bits, delays=self.dense_delays())

    def synapse_list(self) -> Synapses:
        """The synapses (int16 mantissas) in canonical order, from either form."""
        if self.is_sparse:
            return self.synapses
        targets, sources = np.nonzero(self.mask)
        delays = None if self.delays is None else self.delays[targets, sources].astype(np.int16)
        return Synapses(self.weights.shape, targets.astype(INDEX_DTYPE), sources.astype(INDEX_DTYPE),
                        self.weights[targets, sources].astype(np.int16), delays)

    def events_per_target(self, source_events: np.ndarray) -> np.ndarray:
        """Synaptic events arriving at each target, (n_target,) int64, for ``source_events`` spikes per source."""
        if not self.is_sparse:
            return self.mask.astype(np.int64) @ source_events
        syn = self.synapses
        counts = np.bincount(syn.targets, weights=np.asarray(source_events, np.float64)[syn.sources], minlength=syn.shape[0])
        return np.rint(counts).astype(np.int64)


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
    kind 'eprop_plus' (the e-prop+ neuron, NEST's eprop_iaf(_adapt): the reset in the spike step), per step:
        r ← max(r − 1, 0);  v ← sat24(decay12(v, dv) + (a_in << 6));  a ← sat24(decay12(a, da) + z[t−1] · a_inc)
        z = [v ≥ (vth << 6) + a] · [r = 0];  v ← v − z · (vth << 6);  r ← n_ref where z
    kind 'izhikevich' (a Loihi 2 neuron program; the ``izh_*`` words, equations and overflow rules in
    :mod:`neuroport.emulator.fixed_izhikevich`): v, u start at izh_v0, izh_u0; forward Euler in integers, a spike
    where v ≥ vth << 6 (the 30 mV peak), then v ← izh_c, u ← sat24(u + izh_d).  Its ALIF fields are unused
    (dv, da, a_inc, n_ref, bias 0; du 4095).
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
    izh_p2: np.ndarray | None = None  # kind 'izhikevich' only (IZH_FIELDS): None for the other kinds
    izh_p1: np.ndarray | None = None
    izh_pu: np.ndarray | None = None
    izh_c0: np.ndarray | None = None
    izh_pab: np.ndarray | None = None
    izh_pa: np.ndarray | None = None
    izh_c: np.ndarray | None = None
    izh_d: np.ndarray | None = None
    izh_sq_shift: np.ndarray | None = None
    izh_v0: np.ndarray | None = None
    izh_u0: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.vth.shape[0])

    def initial(self, state: str) -> np.ndarray:
        """The value (n,) int64 state ``state`` ('v' or 'u') starts from: izh_v0 / izh_u0 for kind 'izhikevich',
        0 for the other kinds."""
        start = getattr(self, f"izh_{state}0", None)
        return np.zeros(self.size, dtype=np.int64) if start is None else np.asarray(start, dtype=np.int64)


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
        return int(self.w_in.shape[1])

    @property
    def n_rec(self) -> int:
        return self.neurons.size

    @property
    def n_out(self) -> int:
        return int(self.w_out.shape[0])

    def dense(self) -> dict[str, FixedDense]:
        return {"w_in": self.w_in, "w_rec": self.w_rec, "w_out": self.w_out}

    @property
    def is_sparse(self) -> bool:
        """Whether the connections are in the sparse form (then the sparse engines run it)."""
        return any(d.is_sparse for d in self.dense().values())

    def to_dense(self) -> FixedGraph:
        """The same graph with every Dense in the dense form."""
        return replace(self, **{name: d.to_dense() for name, d in self.dense().items()})
