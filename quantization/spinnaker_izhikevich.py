"""SpiNNaker profile of Izhikevich networks (``integration: spinnaker_rk2``) → sPyNNaker ``IZK_curr_exp`` words.

sPyNNaker's Izhikevich model is in the units neuroport trains it in (v in mV, u and the input current in nA with
the Izhikevich constants), so there is no voltage scale for the recurrent layer:

    a, b, c, d, v_init, u_init, i_offset, τ_syn   = encode(float value)          (s16.15, round half even)
    V_thresh = encode(30 mV);  h = encode(dt);  spike h = mul(h, 1.85k)
    decay, init = the u0.32 words of exp_synapse_utils.h (:func:`neuroport.emulator.spinnaker_izhikevich.synapse_words`)
    I_j,i    = w_j,i nA;  shift s and stored magnitudes as the LIF profile (:mod:`neuroport.quantization.spinnaker`)

The readout is the LIF profile's never-firing ``IF_curr_delta`` (mV per unit from the float readout's range).
"""

from __future__ import annotations

import numpy as np
from neuroport.quantization.loihi import CALIBRATION_MARGIN
from neuroport.quantization.report import TensorError
from neuroport.quantization.spinnaker import _neurons, _populations, _row, membrane, shift_for, split, worst_sums

from neuroport.emulator.izhikevich import IzhikevichNetwork, assemble_izhikevich, simulate_izhikevich
from neuroport.emulator.izhikevich_rk2 import MAGIC_MULTIPLIER, SIMPLE_TQ_OFFSET
from neuroport.emulator.spinnaker_izhikevich import TQ_OFFSET_WORD, synapse_words
from neuroport.emulator.spinnaker_s1615 import encode, mul
from neuroport.hw import HwConfig
from neuroport.ir.float_graph import FloatGraph, Izhikevich
from neuroport.ir.spinnaker_graph import SpiNNakerGraph, SpiNNakerIzhikevichNeurons

WORDS = {"a": "a", "b": "b", "c": "c_mv", "d": "d", "v_init": "v_init_mv", "u_init": "u_init", "i_offset": "i_offset",
         "tau_syn": "tau_syn_ms"}  # IZK_curr_exp word → IzhikevichNetwork field


def izhikevich_neurons(net: IzhikevichNetwork, graph: FloatGraph, frac: int) -> SpiNNakerIzhikevichNeurons:
    """The IZK_curr_exp words of the recurrent layer (module docstring)."""
    words = {k: encode(getattr(net, f), frac) for k, f in WORDS.items()}
    h = encode(np.full(net.n_rec, net.dt_ms), frac)
    syn = synapse_words(words["tau_syn"], net.dt_ms, frac)
    return SpiNNakerIzhikevichNeurons(**words, v_thresh=encode(np.full(net.n_rec, Izhikevich.v_peak_mv), frac),
                                      reset_h=h, spike_h=mul(h, TQ_OFFSET_WORD, frac), syn_decay=syn["decay"],
                                      syn_init=syn["init"], populations=_populations(graph))


def readout_mv_per_unit(net: IzhikevichNetwork, gain: np.ndarray, r_membrane: np.ndarray, hw: HwConfig,
                        calibration_inputs: np.ndarray | None) -> float:
    """The largest power of two mV per readout unit keeping y and α = I · R of the readout inside the word; y's
    range from float runs on the calibration inputs, else its bound Σ_j |W_out,kj| / (1 − κ_k)."""
    if calibration_inputs is not None:
        peak = float(np.max(np.abs(simulate_izhikevich(net, calibration_inputs).y), initial=0.0)) / CALIBRATION_MARGIN
    else:
        peak = float(np.max(np.abs(net.w_out).sum(axis=1) / (1.0 - net.kappa), initial=0.0))
    sums = worst_sums([net.w_out / gain[:, None]], [net.w_out_mask])
    r_max = float(np.max(r_membrane)) / 2.0 ** hw.param("state_frac_bits")
    bound = max(peak, 2 * r_max * max(sums.values()) / CALIBRATION_MARGIN, 1e-6)
    return float(2.0 ** np.floor(np.log2(2.0 ** (hw.fmt("v").bits - 1 - hw.param("state_frac_bits")) / bound)))


def quantize_spinnaker_izhikevich(graph: FloatGraph, hw: HwConfig,
                                  calibration_inputs: np.ndarray | None = None) -> SpiNNakerGraph:
    """Quantize an all-Izhikevich spinnaker_rk2 FloatGraph for a SpiNNaker-family config (module docstring)."""
    net, frac = assemble_izhikevich(graph), hw.param("state_frac_bits")
    mem = membrane(net.tau_out_ms, net.dt_ms, frac)
    mvpu = readout_mv_per_unit(net, mem["gain"], mem["r_membrane"], hw, calibration_inputs)
    top = np.full(net.n_out, (1 << (hw.fmt("v").bits - 1)) - 1, dtype=np.int64)
    zeros_out = np.zeros(net.n_out, dtype=np.int64)
    readout = _neurons(mem, top, np.zeros(net.n_out), net.dt_ms, zeros_out, zeros_out,
                       (("readout", "readout", 0, net.n_out),), frac)
    projections = []
    for mats, scale in ((("w_in", "w_rec"), np.ones(net.n_rec)), (("w_out",), mvpu / mem["gain"])):
        currents = [getattr(net, k) * scale[:, None] for k in mats]
        masks = [getattr(net, k + "_mask") for k in mats]
        shifts = {r: shift_for(s, hw) for r, s in worst_sums(currents, masks).items()}
        for k, c, m in zip(mats, currents, masks, strict=True):
            projections += split(k, c, m, shifts, hw)
    return SpiNNakerGraph(name=graph.name, hw_name=hw.name, hw_sha256=hw.sha256, dt_ms=graph.dt_ms,
                          neurons=izhikevich_neurons(net, graph, frac), readout=readout, projections=tuple(projections),
                          n_inputs=net.n_in, v_scale=mvpu * 2.0**frac, frac_bits=frac, state_bits=hw.fmt("v").bits,
                          overflow=hw.fmt("v").overflow, loss=net.loss)


def izhikevich_quant_report(graph: FloatGraph, fixed: SpiNNakerGraph) -> list[TensorError]:
    """Per-tensor error of an IZK_curr_exp SpiNNakerGraph against its float model (weights in nA as applied)."""
    net, f, n = assemble_izhikevich(graph), 2.0**fixed.frac_bits, fixed.neurons
    g_out = fixed.readout.r_membrane / f * (1 - fixed.readout.exp_tc / f)
    rows = []
    for p in fixed.projections:
        scale = g_out[:, None] / fixed.mv_per_unit if p.dense == "w_out" else 1.0
        approx = p.sign * p.weights * 2.0**p.weight_exp * scale
        rows.append(_row(p.name, getattr(net, p.dense)[p.mask], approx[p.mask], p.weights[p.mask],
                         f"{p.receptor}, 16-bit magnitude, shift {p.shift} (LSB 2^{p.weight_exp} nA)"))
    for word, field in WORDS.items():
        rows.append(_row(word, getattr(net, field), getattr(n, word) / f, getattr(n, word), "IZK_curr_exp, s16.15"))
    lam = np.exp(-net.dt_ms / net.tau_syn_ms)
    rows.append(_row("synapse decay", lam, n.syn_decay / 2.0**32, n.syn_decay, "u0.32 expulr(−dt/τ_syn)"))
    rows.append(_row("synapse init", net.tau_syn_ms / net.dt_ms * (1 - lam), n.syn_init / 2.0**32, n.syn_init,
                     "u0.32 (τ_syn/dt)(1 − decay)"))
    rows.append(_row("v² coefficient", np.array([MAGIC_MULTIPLIER]), np.array([1311 / f]), np.array([1311]),
                     "MAGIC_MULTIPLIER, trained with the same value"))
    rows.append(_row("h after spike", np.array([SIMPLE_TQ_OFFSET * net.dt_ms]), n.spike_h[:1] / f, n.spike_h[:1],
                     "reset_h × 1.85k"))
    rows.append(_row("kappa (tau_out)", net.kappa, fixed.readout.exp_tc / f, fixed.readout.exp_tc, "readout exp_TC, s16.15"))
    return rows
