"""Loihi profile: FloatGraph + HwConfig → FixedGraph, in the conventions of Lava's fixed_pt models (lava-nc 0.10.0:
lava/proc/lif/models.py, lava/proc/dense/models.py, lava/utils/weightutils.py).

Scales (one float voltage unit = ``v_scale`` integer units; thresholds of every population map into the vth field):
    v_scale   = 2^k, the largest power of two with peak · v_scale ≤ 2^23 · CALIBRATION_MARGIN, where peak is the
                largest |v|, |threshold| or |readout| of float runs on calibration data (else 16 × max v_th),
                and max(v_th) · v_scale ≤ vth_max << 6
    vth       = max(1, round(v_th · v_scale / 64))                                  threshold = vth << 6
                (a vth of 0 would fire at rest in every step, the idle first step of the chip's pipeline
                included, so it is raised to 1: the quantization report counts these thresholds)
    dv, dy    = round(4096 · (1 − exp(−dt/τ)))                                      12-bit decays (τ_m, τ_out)
    da        = round(4096 · (1 − exp(−dt/τ_a)))                                    ALIF adaptation decay
    a_inc     = round(β · v_scale)                                                 threshold step per spike
    weights   = round(w · v_scale / 2^(6 + weight_exp)), weight_exp per Dense the one with the least squared
                error among the smallest that fits every |w| and the two below it (which clip the tail);
                mixed-sign 8-bit mantissas are even (Lava truncates the LSB): [−256, 254]
    n_ref     = round(t_ref / dt)

The neuron kind follows the learning variant (:data:`VARIANT_PROFILES`): 'alif' (bsshslm_2020: the reset one step
after the spike) or, for e-prop+, 'eprop_plus' with the same integers and the reset in the spike step
(:mod:`neuroport.quantization.loihi_eprop_plus`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import numpy as np
from neuroport.quantization.loihi_eprop_plus import KIND as EPROP_PLUS_KIND
from neuroport.quantization.loihi_eprop_plus import plus_calibration_peak, refuse_eprop_plus_network

from neuroport.errors import UnsupportedError
from neuroport.hw import HwConfig
from neuroport.ir.fixed_graph import FixedDense, FixedGraph, FixedNeurons, FixedReadout
from neuroport.ir.float_graph import LIF_KINDS, FloatGraph
from neuroport.ir.network import MATRICES, Network, assemble, folded_lists, has_delays, neuron_fields, sparse_matrices
from neuroport.ir.synapses import Synapses
from neuroport.numerics import DECAY_UNITY, round_half_away, truncate_lsbs

MAX_MAGNITUDE_BITS = 8  # Lava's Dense clips weights to 8 bits before truncating
HEADROOM = 16  # without calibration: the voltage range is 16 × the highest threshold
EXPONENT_SEARCH = 2  # weight exponents below the one that fits every weight that quantize_dense tries
CALIBRATION_MARGIN = 0.5  # with calibration: the largest float value seen uses at most half the range
MIN_VTH = 1  # the smallest threshold mantissa: vth = 0 makes v = 0 ≥ 0 a spike at rest (FixedNeurons' rule)


def threshold_mantissas(v_th: np.ndarray, v_scale: float, vth_shift: int) -> tuple[np.ndarray, int]:
    """vth = max(MIN_VTH, round(v_th · v_scale / 2^vth_shift)) and how many thresholds were raised to MIN_VTH:
    those far below the largest threshold, which (with the 24-bit v) sets v_scale."""
    rounded = round_half_away(np.asarray(v_th) * v_scale / 2.0**vth_shift)
    return np.maximum(rounded, MIN_VTH), int(np.count_nonzero(rounded < MIN_VTH))


def sign_mode(weights: np.ndarray) -> str:
    """Lava's determine_sign_mode: 'excitatory' (all ≥ 0), 'inhibitory' (all ≤ 0) or 'mixed'."""
    if np.all(weights >= 0):
        return "excitatory"
    if np.all(weights <= 0):
        return "inhibitory"
    return "mixed"


def lava_dense_weights(weights: np.ndarray, num_weight_bits: int = 8, mode: str | None = None) -> np.ndarray:
    """The weights a Lava ``Dense`` (fixed_pt) actually uses: clip to 8 bits by sign mode, then drop
    ``8 − num_weight_bits + [mixed]`` LSBs — so mixed-sign 8-bit weights are even-only (3 → 2, −3 → −4)."""
    w = np.asarray(weights, dtype=np.int64)
    mode = mode or sign_mode(w)
    if mode == "inhibitory":
        w = -np.clip(-w, 0, 255)
        return -truncate_lsbs(-w, MAX_MAGNITUDE_BITS - num_weight_bits)
    if mode == "excitatory":
        return truncate_lsbs(np.clip(w, 0, 255), MAX_MAGNITUDE_BITS - num_weight_bits)
    return truncate_lsbs(np.clip(w, -256, 255), MAX_MAGNITUDE_BITS - num_weight_bits + 1)


def decay_constant(tau_ms: np.ndarray, dt_ms: float) -> np.ndarray:
    """12-bit decay d with v ← v (4096 − d) / 4096 ≈ exp(−dt/τ) v; τ = ∞ gives 0."""
    return np.clip(round_half_away(DECAY_UNITY * (1.0 - np.exp(-dt_ms / np.asarray(tau_ms)))), 0, DECAY_UNITY - 1)


def choose_v_scale(net: Network, hw: HwConfig, peak: float | None = None) -> float:
    """The largest power of two that keeps every voltage-like state inside the 24-bit range and the threshold
    inside the vth field.  ``peak`` is the largest |v|, |A| or |y| seen in float calibration runs (kept at most
    ``1 / CALIBRATION_MARGIN`` of the range); without calibration, HEADROOM × the highest threshold."""
    top = peak / CALIBRATION_MARGIN if peak else HEADROOM * float(np.max(net.v_th))
    v_limit = 2.0 ** (hw.fmt("v").bits - 1) / top
    vth_limit = float(hw.param("vth_max") << hw.param("vth_shift")) / float(np.max(net.v_th))
    with np.errstate(divide="ignore"):  # a threshold too large for any scale gives 0: quantize reports the loss
        return float(2.0 ** np.floor(np.log2(min(v_limit, vth_limit))))


def _mantissas(scaled: np.ndarray, exp: int, bits: int, mode: str) -> np.ndarray:
    """Round to the nearest value Lava can store at ``exp`` (a multiple of its LSB step, so that Lava's own
    truncation toward −∞ is a no-op and adds no bias), clipped to the mantissa range."""
    step = 2 ** (MAX_MAGNITUDE_BITS - bits + (mode == "mixed"))
    mant = round_half_away(scaled / 2.0**exp / step) * step
    return lava_dense_weights(mant, bits, mode)


def quantize_values(w: np.ndarray, v_scale: float, hw: HwConfig, mode: str | None = None) -> tuple[np.ndarray, int, int]:
    """Mantissas (int64, same shape), weight_exp and weight bits for the weights ``w`` of the existing synapses
    of one Dense (a 1-D list, so dense and sparse forms quantize alike, memory ∝ synapses), in Lava's storage rule
    for sign ``mode`` (default: the weights' own, :func:`sign_mode`).

    The candidates are the smallest exponent whose mantissas hold the largest weight and up to
    ``EXPONENT_SEARCH`` smaller ones, which clip the few largest weights to halve, quarter … the rounding step of
    all others; the exponent with the least squared error over the synapses wins (trained weight matrices have
    long tails, where fitting the largest weight wastes most of the mantissa)."""
    bits = hw.fmt("weight").bits
    act_shift = hw.param("act_shift")
    scaled = w * v_scale / 2.0**act_shift  # value of a_in per unit mantissa at weight_exp = 0
    top = np.max(np.abs(scaled)) if scaled.size else 0.0
    limit = 2**MAX_MAGNITUDE_BITS - 2  # 254: Lava keeps 8-bit magnitudes and drops LSBs for fewer bits
    e_min, e_max = hw.param("weight_exp_min"), hw.param("weight_exp_max")
    fit = int(np.clip(np.ceil(np.log2(top / limit)) if top > 0 else e_min, e_min, e_max))
    mode = mode or sign_mode(w)

    best = None  # (squared error, −exponent, exponent, mantissas): the least error, ties to the larger exponent
    for exp in range(max(e_min, fit - EXPONENT_SEARCH), fit + 1):
        mant = _mantissas(scaled, exp, bits, mode)
        error = float(np.sum((mant * 2.0**exp - scaled) ** 2))
        if best is None or (error, -exp) < best[:2]:
            best = (error, -exp, exp, mant)
    return best[3].astype(np.int64), best[2], bits


def quantize_dense(w: np.ndarray, mask: np.ndarray, v_scale: float, hw: HwConfig, mode: str | None = None) -> FixedDense:
    """Pick weight_exp, round, and apply Lava's storage rule for sign ``mode`` (:func:`quantize_values` on the
    masked weights)."""
    values, exp, bits = quantize_values(w[mask], v_scale, hw, mode)
    mant = np.zeros(w.shape, dtype=np.int64)
    mant[mask] = values
    return FixedDense(weights=mant, mask=mask.copy(), weight_exp=exp, num_weight_bits=bits)


def quantize_synapses(syn: Synapses, v_scale: float, hw: HwConfig) -> FixedDense:
    """The sparse form of :func:`quantize_dense`: int16 mantissas per synapse, never a matrix."""
    values, exp, bits = quantize_values(syn.weights, v_scale, hw)
    return FixedDense(weights=None, mask=None, weight_exp=exp, num_weight_bits=bits,
                      synapses=replace(syn, weights=values.astype(np.int16)))


def learning_synapses(graph: FloatGraph, fixed: FixedGraph, hw: HwConfig) -> FixedGraph:
    """``fixed`` as on-chip learning holds it: every weight matrix quantized in mixed sign mode.

    Lava's learning synapses (``LearningDense`` / ``LearningSparse``, lava-nc 0.10.0) run in ``SignMode.MIXED``
    unless told otherwise, like a Loihi synapse whose learned weight may change sign — which e-prop needs (an
    excitatory or inhibitory sign mode would pin every weight at 0 instead of letting it cross).  Mixed mode
    keeps 9-bit learned weights in [−256, 255] but truncates the initial ones to even mantissas at the first step
    (``truncate_weights``: 8 − num_weight_bits + 1 LSBs); a single-sign matrix quantized for inference holds odd
    mantissas, so here every matrix is rounded to even ones (the truncation then changes nothing and adds no
    bias).  The emulator's learning engine applies the same truncation (neuroport.emulator.loihi_learning)."""
    net = assemble(graph)
    return replace(fixed, **{
        name: with_delays(quantize_dense(getattr(net, name), getattr(net, f"{name}_mask"), fixed.v_scale, hw, "mixed"), net, name)
        for name in ("w_in", "w_rec", "w_out")})


def calibration_peak(net: Network, inputs: np.ndarray) -> float:
    """Largest |v|, |A| (threshold incl. adaptation) and |y| of float runs on ``inputs`` (range analysis)."""
    from neuroport.emulator.reference import simulate

    run = simulate(net, inputs)
    return float(max(np.abs(run.v).max(), np.abs(net.v_th + net.beta * run.a).max(), np.abs(run.y).max()))


def with_delays(dense: FixedDense, net: Network, name: str) -> FixedDense:
    """``dense`` with the delays of matrix ``name`` (kept None when all are 1: a plain Dense)."""
    if not net.is_delayed(name):
        return dense
    return replace(dense, delays=np.asarray(net.delays[name], dtype=np.int64).copy())


def refuse_foreign_neurons(graph: FloatGraph, hw: HwConfig) -> None:
    """Loihi's neuron is CUBA LIF (ALIF is neuroport's Lava process on it): refuse other neuron models."""
    for i, pop in enumerate(graph.populations):
        if pop.kind not in LIF_KINDS:
            raise UnsupportedError(
                f"{hw.name} has no {pop.kind.capitalize()} neuron: Loihi's neuron is CUBA LIF; a custom "
                f"microcode/process would be needed (population '{pop.name}')", path=f"populations[{i}].model")


def refuse_eprop_plus(graph: FloatGraph, hw: HwConfig) -> None:
    """e-prop+ neurons (NEST's eprop_iaf) reset in the spike step; the fixed-point neurons (and the targets they
    emulate) reset one step after it, so an e-prop+-trained model would run with other dynamics: refuse it."""
    if graph.learning is not None and graph.learning.variant == "eprop_plus":
        raise UnsupportedError(
            f"{hw.name} does not support learning.variant 'eprop_plus': e-prop+ neurons reset in the spike step, "
            "the fixed-point neuron models reset one step after the spike, so the trained network would run with "
            "other dynamics", path="learning.variant")


@dataclass(frozen=True)
class NeuronProfile:
    """How :func:`quantize_loihi` treats the neurons of a learning variant: the FixedNeurons ``kind``, the check
    that refuses what the kind cannot express, and the float range analysis ``peak(graph, inputs)`` (None: the
    bsshslm_2020 neuron's, :func:`calibration_peak` / :func:`sparse_calibration_peak`)."""

    kind: str
    refuse: Callable[[FloatGraph, HwConfig], None]
    peak: Callable[[FloatGraph, np.ndarray], float] | None = None


ALIF_PROFILE = NeuronProfile("alif", refuse_foreign_neurons)
# learning.variant → the profile of variants whose neurons differ from bsshslm_2020's (the others: ALIF_PROFILE);
# e-prop+ resets in the spike step: quantization/loihi_eprop_plus.py
VARIANT_PROFILES = {"eprop_plus": NeuronProfile(EPROP_PLUS_KIND, refuse_eprop_plus_network, plus_calibration_peak)}


def neuron_profile(graph: FloatGraph) -> NeuronProfile:
    """The :class:`NeuronProfile` of ``graph``'s learning variant."""
    variant = graph.learning.variant if graph.learning is not None else None
    return VARIANT_PROFILES.get(variant, ALIF_PROFILE)


def kind_quantizers() -> dict[str, Any]:
    """Float neuron kind → the Loihi quantizer of graphs of that kind, for kinds with their own neuron program
    (imported here: their modules import this one); LIF/ALIF graphs are quantized by :func:`quantize_loihi`."""
    from neuroport.quantization.loihi_izhikevich import quantize_loihi_izhikevich

    return {"izhikevich": quantize_loihi_izhikevich}


def quantize_loihi(graph: FloatGraph, hw: HwConfig, calibration_inputs: np.ndarray | None = None) -> FixedGraph:
    """Quantize a FloatGraph for a Loihi-family config (module docstring); with ``calibration_inputs``
    (batch, steps, n_in), the voltage scale comes from the float ranges seen on them.  A graph whose first
    population has a kind of :func:`kind_quantizers` goes to that kind's quantizer (which refuses mixed graphs);
    otherwise the neuron kind and its range analysis follow the learning variant (:func:`neuron_profile`)."""
    own = kind_quantizers().get(graph.populations[0].kind) if graph.populations else None
    if own is not None:
        return own(graph, hw, calibration_inputs)
    profile = neuron_profile(graph)
    profile.refuse(graph, hw)
    max_delay = hw.resource("max_delay_steps")  # Lava DelayDense's 6-bit delays (hw config)
    too_long = [p.name for p in graph.projections if p.delay_values().max() > max_delay]
    if too_long:
        raise UnsupportedError(f"projection(s) {', '.join(too_long)}: delay_steps above {max_delay}, the longest "
                               "delay of Loihi 2's DelayDense (6-bit delays)")
    sparse = any(p.is_sparse for p in graph.projections)
    net = SimpleNamespace(**neuron_fields(graph)) if sparse else assemble(graph).folded()  # ζ into the weights
    peak = None
    if calibration_inputs is not None and profile.peak is not None:
        peak = profile.peak(graph, calibration_inputs)
    elif calibration_inputs is not None:  # the event-driven float model has no delays: those run on the dense view
        event_driven = sparse and not has_delays(graph)
        peak = (sparse_calibration_peak(graph, calibration_inputs) if event_driven
                else calibration_peak(net if not sparse else assemble(graph).folded(), calibration_inputs))
    v_scale = choose_v_scale(net, hw, peak)
    if sparse:  # weights quantized per synapse list (memory ∝ synapses), ζ folded in as for the dense form
        lists = folded_lists(sparse_matrices(graph)[0], vars(net))
        denses = {name: quantize_synapses(lists[name], v_scale, hw) for name in MATRICES}
    else:
        denses = {name: with_delays(quantize_dense(getattr(net, name), getattr(net, f"{name}_mask"), v_scale, hw), net, name)
                  for name in MATRICES}
    return FixedGraph(
        name=graph.name, profile="loihi", hw_name=hw.name, hw_sha256=hw.sha256, dt_ms=graph.dt_ms,
        neurons=fixed_neurons(graph, net, v_scale, hw, profile.kind), readout=FixedReadout(dy=decay_constant(net.tau_out_ms, net.dt_ms)),
        **denses, v_scale=v_scale, loss=net.loss,
    )


def fixed_neurons(graph: FloatGraph, net: Any, v_scale: float, hw: HwConfig, kind: str = "alif") -> FixedNeurons:
    """The recurrent layer's integer parameters (module docstring) from the per-neuron vectors of ``net``, for
    FixedNeurons ``kind`` ('alif', or 'eprop_plus': the same integers, the reset in the spike step)."""
    vth, _ = threshold_mantissas(net.v_th, v_scale, hw.param("vth_shift"))
    pops = []
    offset = 0
    for p in graph.populations:
        pops.append((p.name, p.kind, offset, offset + p.size))
        offset += p.size
    n = net.n_rec
    n_ref = np.round(net.t_ref_ms / net.dt_ms).astype(np.int64)
    return FixedNeurons(
        kind=kind, dv=decay_constant(net.tau_m_ms, net.dt_ms), vth=vth,
        da=decay_constant(net.tau_a_ms, net.dt_ms), a_inc=round_half_away(net.beta * v_scale),
        n_ref=n_ref, du=np.full(n, DECAY_UNITY - 1, dtype=np.int64), bias=np.zeros(n, dtype=np.int64),
        populations=tuple(pops),
    )


def sparse_calibration_peak(graph: FloatGraph, inputs: np.ndarray) -> float:
    """:func:`calibration_peak` on the event-driven float model of a sparse graph (memory ∝ synapses + T × n)."""
    from neuroport.training.sparse_eprop import SparseNetwork, simulate_sparse

    net = SparseNetwork.from_graph(graph)
    peak = 0.0
    for sample in inputs:
        run = simulate_sparse(net, sample, record_states=True)
        peak = max(peak, float(np.abs(run.v).max(initial=0.0)), float(np.abs(net.v_th + net.beta * run.a).max(initial=0.0)),
                   float(np.abs(run.y).max(initial=0.0)))
    return peak
