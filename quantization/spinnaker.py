"""SpiNNaker profile: FloatGraph + HwConfig → SpiNNakerGraph (sPyNNaker IF_curr_delta words) and its QuantReport.

With F = state_frac_bits (15), B = weight_bits (16), W = the v format's bits (32), all from the hw config:

    cm        = τ_m (1 − e^(−dt/τ_m))  nF            so that the chip's input gain g = R (1 − exp_TC) ≈ 1
    exp_TC    = expk(−kdivk(dt, τ_m)),  R = kdivk(τ_m, cm),  T_refract = ceil_accum(kdivk(t_ref, dt))   (on chip)
    mV/unit   = 2^k, the largest power of two with  max(peak, 2 · max_j R_j · Σ⁺_j / g_j) · 2^k ≤ 2^(W−1−F) · ½
                (peak: largest float |v|, |A|, |y| on calibration data, else 16 × max v_th; Σ⁺_j: the worst-case
                per-receptor summed |weight| into neuron j, the bound on α = I · R)
    V_thresh  = encode(v_th · mV/unit),  V_rest = V_reset = 0;  readout: V_thresh = the largest word (never fires)
    I_j,i     = w_j,i · mV/unit / g_j  nA             (the float weight as a voltage step)
    s         = sPyNNaker's shift for the worst-case sum S of the receptor into the population:
                ⌈log2 S⌉ (+1 if 2^that ≤ S), 0 for S ≤ 1; passed to the board as max_expected_summed_weight
    stored    = rint(|I| · 2^(F − s)) on the receptor of sign(w)  (exc: w ≥ 0, inh: w < 0)
    ALIF (custom model, not in sPyNNaker): ρ = expk(−kdivk(dt, τ_a)), b_inc = encode(β · mV/unit)

With the worst-case shift no ring buffer can saturate (Σ stored < 2^F), so the range analysis predicts none.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from neuroport.quantization.loihi import CALIBRATION_MARGIN, HEADROOM, calibration_peak, refuse_eprop_plus
from neuroport.quantization.report import TensorError, float_range

from neuroport.emulator.spinnaker_s1615 import ceil_accum, encode, expk, kdivk
from neuroport.errors import UnsupportedError
from neuroport.hw import HwConfig
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.network import Network, assemble
from neuroport.ir.spinnaker_graph import SpiNNakerGraph, SpiNNakerNeurons, SpiNNakerProjection


def membrane(tau_ms: np.ndarray, dt_ms: float, frac: int) -> dict[str, np.ndarray]:
    """τ_m and cm words and what the chip derives from them: exp_TC, R and the input gain g = R (1 − exp_TC)."""
    tau = encode(tau_ms, frac)
    cm = encode(np.asarray(tau_ms) * -np.expm1(-dt_ms / np.asarray(tau_ms)), frac)
    ts = encode(dt_ms, frac)
    exp_tc, r = expk(-kdivk(ts, tau, frac), frac), kdivk(tau, cm, frac)
    gain = (r / 2.0**frac) * (1 - exp_tc / 2.0**frac)
    return {"tau_m": tau, "cm": cm, "exp_tc": exp_tc, "r_membrane": r, "gain": gain}


def shift_for(summed_na: float, hw: HwConfig) -> int:
    """sPyNNaker's ring-buffer shift for a worst-case summed weight (population_vertex.get_ring_buffer_shifts)."""
    s = 0 if summed_na <= 0 else int(np.ceil(max(0.0, np.log2(summed_na))))
    s += 1 if summed_na > 0 and 2.0**s <= summed_na else 0
    s_max = hw.fmt("v").bits - 1 - hw.param("weight_bits")
    if s > s_max:
        raise UnsupportedError(f"a summed synaptic input of {summed_na:.4g} nA needs ring-buffer shift {s}; {hw.name} "
                               f"allows at most {s_max} (numerics.v.bits − 1 − params.weight_bits): weights too large")
    return s


def worst_sums(currents: list[np.ndarray], masks: list[np.ndarray]) -> dict[str, float]:
    """Largest per-neuron Σ of positive and of negative input (nA) over the matrices into one population."""
    pos = sum(np.where(m, np.maximum(c, 0), 0).sum(axis=1) for c, m in zip(currents, masks, strict=True))
    neg = sum(np.where(m, np.maximum(-c, 0), 0).sum(axis=1) for c, m in zip(currents, masks, strict=True))
    return {"excitatory": float(np.max(pos, initial=0.0)), "inhibitory": float(np.max(neg, initial=0.0))}


def split(dense: str, current_na: np.ndarray, mask: np.ndarray, shifts: dict[str, int], hw: HwConfig) -> list[SpiNNakerProjection]:
    """One signed matrix → an excitatory and an inhibitory projection of 16-bit magnitudes (empty ones dropped)."""
    frac, top = hw.param("state_frac_bits"), 2 ** hw.param("weight_bits") - 1
    out = []
    for receptor, sel, tag in (("excitatory", mask & (current_na >= 0), "exc"), ("inhibitory", mask & (current_na < 0), "inh")):
        stored = np.where(sel, np.rint(np.abs(current_na) * 2.0 ** (frac - shifts[receptor])), 0).astype(np.int64)
        if stored.max(initial=0) > top:
            raise UnsupportedError(f"{dense}: a weight needs {int(stored.max())} LSBs, more than {top}")
        if sel.any():
            out.append(SpiNNakerProjection(f"{dense}_{tag}", dense, receptor, stored, sel, shifts[receptor],
                                           num_weight_bits=hw.param("weight_bits")))
    return out


def by_delay(projections: list[SpiNNakerProjection], net: Network) -> list[SpiNNakerProjection]:
    """Split each projection by synaptic delay (a PyNN projection here has one delay): ``<name>_d<d>`` holds the
    synapses of delay d; projections of an undelayed matrix stay whole."""
    out = []
    for p in projections:
        if not net.is_delayed(p.dense):
            out.append(p)
            continue
        for d, sel in net.delay_groups(p.dense):
            part = p.mask & sel
            if part.any():
                out.append(replace(p, name=f"{p.name}_d{d}", weights=np.where(part, p.weights, 0), mask=part, delay_steps=d))
    return out


def choose_mv_per_unit(net: Network, mem: dict[str, dict[str, np.ndarray]], peak: float | None, hw: HwConfig) -> float:
    """The largest power of two mV per float unit keeping v, thresholds and α = I · R inside the state word."""
    bound = peak / CALIBRATION_MARGIN if peak else HEADROOM * float(np.max(net.v_th))
    for target, mats in (("rec", ("w_in", "w_rec")), ("out", ("w_out",))):
        m = mem[target]
        sums = worst_sums([getattr(net, k) / m["gain"][:, None] for k in mats], [getattr(net, k + "_mask") for k in mats])
        r_max = float(np.max(m["r_membrane"])) / 2.0 ** hw.param("state_frac_bits")
        bound = max(bound, 2 * r_max * max(sums.values()) / CALIBRATION_MARGIN)
    int_range = 2.0 ** (hw.fmt("v").bits - 1 - hw.param("state_frac_bits"))
    return float(2.0 ** np.floor(np.log2(int_range / bound)))


def _neurons(m: dict[str, np.ndarray], v_thresh: np.ndarray, tau_ref_ms: np.ndarray, dt_ms: float, rho: np.ndarray,
             b_inc: np.ndarray, pops: tuple, frac: int) -> SpiNNakerNeurons:
    zeros = np.zeros_like(v_thresh)
    ref = encode(tau_ref_ms, frac)
    return SpiNNakerNeurons(tau_m=m["tau_m"], cm=m["cm"], v_rest=zeros, v_reset=zeros, v_thresh=v_thresh, tau_refrac=ref,
                            exp_tc=m["exp_tc"], r_membrane=m["r_membrane"],
                            t_refract=ceil_accum(kdivk(ref, encode(np.full_like(tau_ref_ms, dt_ms), frac), frac), frac),
                            rho=rho, b_inc=b_inc, populations=pops)


def _populations(graph: FloatGraph) -> tuple[tuple[str, str, int, int], ...]:
    starts = np.cumsum([0] + [p.size for p in graph.populations])
    return tuple((p.name, p.kind, int(a), int(b)) for p, a, b in zip(graph.populations, starts[:-1], starts[1:], strict=True))


# sPyNNaker's native Izhikevich cell (IZK_curr_exp, neural_modelling/src/neuron/models/neuron_model_izh_impl.h) is
# a different discretization of the Euler model (neuroport/emulator/izhikevich.py); `integration: spinnaker_rk2`
# trains that cell itself (neuroport/emulator/izhikevich_rk2.py) and is lowered to it (.spinnaker_izhikevich)
SPINNAKER_IZHIKEVICH = (
    "sPyNNaker's only Izhikevich cells (IZK_curr_exp, IZK_cond_exp) have exponential synapses and integrate with an "
    "RK2 midpoint step (0.040008544921875 v², a 1.85·h step after each spike), not the forward-Euler, one-step-input "
    "model this population is trained with; set `integration: spinnaker_rk2` (and `tau_syn_ms`) on the population "
    "to train sPyNNaker's IZK_curr_exp itself, which compile and verify lower to SpiNNaker")


def refuse_izhikevich(graph: FloatGraph, hw: HwConfig) -> None:
    """Refuse Euler Izhikevich populations (see SPINNAKER_IZHIKEVICH)."""
    for i, pop in enumerate(graph.populations):
        if pop.kind == "izhikevich" and pop.integration != "spinnaker_rk2":
            raise UnsupportedError(f"{hw.name}: population '{pop.name}' is Izhikevich with integration "
                                   f"'{pop.integration}': {SPINNAKER_IZHIKEVICH}", path=f"populations[{i}].integration")


def _is_izk(graph: FloatGraph) -> bool:
    return any(p.kind == "izhikevich" for p in graph.populations)


def neuron_profile(graph: FloatGraph) -> tuple | None:
    """(quantizer, report) of a kind with a profile of its own
    (:data:`neuroport.quantization.spinnaker_ca2.NEURON_PROFILES`), or None."""
    from neuroport.quantization.spinnaker_ca2 import NEURON_PROFILES

    kinds = [p.kind for p in graph.populations if p.kind in NEURON_PROFILES]
    return NEURON_PROFILES[kinds[0]] if kinds else None


def quantize_spinnaker(graph: FloatGraph, hw: HwConfig, calibration_inputs: np.ndarray | None = None) -> SpiNNakerGraph:
    """Quantize a FloatGraph for a SpiNNaker-family config (module docstring); Izhikevich networks
    (integration spinnaker_rk2) go to :mod:`neuroport.quantization.spinnaker_izhikevich` (IZK_curr_exp), the kinds
    of ``NEURON_PROFILES`` to theirs (lif_ca2_adaptive: :mod:`neuroport.quantization.spinnaker_ca2`)."""
    refuse_izhikevich(graph, hw)
    refuse_eprop_plus(graph, hw)
    profile = neuron_profile(graph)
    if profile is not None:
        return profile[0](graph, hw, calibration_inputs)
    if _is_izk(graph):
        from neuroport.quantization.spinnaker_izhikevich import quantize_spinnaker_izhikevich

        return quantize_spinnaker_izhikevich(graph, hw, calibration_inputs)
    net, frac = assemble(graph).folded(), hw.param("state_frac_bits")
    mem = {"rec": membrane(net.tau_m_ms, net.dt_ms, frac), "out": membrane(net.tau_out_ms, net.dt_ms, frac)}
    peak = calibration_peak(net, calibration_inputs) if calibration_inputs is not None else None
    mvpu = choose_mv_per_unit(net, mem, peak, hw)
    adaptive = net.is_adaptive
    rho = np.where(adaptive, expk(-kdivk(encode(net.dt_ms, frac), encode(np.where(adaptive, net.tau_a_ms, 1.0), frac), frac), frac), 0)
    neurons = _neurons(mem["rec"], encode(net.v_th * mvpu, frac), net.t_ref_ms, net.dt_ms, rho,
                       np.where(adaptive, encode(net.beta * mvpu, frac), 0), _populations(graph), frac)
    top = np.full(net.n_out, (1 << (hw.fmt("v").bits - 1)) - 1, dtype=np.int64)
    zeros_out = np.zeros(net.n_out, dtype=np.int64)
    readout = _neurons(mem["out"], top, np.zeros(net.n_out), net.dt_ms, zeros_out, zeros_out,
                       (("readout", "readout", 0, net.n_out),), frac)
    projections = []
    for target, mats in (("rec", ("w_in", "w_rec")), ("out", ("w_out",))):
        currents = [getattr(net, k) * mvpu / mem[target]["gain"][:, None] for k in mats]
        masks = [getattr(net, k + "_mask") for k in mats]
        shifts = {r: shift_for(s, hw) for r, s in worst_sums(currents, masks).items()}
        for k, c, m in zip(mats, currents, masks, strict=True):
            projections += by_delay(split(k, c, m, shifts, hw), net)
    return SpiNNakerGraph(name=graph.name, hw_name=hw.name, hw_sha256=hw.sha256, dt_ms=graph.dt_ms, neurons=neurons,
                          readout=readout, projections=tuple(projections), n_inputs=net.n_in, v_scale=mvpu * 2.0**frac,
                          frac_bits=frac, state_bits=hw.fmt("v").bits, overflow=hw.fmt("v").overflow, loss=net.loss)


def _row(name: str, exact: np.ndarray, approx: np.ndarray, stored: np.ndarray, detail: str) -> TensorError:
    norm, diff = np.linalg.norm(exact), approx - exact
    top = int(np.max(np.abs(stored))) if stored.size else 0
    return TensorError(name, float(np.linalg.norm(diff) / norm) if norm > 0 else 0.0,
                       float(np.max(np.abs(diff))) if diff.size else 0.0, top.bit_length(), detail, float_range(exact))


def spinnaker_quant_report(graph: FloatGraph, fixed: SpiNNakerGraph) -> list[TensorError]:
    """Per-tensor error of a SpiNNakerGraph against its FloatGraph (weights as the chip applies them: × g / mV)."""
    if _is_izk(graph):
        from neuroport.quantization.spinnaker_izhikevich import izhikevich_quant_report

        return izhikevich_quant_report(graph, fixed)
    profile = neuron_profile(graph)
    if profile is not None:
        return profile[1](graph, fixed)
    net, f, mvpu = assemble(graph).folded(), 2.0**fixed.frac_bits, fixed.mv_per_unit
    gain = {"rec": fixed.neurons.r_membrane / f * (1 - fixed.neurons.exp_tc / f),
            "out": fixed.readout.r_membrane / f * (1 - fixed.readout.exp_tc / f)}
    rows = []
    for p in fixed.projections:
        g = gain["out" if p.dense == "w_out" else "rec"][:, None]
        approx = p.sign * p.weights * 2.0**p.weight_exp * g / mvpu
        rows.append(_row(p.name, getattr(net, p.dense)[p.mask], approx[p.mask], p.weights[p.mask],
                         f"{p.receptor}, 16-bit magnitude, shift {p.shift} (LSB 2^{p.weight_exp} nA)"))
    n = fixed.neurons
    rows.append(_row("v_th", net.v_th, n.v_thresh / f / mvpu, n.v_thresh, f"s16.15, {mvpu:g} mV per unit"))
    rows.append(_row("alpha (tau_m)", net.alpha, n.exp_tc / f, n.exp_tc, "exp_TC = expk(−dt/τ_m), s16.15"))
    rows.append(_row("input gain R(1−e)", np.ones(net.n_rec), gain["rec"], n.r_membrane, "R = kdivk(τ_m, cm)"))
    adaptive = net.is_adaptive
    if adaptive.any():
        rows.append(_row("rho (tau_a)", net.rho[adaptive], n.rho[adaptive] / f, n.rho[adaptive], "custom ALIF, s16.15"))
        rows.append(_row("beta", net.beta[adaptive], n.b_inc[adaptive] / f / mvpu, n.b_inc[adaptive], "custom ALIF, s16.15"))
    rows.append(_row("kappa (tau_out)", net.kappa, fixed.readout.exp_tc / f, fixed.readout.exp_tc, "readout exp_TC, s16.15"))
    return rows
