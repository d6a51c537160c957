"""No silent numeric failure: a quantization that loses a tensor (every value rounded to 0, a zero scale, NaN, a
relative RMS error above quantization.report.LOSS_BOUND) is an error naming the tensor, its float range and what
the format represents; --allow-lossy goes on, with a warning in every output and the lost tensors counted."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from neuroport.quantization.report import LOSS_BOUND

from neuroport.cli import main
from neuroport.hw import load_hw
from neuroport.ir.loader import load_model
from neuroport.ir.network import assemble
from neuroport.pipeline import LossyQuantizationError, quantization_losses, quantize
from tests.conftest import write_yaml


def _model(tmp_path, tiny_doc, v_th: float):
    for pop in tiny_doc["populations"]:
        pop["v_th"] = v_th
    return write_yaml(tmp_path, tiny_doc)


def test_sound_quantization_loses_nothing(tiny_model):
    graph = load_model(tiny_model)
    assert quantization_losses(graph, quantize(graph, load_hw("loihi2"))) == []


def test_huge_threshold_rounds_every_weight_to_zero(tmp_path, tiny_doc):
    """v_th 1e9, the largest a model file accepts (neuroport.ir.ranges): every weight is below the finest step."""
    graph = load_model(_model(tmp_path, tiny_doc, 1e9))
    with pytest.raises(LossyQuantizationError) as err:
        quantize(graph, load_hw("loihi2"))
    message = str(err.value)
    w_in = assemble(graph).w_in
    assert "loihi2 cannot hold" in message and "--allow-lossy" in message
    for tensor in ("w_in", "w_rec", "w_out"):
        assert f"{tensor} (float values in [" in message
    assert f"[{w_in.min():.4g}, {w_in.max():.4g}]" in message and "holds [" in message
    fixed = quantize(graph, load_hw("loihi2"), allow_lossy=True)
    assert all(not d.weights.any() for d in fixed.dense().values())  # what the check caught: all zeros


def test_threshold_beyond_every_scale_gives_v_scale_zero(tmp_path, tiny_doc):
    """A graph built through the API (no loader ranges) with v_th 1e308: the quantizer's own guard catches it."""
    graph = load_model(_model(tmp_path, tiny_doc, 1.0))
    graph = replace(graph, populations=tuple(replace(p, v_th=np.full(p.size, 1e308)) for p in graph.populations))
    with pytest.raises(LossyQuantizationError, match=r"v_th \(float values in \[1e\+308, 1e\+308\]; vth << 6, v_scale 0"):
        quantize(graph, load_hw("loihi2"))
    assert quantize(graph, load_hw("loihi2"), allow_lossy=True).v_scale == 0


def test_coarse_weights_above_the_bound(tiny_model):
    """1-bit mixed-sign weights on Loihi hold only {−256, 0} × 2^exp: half the weights vanish."""
    graph = load_model(tiny_model)
    base = load_hw("loihi2")
    hw = replace(base, numerics={**base.numerics, "weight": replace(base.numerics["weight"], bits=1)})
    fixed = quantize(graph, hw, allow_lossy=True)
    net = assemble(graph)
    d = fixed.w_rec
    approx = d.weights * 2.0 ** (d.weight_exp + 6) / fixed.v_scale  # a_in = w · 2^(exp+6), in float units / v_scale
    rel = np.linalg.norm((approx - net.w_rec)[d.mask]) / np.linalg.norm(net.w_rec[d.mask])
    assert rel > LOSS_BOUND
    with pytest.raises(LossyQuantizationError, match=rf"w_rec \(.*relative RMS error {rel:.3g} \(bound 0.5\)"):
        quantize(graph, hw)


def test_cli_refuses_then_warns_with_allow_lossy(tmp_path, tiny_doc, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = str(_model(tmp_path, tiny_doc, 1e9))
    with pytest.raises(SystemExit) as stop:
        main(["compile", model, "--samples", "0", "-o", "out"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert not (tmp_path / "out").exists()

    main(["verify", model, "-n", "2", "--allow-lossy", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert payload["lost_tensors"] == len(payload["warnings"]) >= 3
    assert all(w.startswith("warning: quantization lost ") for w in payload["warnings"])
    main(["verify", model, "-n", "2", "--allow-lossy"])
    out = capsys.readouterr().out
    assert f"lost tensors     {payload['lost_tensors']} (--allow-lossy)" in out and "warning: quantization lost w_in" in out

    main(["compile", model, "--samples", "0", "-o", "out", "--allow-lossy"])
    assert "warning: quantization lost w_in" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["extra"]["lost_tensors"]
    main(["report", model, "-n", "1", "--allow-lossy", "--html", "r.html"])
    assert "warning: quantization lost w_in" in capsys.readouterr().out
    assert "quantization lost w_in" in (tmp_path / "r.html").read_text()
