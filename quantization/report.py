"""QuantReport: what quantization did to each tensor — the error against the float values and the bits used."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroport.emulator.fixed import ACT_SHIFT, VTH_SHIFT
from neuroport.ir.fixed_graph import FixedGraph
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.network import assemble


@dataclass(frozen=True)
class TensorError:
    tensor: str
    rel_rms_error: float  # ‖q − f‖₂ / ‖f‖₂ over existing entries
    max_abs_error: float  # in float units
    bits_used: int  # bits of the largest stored magnitude (plus sign)
    detail: str


def _bits(values: np.ndarray) -> int:
    top = int(np.max(np.abs(values))) if values.size else 0
    return top.bit_length() + (1 if np.any(values < 0) else 0)


def _error(name: str, exact: np.ndarray, approx: np.ndarray, stored: np.ndarray, detail: str) -> TensorError:
    norm = np.linalg.norm(exact)
    diff = approx - exact
    return TensorError(name, float(np.linalg.norm(diff) / norm) if norm > 0 else 0.0,
                       float(np.max(np.abs(diff))) if diff.size else 0.0, _bits(stored), detail)


def quant_report(graph: FloatGraph, fixed: FixedGraph) -> list[TensorError]:
    """Per-tensor error of a Loihi-profile FixedGraph against its FloatGraph."""
    net = assemble(graph).folded()
    rows = []
    for name in ("w_in", "w_rec", "w_out"):
        dense = getattr(fixed, name)
        mask = dense.mask
        approx = dense.weights * 2.0 ** (dense.weight_exp + ACT_SHIFT) / fixed.v_scale
        rows.append(_error(name, getattr(net, name)[mask], approx[mask], dense.weights[mask],
                           f"{dense.num_weight_bits}-bit mantissa, weight_exp {dense.weight_exp}"))
    n = fixed.neurons
    rows.append(_error("v_th", net.v_th, (n.vth << VTH_SHIFT) / fixed.v_scale, n.vth, f"vth << 6, v_scale {fixed.v_scale:g}"))
    rows.append(_error("alpha (tau_m)", net.alpha, 1 - n.dv / 4096, n.dv, "12-bit dv"))
    adaptive = net.beta != 0
    if adaptive.any():
        rows.append(_error("rho (tau_a)", net.rho[adaptive], 1 - n.da[adaptive] / 4096, n.da[adaptive], "12-bit da"))
        rows.append(_error("beta", net.beta[adaptive], n.a_inc[adaptive] / fixed.v_scale, n.a_inc[adaptive], "a_inc per spike"))
    rows.append(_error("kappa (tau_out)", net.kappa, 1 - fixed.readout.dy / 4096, fixed.readout.dy, "12-bit dy"))
    return rows
