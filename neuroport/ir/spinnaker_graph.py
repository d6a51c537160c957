"""The SpiNNaker fixed-point IR: sPyNNaker's ``IF_curr_delta`` words (ISO/IEC TR 18037 ``accum``, s16.15) and its
16-bit synaptic weight magnitudes, split by receptor.

Layout, as it is placed on SpiNNaker (one PyNN population per box, one projection per arrow and receptor):

    input ──exc/inh──► recurrent ──exc/inh──► recurrent ──exc/inh──► readout

Units: a state word ``x`` (int64 holding an s16.15 value) means ``x / 2^15`` mV; one float voltage unit of the
model is ``v_scale`` words (``v_scale = 2^15 · mV per float unit``).  A synapse of receptor ``r`` into population
``p`` stores ``round(|w| · 2^(15 − s))`` with the shift ``s`` of (p, r): one LSB is ``2^(s − 15)`` nA
(``weight_exp = s − 15``), and the chip adds ``ring_buffer << s`` to the s16.15 synaptic input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neuroport.mapping import MaskView  # the synapses of one matrix, whatever the receptor

SPINNAKER_FORMAT_VERSION = 1
RECEPTORS = ("excitatory", "inhibitory")


@dataclass(frozen=True, eq=False)
class SpiNNakerProjection:
    """One PyNN projection: one source, one target, one receptor; magnitudes (n_target, n_source)."""

    name: str  # "w_in_exc", "w_rec_inh", ...
    dense: str  # the FloatGraph matrix it comes from: "w_in", "w_rec" or "w_out"
    receptor: str  # "excitatory" or "inhibitory"
    weights: np.ndarray  # int64 stored magnitudes in [0, 2^16 − 1]
    mask: np.ndarray  # bool: the synapse exists in this projection
    shift: int  # ring_buffer_to_input_left_shift of (target, receptor)
    delay_steps: int = 1
    num_weight_bits: int = 16

    @property
    def weight_exp(self) -> int:
        """One stored LSB is 2^weight_exp nA (sPyNNaker: weight_scale = 2^(15 − s))."""
        return self.shift - 15

    @property
    def n_synapses(self) -> int:
        return int(np.count_nonzero(self.mask))

    @property
    def sign(self) -> int:
        return 1 if self.receptor == "excitatory" else -1


@dataclass(frozen=True, eq=False)
class SpiNNakerNeurons:
    """Per-neuron words of a population of IF_curr_delta neurons (shape (n,), int64 s16.15 unless noted).

    ``params_*`` are the PyNN parameters written to the board (each exactly an s16.15 value, so sPyNNaker's
    encoding is lossless); ``exp_tc``, ``r_membrane`` and ``t_refract`` are what the chip derives from them
    (see :mod:`neuroport.emulator.spinnaker`).  ``rho`` / ``b_inc`` describe neuroport's custom adaptive threshold
    (ALIF), which stock sPyNNaker lacks; both are 0 for LIF neurons.
    """

    tau_m: np.ndarray  # ms
    cm: np.ndarray  # nF
    v_rest: np.ndarray  # mV
    v_reset: np.ndarray  # mV
    v_thresh: np.ndarray  # mV
    tau_refrac: np.ndarray  # ms
    exp_tc: np.ndarray  # expk(−kdivk(dt, tau_m)): per-step decay
    r_membrane: np.ndarray  # kdivk(tau_m, cm): MΩ
    t_refract: np.ndarray  # int steps: ceil(kdivk(tau_refrac, dt))
    rho: np.ndarray  # custom ALIF: threshold-adaptation decay (0 for LIF)
    b_inc: np.ndarray  # custom ALIF: threshold step per spike in mV words (0 for LIF)
    populations: tuple[tuple[str, str, int, int], ...]  # (name, float model, start, stop)
    cell: ClassVar[str] = "IF_curr_delta"  # the sPyNNaker model they are lowered to
    kinds: ClassVar[tuple[str, ...]] = ("lif",)  # float population kinds it runs exactly

    @property
    def size(self) -> int:
        return int(self.v_thresh.shape[0])


@dataclass(frozen=True, eq=False)
class SpiNNakerCa2Neurons(SpiNNakerNeurons):
    """Per-neuron words of sPyNNaker ``IF_curr_delta_ca2_adaptive`` neurons: the IF_curr_delta words and the calcium
    current's (additional_input_ca2_adaptive_impl.h, :mod:`neuroport.emulator.spinnaker_ca2`); ``rho``/``b_inc`` 0."""

    tau_ca2: np.ndarray  # ms
    i_alpha: np.ndarray  # nA: i_ca2 step per spike
    i_ca2: np.ndarray  # nA: initial calcium current (state variable)
    time_step: np.ndarray  # ms: the additional input's time_step parameter
    exp_tau_ca2: np.ndarray  # expk(−kdivk(time_step, tau_ca2)): per-step decay (on chip)
    cell: ClassVar[str] = "IF_curr_delta_ca2_adaptive"
    kinds: ClassVar[tuple[str, ...]] = ("lif_ca2_adaptive",)


@dataclass(frozen=True, eq=False)
class SpiNNakerIzhikevichNeurons:
    """Per-neuron words of sPyNNaker ``IZK_curr_exp`` neurons (shape (n,), int64 s16.15 unless noted): the PyNN
    parameters (each exactly an s16.15 value) and what the chip derives from them
    (:mod:`neuroport.emulator.spinnaker_izhikevich`)."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray  # mV
    d: np.ndarray
    v_init: np.ndarray  # mV
    u_init: np.ndarray
    i_offset: np.ndarray  # nA
    tau_syn: np.ndarray  # ms, tau_syn_E = tau_syn_I
    v_thresh: np.ndarray  # mV: IZK_curr_exp's static threshold, 30 mV
    reset_h: np.ndarray  # the RK2 step h = timestep (ms word)
    spike_h: np.ndarray  # h of the step after a spike: reset_h × 1.85k
    syn_decay: np.ndarray  # u0.32: expulr(−kdivk(ts, τ_syn))
    syn_init: np.ndarray  # u0.32: (kdivk(τ_syn, ts) × (1.0ulr − decay)) >> 15
    populations: tuple[tuple[str, str, int, int], ...]
    cell: ClassVar[str] = "IZK_curr_exp"
    kinds: ClassVar[tuple[str, ...]] = ("izhikevich",)

    @property
    def size(self) -> int:
        return int(self.v_thresh.shape[0])


@dataclass(frozen=True, eq=False)
class SpiNNakerGraph:
    """A quantized network for sPyNNaker; duck-types the parts of FixedGraph the pipeline reads."""

    name: str
    hw_name: str
    hw_sha256: str
    dt_ms: float
    neurons: SpiNNakerNeurons | SpiNNakerCa2Neurons | SpiNNakerIzhikevichNeurons
    readout: SpiNNakerNeurons
    projections: tuple[SpiNNakerProjection, ...]
    n_inputs: int
    v_scale: float  # s16.15 words per float voltage unit
    frac_bits: int  # 15
    state_bits: int  # 32
    overflow: str  # what the state words do at their limits: "saturate" or "wrap" (hw config)
    loss: str
    profile: str = "spinnaker"
    version: int = SPINNAKER_FORMAT_VERSION

    @property
    def n_in(self) -> int:
        return self.n_inputs

    @property
    def n_rec(self) -> int:
        return self.neurons.size

    @property
    def n_out(self) -> int:
        return self.readout.size

    @property
    def mv_per_unit(self) -> float:
        return self.v_scale / 2.0**self.frac_bits

    def dense(self) -> dict[str, SpiNNakerProjection]:
        return {p.name: p for p in self.projections}

    def of(self, dense: str) -> tuple[SpiNNakerProjection, ...]:
        return tuple(p for p in self.projections if p.dense == dense)

    def _shape(self, dense: str) -> tuple[int, int]:
        return {"w_in": (self.n_rec, self.n_in), "w_rec": (self.n_rec, self.n_rec), "w_out": (self.n_out, self.n_rec)}[dense]

    def _union(self, dense: str) -> MaskView:
        """The synapses of a matrix over its receptors (all False for a matrix without projections)."""
        return MaskView(np.logical_or.reduce([np.zeros(self._shape(dense), dtype=bool), *(p.mask for p in self.of(dense))]))

    @property
    def w_in(self) -> MaskView:
        return self._union("w_in")

    @property
    def w_rec(self) -> MaskView:
        return self._union("w_rec")

    @property
    def w_out(self) -> MaskView:
        return self._union("w_out")

    def weights_na(self, dense: str) -> np.ndarray:
        """The signed weights the board holds, in nA: Σ over receptors of sign · stored · 2^weight_exp."""
        return sum((p.sign * p.weights * 2.0**p.weight_exp for p in self.of(dense)), np.zeros(self._shape(dense)))
