"""Loihi profile of Izhikevich networks: FloatGraph (forward-Euler Izhikevich, v in mV) → FixedGraph of kind
'izhikevich', the words of the integer neuron program of :mod:`neuroport.emulator.fixed_izhikevich`.

Scales (F = 20 fraction bits of the coefficient words; S = v_scale integer units per mV):
    S        = 2^k, the largest power of two with peak · S ≤ 2^23 · CALIBRATION_MARGIN and 30 mV · S ≤ vth_max << 6,
               where peak is the largest |v'| (pre-reset), |v|, |u| or |y| of float runs on calibration data (else
               DEFAULT_PEAK_MV); k ≥ 5, so that the 30 mV peak is a whole vth (30 · 2^k / 64)
    vth      = round(30 · S / 64)                                  threshold vth << 6
    p2, p1, pu = round((0.04, 5, 1) · dt · 2^F);   pab, pa = round((a b, a) · dt · 2^F)
    c0       = round(dt (140 + i_offset) S);   c, d, v0, u0 = round((c_mv, d, v_init, u_init) · S)
    w_in, w_rec: Lava Dense mantissas of dt · w (a spike adds dt · w mV: a_in << 6 ≈ dt · w · S), as the LIF profile
    w_out, dy: the LIF profile's readout (quantization/loihi.py)
"""

from __future__ import annotations

import numpy as np
from neuroport.quantization.loihi import CALIBRATION_MARGIN, decay_constant, quantize_dense, threshold_mantissas
from neuroport.quantization.report import TensorError, _error, _weight_range

from neuroport.emulator.fixed_izhikevich import IZH_FRAC, VTH_SHIFT
from neuroport.emulator.izhikevich import IzhikevichNetwork, assemble_izhikevich, euler_step, simulate_izhikevich
from neuroport.errors import UnsupportedError
from neuroport.hw import HwConfig
from neuroport.ir.fixed_graph import FixedGraph, FixedNeurons, FixedReadout
from neuroport.ir.float_graph import FloatGraph, Izhikevich
from neuroport.numerics import DECAY_UNITY, round_half_away

DEFAULT_PEAK_MV = 512.0  # without calibration: |v'|, |u| assumed below this (an Euler step overshoots 30 mV)
MIN_SCALE_BITS = 5  # S ≥ 2^5: the 30 mV peak is a whole threshold mantissa
WORD_LIMITS = {"izh_p2": 2**20, "izh_p1": 2**24, "izh_pu": 2**24, "izh_pab": 2**24, "izh_pa": 2**24,
               "izh_c0": 2**23, "izh_c": 2**23, "izh_d": 2**23, "izh_v0": 2**23, "izh_u0": 2**23}  # |word| < limit


def refuse_rk2(graph: FloatGraph, hw: HwConfig) -> None:
    """The neuron program integrates forward Euler; sPyNNaker's RK2 cell (integration: spinnaker_rk2) is refused."""
    for i, pop in enumerate(graph.populations):
        if getattr(pop, "integration", "euler") != "euler":
            raise UnsupportedError(f"{hw.name}: population '{pop.name}' is Izhikevich with integration "
                                   f"'{pop.integration}'; the Loihi Izhikevich program integrates forward Euler "
                                   "(integration: euler)", path=f"populations[{i}].integration")


def float_peak(net: IzhikevichNetwork, inputs: np.ndarray) -> float:
    """Largest |v'| (pre-reset, recomputed from the run's post-reset states), |v|, |u| and |y| of float runs."""
    run = simulate_izhikevich(net, inputs)
    start = lambda x0, x: np.concatenate([np.broadcast_to(x0, x[:, :1].shape), x[:, :-1]], axis=1)  # noqa: E731
    z_prev = start(np.zeros(net.n_rec), run.z)
    current = np.asarray(inputs, np.float64) @ net.w_in.T + z_prev @ net.w_rec.T + net.i_offset
    v_pre, _ = euler_step(net, start(net.v_init_mv, run.v), start(net.u_init, run.u), current)
    return float(max(np.abs(v_pre).max(), np.abs(run.v).max(), np.abs(run.u).max(), np.abs(run.y).max()))


def izhikevich_v_scale(peak: float, hw: HwConfig) -> float:
    """S (module docstring), refused when below 2^MIN_SCALE_BITS."""
    v_limit = 2.0 ** (hw.fmt("v").bits - 1) * CALIBRATION_MARGIN / peak
    vth_limit = float(hw.param("vth_max") << hw.param("vth_shift")) / Izhikevich.v_peak_mv
    k = int(np.floor(np.log2(min(v_limit, vth_limit))))
    if k < MIN_SCALE_BITS:
        raise UnsupportedError(f"{hw.name}: Izhikevich states up to {peak:.4g} mV leave {2.0**k:g} integer units per "
                               f"mV, below the {2**MIN_SCALE_BITS} the 24-bit program needs; reduce the input weights",
                               path="projections")
    return float(2.0**k)


def izhikevich_words(net: IzhikevichNetwork, v_scale: float, hw: HwConfig) -> dict[str, np.ndarray]:
    """The izh_* words and vth (module docstring), each checked against its WORD_LIMITS."""
    dt, frac = net.dt_ms, 2.0**IZH_FRAC
    n = net.n_rec
    words = {"izh_p2": np.full(n, 0.04 * dt * frac), "izh_p1": np.full(n, 5.0 * dt * frac),
             "izh_pu": np.full(n, dt * frac), "izh_pab": dt * net.a * net.b * frac, "izh_pa": dt * net.a * frac,
             "izh_c0": dt * (140.0 + net.i_offset) * v_scale, "izh_c": net.c_mv * v_scale, "izh_d": net.d * v_scale,
             "izh_v0": net.v_init_mv * v_scale, "izh_u0": net.u_init * v_scale}
    words = {k: round_half_away(v) for k, v in words.items()}
    for name, limit in WORD_LIMITS.items():
        if np.abs(words[name]).max(initial=0) >= limit:
            raise UnsupportedError(f"{hw.name}: the Izhikevich word {name} reaches {np.abs(words[name]).max()}, the "
                                   f"program holds |{name}| < {limit} (dt {dt} ms, v_scale {v_scale:g})", path="populations")
    words["izh_sq_shift"] = np.full(n, int(np.log2(v_scale)), dtype=np.int64)
    return words


def quantize_loihi_izhikevich(graph: FloatGraph, hw: HwConfig, calibration_inputs: np.ndarray | None = None) -> FixedGraph:
    """Quantize an all-Izhikevich (forward Euler) FloatGraph for a Loihi-family config (module docstring)."""
    refuse_rk2(graph, hw)
    net = assemble_izhikevich(graph)
    peak = float_peak(net, calibration_inputs) if calibration_inputs is not None else DEFAULT_PEAK_MV
    v_scale = izhikevich_v_scale(max(peak, Izhikevich.v_peak_mv), hw)
    vth, _ = threshold_mantissas(np.full(net.n_rec, Izhikevich.v_peak_mv), v_scale, hw.param("vth_shift"))
    zeros = np.zeros(net.n_rec, dtype=np.int64)
    pops, offset = [], 0
    for p in graph.populations:
        pops.append((p.name, p.kind, offset, offset + p.size))
        offset += p.size
    neurons = FixedNeurons(kind="izhikevich", dv=zeros, vth=vth, da=zeros, a_inc=zeros, n_ref=zeros,
                           du=np.full(net.n_rec, DECAY_UNITY - 1, dtype=np.int64), bias=zeros, populations=tuple(pops),
                           **izhikevich_words(net, v_scale, hw))
    dt = net.dt_ms
    denses = {"w_in": quantize_dense(net.w_in * dt, net.w_in_mask, v_scale, hw),
              "w_rec": quantize_dense(net.w_rec * dt, net.w_rec_mask, v_scale, hw),
              "w_out": quantize_dense(net.w_out, net.w_out_mask, v_scale, hw)}
    return FixedGraph(name=graph.name, profile="loihi", hw_name=hw.name, hw_sha256=hw.sha256, dt_ms=dt, neurons=neurons,
                      readout=FixedReadout(dy=decay_constant(net.tau_out_ms, dt)), **denses, v_scale=v_scale,
                      loss=net.loss)


def izhikevich_quant_report(graph: FloatGraph, fixed: FixedGraph) -> list[TensorError]:
    """Per-tensor error of a kind-'izhikevich' FixedGraph against its float model, in float units."""
    net, n, s, frac = assemble_izhikevich(graph), fixed.neurons, fixed.v_scale, 2.0**IZH_FRAC
    dt = net.dt_ms
    rows = []
    for name, per_unit in (("w_in", dt), ("w_rec", dt), ("w_out", 1.0)):
        dense, mask = getattr(fixed, name), getattr(net, f"{name}_mask")
        stored = dense.dense_weights()[mask]
        approx = stored * 2.0 ** (dense.weight_exp + 6) / s / per_unit
        rows.append(_error(name, getattr(net, name)[mask], approx, stored,
                           f"{dense.num_weight_bits}-bit mantissa, weight_exp {dense.weight_exp}"
                           + (f", of dt · w (dt {dt} ms)" if per_unit != 1.0 else ""), _weight_range(dense, s)))
    rows.append(_error("v_peak", np.full(net.n_rec, Izhikevich.v_peak_mv), (n.vth << VTH_SHIFT) / s, n.vth,
                       f"vth << 6, v_scale {s:g}"))
    for label, exact, word, scale in (("0.04 (v²)", 0.04, n.izh_p2, dt * frac), ("5 (v)", 5.0, n.izh_p1, dt * frac),
                                      ("1 (u)", 1.0, n.izh_pu, dt * frac), ("a b", net.a * net.b, n.izh_pab, dt * frac),
                                      ("a", net.a, n.izh_pa, dt * frac), ("140 + i_offset", 140.0 + net.i_offset,
                                                                          n.izh_c0, dt * s),
                                      ("c_mv", net.c_mv, n.izh_c, s), ("d", net.d, n.izh_d, s),
                                      ("v_init_mv", net.v_init_mv, n.izh_v0, s), ("u_init", net.u_init, n.izh_u0, s)):
        exact = np.broadcast_to(exact, word.shape)
        rows.append(_error(label, exact, word / scale, word, "Izhikevich program word"))
    rows.append(_error("kappa (tau_out)", net.kappa, 1 - fixed.readout.dy / 4096, fixed.readout.dy, "12-bit dy"))
    return rows
