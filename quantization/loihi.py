"""Loihi profile: FloatGraph + HwConfig → FixedGraph, in Lava's conventions (../shared/reference/lava.md).

Scales (one float voltage unit = ``v_scale`` integer units; thresholds of every population map into the vth field):
    v_scale   = 2^k, the largest power of two with peak · v_scale ≤ 2^23 · CALIBRATION_MARGIN, where peak is the
                largest |v|, |threshold| or |readout| of float runs on calibration data (else 16 × max v_th),
                and max(v_th) · v_scale ≤ vth_max << 6
    vth       = round(v_th · v_scale / 64)                                          threshold = vth << 6
    dv, dy    = round(4096 · (1 − exp(−dt/τ)))                                      12-bit decays (τ_m, τ_out)
    da        = round(4096 · (1 − exp(−dt/τ_a)))                                    ALIF adaptation decay
    a_inc     = round(β · v_scale)                                                 threshold step per spike
    weights   = round(w · v_scale / 2^(6 + weight_exp)), weight_exp per Dense the one with the least squared
                error among the smallest that fits every |w| and the two below it (which clip the tail);
                mixed-sign 8-bit mantissas are even (Lava truncates the LSB): [−256, 254]
    n_ref     = round(t_ref / dt)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from neuroport.errors import UnsupportedError
from neuroport.hw import HwConfig
from neuroport.ir.fixed_graph import FixedDense, FixedGraph, FixedNeurons, FixedReadout
from neuroport.ir.float_graph import LIF_KINDS, FloatGraph
from neuroport.ir.network import Network, assemble
from neuroport.numerics import DECAY_UNITY, round_half_away, truncate_lsbs

MAX_MAGNITUDE_BITS = 8  # Lava's Dense clips weights to 8 bits before truncating
HEADROOM = 16  # without calibration: the voltage range is 16 × the highest threshold
EXPONENT_SEARCH = 2  # weight exponents below the one that fits every weight that quantize_dense tries
CALIBRATION_MARGIN = 0.5  # with calibration: the largest float value seen uses at most half the range


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
    return float(2.0 ** np.floor(np.log2(min(v_limit, vth_limit))))


def _mantissas(scaled: np.ndarray, exp: int, bits: int, mode: str, mask: np.ndarray) -> np.ndarray:
    """Round to the nearest value Lava can store at ``exp`` (a multiple of its LSB step, so that Lava's own
    truncation toward −∞ is a no-op and adds no bias), clipped to the mantissa range."""
    step = 2 ** (MAX_MAGNITUDE_BITS - bits + (mode == "mixed"))
    mant = round_half_away(scaled / 2.0**exp / step) * step
    return np.where(mask, lava_dense_weights(mant, bits, mode), 0)


def quantize_dense(w: np.ndarray, mask: np.ndarray, v_scale: float, hw: HwConfig) -> FixedDense:
    """Pick weight_exp, round, and apply Lava's storage rule.

    The candidates are the smallest exponent whose mantissas hold the largest weight and up to
    ``EXPONENT_SEARCH`` smaller ones, which clip the few largest weights to halve, quarter … the rounding step of
    all others; the exponent with the least squared error over the existing synapses wins (trained weight
    matrices have long tails, where fitting the largest weight wastes most of the mantissa)."""
    bits = hw.fmt("weight").bits
    act_shift = hw.param("act_shift")
    scaled = w * v_scale / 2.0**act_shift  # value of a_in per unit mantissa at weight_exp = 0
    top = np.max(np.abs(scaled)) if scaled.size else 0.0
    limit = 2**MAX_MAGNITUDE_BITS - 2  # 254: Lava keeps 8-bit magnitudes and drops LSBs for fewer bits
    e_min, e_max = hw.param("weight_exp_min"), hw.param("weight_exp_max")
    fit = int(np.clip(np.ceil(np.log2(top / limit)) if top > 0 else e_min, e_min, e_max))
    mode = sign_mode(w)

    def squared_error(exp: int) -> float:
        return float(np.sum(((_mantissas(scaled, exp, bits, mode, mask) * 2.0**exp - scaled) * mask) ** 2))

    exp = min(range(max(e_min, fit - EXPONENT_SEARCH), fit + 1), key=lambda e: (squared_error(e), -e))
    mant = _mantissas(scaled, exp, bits, mode, mask)
    return FixedDense(weights=mant.astype(np.int64), mask=mask.copy(), weight_exp=exp, num_weight_bits=bits)


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


def quantize_loihi(graph: FloatGraph, hw: HwConfig, calibration_inputs: np.ndarray | None = None) -> FixedGraph:
    """Quantize a FloatGraph for a Loihi-family config (module docstring); with ``calibration_inputs``
    (batch, steps, n_in), the voltage scale comes from the float ranges seen on them."""
    refuse_foreign_neurons(graph, hw)
    refuse_eprop_plus(graph, hw)
    max_delay = hw.resource("max_delay_steps")  # Lava DelayDense's 6-bit delays (hw config)
    too_long = [p.name for p in graph.projections if p.delay_steps > max_delay]
    if too_long:
        raise UnsupportedError(f"projection(s) {', '.join(too_long)}: delay_steps above {max_delay}, the longest "
                               "delay of Loihi 2's DelayDense (6-bit delays)")
    net = assemble(graph).folded()  # regular_spike_arrival False: ζ into the weights
    peak = calibration_peak(net, calibration_inputs) if calibration_inputs is not None else None
    v_scale = choose_v_scale(net, hw, peak)
    vth = round_half_away(net.v_th * v_scale / 2.0 ** hw.param("vth_shift"))
    pops = []
    offset = 0
    for p in graph.populations:
        pops.append((p.name, p.kind, offset, offset + p.size))
        offset += p.size
    n = net.n_rec
    neurons = FixedNeurons(
        kind="alif", dv=decay_constant(net.tau_m_ms, net.dt_ms), vth=vth,
        da=decay_constant(net.tau_a_ms, net.dt_ms), a_inc=round_half_away(net.beta * v_scale),
        n_ref=net.n_ref_steps, du=np.full(n, DECAY_UNITY - 1, dtype=np.int64), bias=np.zeros(n, dtype=np.int64),
        populations=tuple(pops),
    )
    return FixedGraph(
        name=graph.name, profile="loihi", hw_name=hw.name, hw_sha256=hw.sha256, dt_ms=graph.dt_ms,
        neurons=neurons, readout=FixedReadout(dy=decay_constant(net.tau_out_ms, net.dt_ms)),
        **{name: with_delays(quantize_dense(getattr(net, name), getattr(net, f"{name}_mask"), v_scale, hw), net, name)
           for name in ("w_in", "w_rec", "w_out")},
        v_scale=v_scale, loss=net.loss,
    )
