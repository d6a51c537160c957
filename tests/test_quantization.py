"""Loihi quantization: calibration sets the voltage scale from float ranges; QuantReport's numbers."""

from __future__ import annotations

import numpy as np
import pytest
from neuroport.quantization.loihi import CALIBRATION_MARGIN, calibration_peak, decay_constant, quantize_loihi
from neuroport.quantization.report import quant_report

from neuroport.hw import load_hw
from neuroport.ir import assemble, load_model
from neuroport.pipeline import quantize, task_batch


def test_calibration_keeps_the_float_peak_inside_the_range(tiny_model):
    graph = load_model(tiny_model)
    net, hw = assemble(graph), load_hw("loihi2")
    x = task_batch(graph, 4, seed=2).inputs
    peak = calibration_peak(net, x)
    fixed = quantize_loihi(graph, hw, calibration_inputs=x)
    limit = 2**23 * CALIBRATION_MARGIN
    assert peak * fixed.v_scale <= limit < 2 * peak * fixed.v_scale  # the largest power of two that fits
    assert np.log2(fixed.v_scale).is_integer()


def test_uncalibrated_scale_uses_threshold_headroom(tiny_model):
    graph = load_model(tiny_model)
    fixed = quantize_loihi(graph, load_hw("loihi2"))
    assert fixed.v_scale == 2.0 ** np.floor(np.log2(2**23 / (16 * 0.6)))


def test_quant_report_by_hand(tiny_model):
    graph = load_model(tiny_model)
    fixed = quantize(graph, load_hw("loihi2"))
    rows = {r.tensor: r for r in quant_report(graph, fixed)}
    # α = exp(−1/20): dv = round(4096 · (1 − α)) = 200, so 1 − 200/4096 vs exp(−1/20)
    assert decay_constant(np.array([20.0]), 1.0)[0] == 200
    assert rows["alpha (tau_m)"].max_abs_error == pytest.approx(abs(1 - 200 / 4096 - np.exp(-1 / 20)))
    for name in ("w_in", "w_rec", "w_out"):
        assert rows[name].rel_rms_error < 0.02 and rows[name].bits_used <= 9
    w = fixed.w_rec
    assert np.all(w.weights[w.mask] % 2 == 0)  # mixed-sign 8-bit mantissas are even (Lava drops the LSB)
