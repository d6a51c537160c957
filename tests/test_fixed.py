"""Fixed-point IR, Loihi quantization, the emulator (golden cases by hand) and artifacts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from neuroport.quantization.loihi import lava_dense_weights

from neuroport.emulator.fixed import emulate
from neuroport.errors import ArtifactError
from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.ir.artifact import load_artifact, save_artifact
from neuroport.ir.fixed_graph import FixedDense, FixedGraph, FixedNeurons, FixedReadout
from neuroport.pipeline import compare, quantize, task_batch


def one_neuron(w_in: int, e_in: int, vth: int, dv: int, n_ref: int, a_inc: int = 0, da: int = 0) -> FixedGraph:
    arr = lambda v: np.array([v], dtype=np.int64)  # noqa: E731
    neurons = FixedNeurons(kind="alif", dv=arr(dv), vth=arr(vth), da=arr(da), a_inc=arr(a_inc), n_ref=arr(n_ref),
                           du=arr(4095), bias=arr(0), populations=(("p", "alif", 0, 1),))
    dense = lambda w, e: FixedDense(weights=np.array([[w]], np.int64), mask=np.ones((1, 1), bool), weight_exp=e)  # noqa: E731
    return FixedGraph(name="g", profile="loihi", hw_name="loihi2", hw_sha256="", dt_ms=1.0, neurons=neurons,
                      readout=FixedReadout(dy=arr(2048)), w_in=dense(w_in, e_in), w_rec=dense(0, 0), w_out=dense(1, 0),
                      v_scale=64.0, loss="mse")


def test_golden_alif_by_hand():
    """w = 10 << 1 = 20 → v += 20 << 6 = 1280 per input spike; vth 15 → threshold 960; dv 2048 halves v;
    a_inc 320 raises the threshold after each spike, da 2048 halves a; n_ref 2."""
    g = one_neuron(w_in=10, e_in=1, vth=15, dv=2048, n_ref=2, a_inc=320, da=2048)
    x = np.array([[[1], [1], [0], [1], [1]]])
    trace, stats = emulate(g, x)
    v, a, z = trace.states["v"][0, :, 0], trace.states["a"][0, :, 0], trace.spikes[0, :, 0]
    # t0: v = 1280 ≥ 960 → spike, r = 2
    # t1: v = 640 + 1280 − 960 = 960, a = 320, r = 1 → no spike (refractory)
    # t2: v = 480, a = 160, r = 0, threshold 1120 → no
    # t3: v = 240 + 1280 = 1520, a = 80, threshold 1040 → spike, r = 2
    # t4: v = 760 + 1280 − 960 = 1080, a = 40 + 320 = 360, refractory
    np.testing.assert_array_equal(v, [1280, 960, 480, 1520, 1080])
    np.testing.assert_array_equal(a, [0, 320, 160, 80, 360])
    np.testing.assert_array_equal(z, [1, 0, 0, 1, 0])
    # readout: y ← y/2 + (z[t−1] << 6)
    np.testing.assert_array_equal(trace.readout[0, :, 0], [0, 64, 32, 16, 72])
    assert stats.synaptic_ops["w_in"] == 4 and stats.synaptic_ops["w_out"] == 2
    assert stats.spikes_per_population == {"p": 2}


def test_voltage_saturates_and_is_counted():
    g = one_neuron(w_in=255, e_in=7, vth=131071, dv=0, n_ref=0)
    trace, stats = emulate(g, np.ones((1, 6, 1), dtype=np.int64))
    assert trace.states["v"].max() == 2**23 - 1
    assert stats.overflow["v"] > 0


def test_lava_weight_storage_rule():
    np.testing.assert_array_equal(lava_dense_weights(np.array([3, -3, 300, -300])), [2, -4, 254, -256])
    np.testing.assert_array_equal(lava_dense_weights(np.array([3, 300, 0])), [3, 255, 0])
    np.testing.assert_array_equal(lava_dense_weights(np.array([-3, -300])), [-3, -255])


def test_quantized_tiny_model_tracks_float(tiny_model):
    graph = load_model(tiny_model)
    fixed = quantize(graph, load_hw("loihi2"))
    result = compare(graph, fixed, task_batch(graph, 8, seed=1))
    assert result.spike_agreement > 0.95
    assert abs(result.float_rate_hz - result.fixed_rate_hz) < 0.1 * result.float_rate_hz + 1


def test_artifact_round_trip_and_corruption(tmp_path, tiny_model):
    fixed = quantize(load_model(tiny_model), load_hw("loihi2"))
    folder = save_artifact(fixed, tmp_path / "a")
    again = load_artifact(folder)
    np.testing.assert_array_equal(again.w_rec.weights, fixed.w_rec.weights)
    assert again.neurons.populations == fixed.neurons.populations and again.v_scale == fixed.v_scale
    x = task_batch(load_model(tiny_model), 2, 0).inputs
    np.testing.assert_array_equal(emulate(again, x)[0].spikes, emulate(fixed, x)[0].spikes)

    data = (folder / "arrays.npz").read_bytes()
    (folder / "arrays.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="corrupt or truncated"):
        load_artifact(folder)
    save_artifact(fixed, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["checksums"]["w_rec.weights"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="does not match its checksum"):
        load_artifact(folder)
    manifest["format_version"] = 99
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="newer than this neuroport reads"):
        load_artifact(folder)
    with pytest.raises(ArtifactError, match="no manifest.json"):
        load_artifact(tmp_path)
