"""SpiNNaker profile of ``lif_ca2_adaptive`` networks → sPyNNaker ``IF_curr_delta_ca2_adaptive`` words.

The IF_curr_delta words and the weights are the LIF profile's (:mod:`neuroport.quantization.spinnaker`: cm so that
the input gain g = R (1 − exp_TC) ≈ 1, mV per unit a power of two, 16-bit magnitudes with sPyNNaker's shift), and
the calcium current (spynnaker/pyNN/models/neuron/additional_inputs/additional_input_ca2_adaptive.py, sPyNNaker
1!7.4.1: S1615 tau_ca2, i_ca2, i_alpha, time_step):

    tau_ca2 = encode(τ_ca2),  time_step = encode(dt),  exp_tau_ca2 = expk(−kdivk(time_step, tau_ca2))   (on chip)
    i_alpha = encode(i_alpha · mV/unit / g)  nA          (the float step as the current that gives it)
    i_ca2   = 0 (initial state)

mV per unit also keeps the calcium current's bound |i_alpha| ρ / (1 − ρ^(n_ref+1)) (one spike per n_ref + 1
steps at most) inside the α = I · R bound of the state word.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from neuroport.quantization.loihi import CALIBRATION_MARGIN
from neuroport.quantization.report import TensorError
from neuroport.quantization.spinnaker import (
    _neurons,
    _populations,
    _row,
    choose_mv_per_unit,
    membrane,
    shift_for,
    split,
    worst_sums,
)

from neuroport.emulator.ca2_adaptive import Ca2Network, assemble_ca2, simulate_ca2
from neuroport.emulator.spinnaker_s1615 import encode, expk, kdivk
from neuroport.hw import HwConfig
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.spinnaker_graph import SpiNNakerCa2Neurons, SpiNNakerGraph


def calcium_bound(net: Ca2Network) -> np.ndarray:
    """Largest |c| per neuron: |i_alpha| ρ / (1 − ρ^(n_ref + 1)) (float units)."""
    return np.abs(net.i_alpha) * net.rho / (1.0 - net.rho ** (net.n_ref + 1))


def _mv_per_unit(net: Ca2Network, mem: dict, calibration_inputs: np.ndarray | None, hw: HwConfig) -> float:
    peak = None
    if calibration_inputs is not None:
        run = simulate_ca2(net, calibration_inputs)
        peak = float(max(np.abs(run.v).max(), np.abs(run.y).max(), np.max(net.v_th)))
    mvpu = choose_mv_per_unit(net, mem, peak, hw)
    frac = hw.param("state_frac_bits")
    r_max = float(np.max(mem["rec"]["r_membrane"])) / 2.0**frac
    int_range = 2.0 ** (hw.fmt("v").bits - 1 - frac)
    bound = float(np.max(calcium_bound(net) / mem["rec"]["gain"], initial=0.0)) * r_max * 2 / CALIBRATION_MARGIN
    while bound * mvpu > int_range:
        mvpu /= 2
    return mvpu


def ca2_neurons(net: Ca2Network, graph: FloatGraph, mem: dict, mvpu: float, frac: int) -> SpiNNakerCa2Neurons:
    """The IF_curr_delta_ca2_adaptive words of the recurrent layer (module docstring)."""
    zeros = np.zeros(net.n_rec, dtype=np.int64)
    lif = _neurons(mem, encode(net.v_th * mvpu, frac), net.t_ref_ms, net.dt_ms, zeros, zeros, _populations(graph), frac)
    tau_ca2, ts = encode(net.tau_ca2_ms, frac), encode(np.full(net.n_rec, net.dt_ms), frac)
    return SpiNNakerCa2Neurons(**asdict(lif), tau_ca2=tau_ca2, i_alpha=encode(net.i_alpha * mvpu / mem["gain"], frac),
                               i_ca2=zeros, time_step=ts, exp_tau_ca2=expk(-kdivk(ts, tau_ca2, frac), frac))


def quantize_spinnaker_ca2(graph: FloatGraph, hw: HwConfig, calibration_inputs: np.ndarray | None = None) -> SpiNNakerGraph:
    """Quantize an all-lif_ca2_adaptive FloatGraph for a SpiNNaker-family config (module docstring)."""
    net, frac = assemble_ca2(graph), hw.param("state_frac_bits")
    mem = {"rec": membrane(net.tau_m_ms, net.dt_ms, frac), "out": membrane(net.tau_out_ms, net.dt_ms, frac)}
    mvpu = _mv_per_unit(net, mem, calibration_inputs, hw)
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
            projections += split(k, c, m, shifts, hw)
    return SpiNNakerGraph(name=graph.name, hw_name=hw.name, hw_sha256=hw.sha256, dt_ms=graph.dt_ms,
                          neurons=ca2_neurons(net, graph, mem["rec"], mvpu, frac), readout=readout,
                          projections=tuple(projections), n_inputs=net.n_in, v_scale=mvpu * 2.0**frac, frac_bits=frac,
                          state_bits=hw.fmt("v").bits, overflow=hw.fmt("v").overflow, loss=net.loss)


def ca2_quant_report(graph: FloatGraph, fixed: SpiNNakerGraph) -> list[TensorError]:
    """Per-tensor error of an IF_curr_delta_ca2_adaptive SpiNNakerGraph against its float model."""
    net, f, mvpu, n = assemble_ca2(graph), 2.0**fixed.frac_bits, fixed.mv_per_unit, fixed.neurons
    gain = {"rec": n.r_membrane / f * (1 - n.exp_tc / f),
            "out": fixed.readout.r_membrane / f * (1 - fixed.readout.exp_tc / f)}
    rows = []
    for p in fixed.projections:
        approx = p.sign * p.weights * 2.0**p.weight_exp * gain["out" if p.dense == "w_out" else "rec"][:, None] / mvpu
        rows.append(_row(p.name, getattr(net, p.dense)[p.mask], approx[p.mask], p.weights[p.mask],
                         f"{p.receptor}, 16-bit magnitude, shift {p.shift} (LSB 2^{p.weight_exp} nA)"))
    rows.append(_row("v_th", net.v_th, n.v_thresh / f / mvpu, n.v_thresh, f"s16.15, {mvpu:g} mV per unit"))
    rows.append(_row("alpha (tau_m)", net.alpha, n.exp_tc / f, n.exp_tc, "exp_TC = expk(−dt/τ_m), s16.15"))
    rows.append(_row("input gain R(1−e)", np.ones(net.n_rec), gain["rec"], n.r_membrane, "R = kdivk(τ_m, cm)"))
    rows.append(_row("rho (tau_ca2)", net.rho, n.exp_tau_ca2 / f, n.exp_tau_ca2, "exp_tau_ca2 = expk(−dt/τ_ca2), s16.15"))
    rows.append(_row("i_alpha", net.i_alpha, n.i_alpha / f * gain["rec"] / mvpu, n.i_alpha, "i_alpha nA, s16.15"))
    rows.append(_row("kappa (tau_out)", net.kappa, fixed.readout.exp_tc / f, fixed.readout.exp_tc, "readout exp_TC, s16.15"))
    return rows


# float population kind → (quantizer, per-tensor error report) of the kinds with a SpiNNaker profile of their own
NEURON_PROFILES = {"lif_ca2_adaptive": (quantize_spinnaker_ca2, ca2_quant_report)}
