"""QuantReport: what quantization did to each tensor — the error against the float values and the bits used."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from neuroport.quantization.loihi import MIN_VTH, threshold_mantissas

from neuroport.emulator.fixed import ACT_SHIFT, VTH_SHIFT
from neuroport.ir.fixed_graph import FixedGraph
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.network import folded_lists, neuron_fields, sparse_matrices

# A tensor whose relative RMS error exceeds this is lost, not approximated: more noise than value.  For scale:
# the trained evidence-accumulation model on loihi1 has 1.2 % with 8-bit weights, 21 % with 3-bit, 40 % with 2-bit;
# a tensor quantized to all zeros has 100 %, a zero or non-finite scale NaN.
LOSS_BOUND = 0.5


@dataclass(frozen=True)
class TensorError:
    tensor: str
    rel_rms_error: float  # ‖q − f‖₂ / ‖f‖₂ over existing entries
    max_abs_error: float  # in float units
    bits_used: int  # bits of the largest stored magnitude (plus sign)
    detail: str
    float_range: tuple[float, float] = (0.0, 0.0)  # smallest and largest float value of the tensor
    representable: str = ""  # what the format holds, in float units (empty: see detail)

    def lost(self) -> bool:
        """Quantization lost this tensor: error above LOSS_BOUND, or not finite (scale 0, NaN)."""
        return not (np.isfinite(self.rel_rms_error) and np.isfinite(self.max_abs_error) and self.rel_rms_error <= LOSS_BOUND)

    def loss_message(self) -> str:
        """``tensor (float range; format: representable range): error``, one clause."""
        lo, hi = self.float_range
        holds = f" holds {self.representable}" if self.representable else ""
        return (f"{self.tensor} (float values in [{lo:.4g}, {hi:.4g}]; {self.detail}{holds}) has relative RMS error "
                f"{self.rel_rms_error:.3g} (bound {LOSS_BOUND:g})")


def float_range(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    return (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)


def _bits(values: np.ndarray) -> int:
    top = int(np.max(np.abs(values))) if values.size else 0
    return top.bit_length() + (1 if np.any(values < 0) else 0)


def _error(name: str, exact: np.ndarray, approx: np.ndarray, stored: np.ndarray, detail: str, representable: str = "") -> TensorError:
    norm = np.linalg.norm(exact)
    diff = approx - exact
    rel = float(np.linalg.norm(diff) / norm) if norm > 0 else 0.0
    return TensorError(name, rel, float(np.max(np.abs(diff))) if diff.size else 0.0, _bits(stored), detail,
                       float_range(exact), representable)


def _weight_range(dense, v_scale: float) -> str:
    """Float values a Loihi Dense holds at its weight_exp: mantissas [−256, 254] (8-bit, mixed sign even only), the
    smallest non-zero one 2^(8 − bits + [mixed]), times 2^(weight_exp + 6) / v_scale."""
    unit = np.float64(2.0) ** (dense.weight_exp + ACT_SHIFT) / v_scale  # numpy: v_scale 0 gives inf, no exception
    step = 2 ** (8 - dense.num_weight_bits + 1)  # the mixed-sign step; a single-sign matrix has half of it
    return f"[{-256 * unit:.4g}, {254 * unit:.4g}], smallest magnitude {step // 2 * unit:.4g}–{step * unit:.4g}"


def _threshold_range(v_scale: float) -> str:
    return f"multiples of {np.float64(2.0) ** VTH_SHIFT / v_scale:.4g}"


def quant_report(graph: FloatGraph, fixed: FixedGraph) -> list[TensorError]:
    """Per-tensor error of a Loihi-profile FixedGraph against its FloatGraph (a zero or non-finite v_scale gives
    non-finite errors, which :meth:`TensorError.lost` reports, rather than warnings)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return kind_reports().get(fixed.neurons.kind, _loihi_rows)(graph, fixed)


def kind_reports() -> dict:
    """Fixed neuron kind → its own report (imported here: those modules import this one); others: _loihi_rows."""
    from neuroport.quantization.loihi_izhikevich import izhikevich_quant_report

    return {"izhikevich": izhikevich_quant_report}


def _loihi_rows(graph: FloatGraph, fixed: FixedGraph) -> list[TensorError]:
    fields = neuron_fields(graph)
    lists = folded_lists(sparse_matrices(graph)[0], fields)  # both forms, ζ folded in: as FixedDense.synapse_list
    f = SimpleNamespace(**fields)
    net = SimpleNamespace(v_th=f.v_th, beta=f.beta, alpha=np.exp(-f.dt_ms / f.tau_m_ms), rho=np.exp(-f.dt_ms / f.tau_a_ms),
                          kappa=np.exp(-f.dt_ms / f.tau_out_ms))
    rows = []
    for name in ("w_in", "w_rec", "w_out"):
        dense = getattr(fixed, name)
        stored = dense.synapse_list().weights.astype(np.int64)
        approx = stored * 2.0 ** (dense.weight_exp + ACT_SHIFT) / fixed.v_scale
        rows.append(_error(name, lists[name].weights, approx, stored,
                           f"{dense.num_weight_bits}-bit mantissa, weight_exp {dense.weight_exp}", _weight_range(dense, fixed.v_scale)))
    n = fixed.neurons
    _, raised = threshold_mantissas(net.v_th, fixed.v_scale, VTH_SHIFT)
    clamped = f", {raised} raised to vth {MIN_VTH} (a vth of 0 fires at rest)" if raised else ""
    rows.append(_error("v_th", net.v_th, (n.vth << VTH_SHIFT) / fixed.v_scale, n.vth, f"vth << 6, v_scale {fixed.v_scale:g}{clamped}", _threshold_range(fixed.v_scale)))
    rows.append(_error("alpha (tau_m)", net.alpha, 1 - n.dv / 4096, n.dv, "12-bit dv"))
    adaptive = net.beta != 0
    if adaptive.any():
        rows.append(_error("rho (tau_a)", net.rho[adaptive], 1 - n.da[adaptive] / 4096, n.da[adaptive], "12-bit da"))
        rows.append(_error("beta", net.beta[adaptive], n.a_inc[adaptive] / fixed.v_scale, n.a_inc[adaptive], "a_inc per spike"))
    rows.append(_error("kappa (tau_out)", net.kappa, 1 - fixed.readout.dy / 4096, fixed.readout.dy, "12-bit dy"))
    return rows
