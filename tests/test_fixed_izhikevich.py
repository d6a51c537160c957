"""Fixed-point Izhikevich neurons (FixedNeurons kind 'izhikevich'): one step against hand-computed integers, the
compiled kernel (dense and sparse engines) against the numpy reference bit for bit with every saturation counted,
the quantizer against the float model, the artifact round trip and the refusals."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from neuroport.emulator.fixed import emulate, emulate_reference
from neuroport.emulator.sparse import emulate_sparse
from neuroport.errors import UnsupportedError
from neuroport.hw import load_hw
from neuroport.ir.artifact import load_artifact, save_artifact
from neuroport.ir.fixed_graph import FixedDense, FixedGraph, FixedNeurons, FixedReadout
from neuroport.ir.loader import load_model
from neuroport.pipeline import compare, quant_errors, quantize, task_batch
from tests.conftest import write_yaml
from tests.test_fixed_kernel import assert_same_run
from tests.test_izhikevich import IZH

F = 20  # fixed_izhikevich.IZH_FRAC


def one_neuron(*, v0: int, u0: int, w: int = 0, vth: int = 30 * 2**13 >> 6, d: int = 8 * 2**13, k: int = 13,
               i_offset: int = 0) -> FixedGraph:
    """One Izhikevich neuron, S = 2^k, the words of a = 0.02, b = 0.2, dt = 1 and ``i_offset``; one input of mantissa w
    (weight_exp 0), a readout of weight 1."""
    s, one = 2**k, lambda v: np.array([v], dtype=np.int64)  # noqa: E731
    words = {"izh_p2": one(round(0.04 * 2**F)), "izh_p1": one(5 * 2**F), "izh_pu": one(2**F),
             "izh_pab": one(round(0.004 * 2**F)), "izh_pa": one(round(0.02 * 2**F)), "izh_c0": one((140 + i_offset) * s),
             "izh_c": one(-65 * s), "izh_d": one(d), "izh_sq_shift": one(k), "izh_v0": one(v0), "izh_u0": one(u0)}
    zero = one(0)
    neurons = FixedNeurons(kind="izhikevich", dv=zero, vth=one(vth), da=zero, a_inc=zero, n_ref=zero, du=one(4095),
                           bias=zero, populations=(("izh", "izhikevich", 0, 1),), **words)
    dense = lambda w_: FixedDense(np.array([[w_]], np.int64), np.ones((1, 1), bool), 0)  # noqa: E731
    return FixedGraph(name="one", profile="loihi", hw_name="loihi2", hw_sha256="", dt_ms=1.0, neurons=neurons,
                      readout=FixedReadout(dy=np.zeros(1, np.int64)), w_in=dense(w), w_rec=dense(0), w_out=dense(1),
                      v_scale=float(s), loss="mse")


def test_one_step_by_hand():
    """v = −70 mV, u = −14, i_offset = 10, no spike input, S = 2^13: sq = (V² + 2^12) >> 13 = 4900 S;
    V' = V + rnd_20(p2 sq + p1 V − pu U) + 150 S with p2 = 41943, p1 = 5 · 2^20, pu = 2^20, and
    U' = U + rnd_20(pab V − pa U) with pab = 4194, pa = 20972 — the integers the float step (−60 mV, −14; tests/test_izhikevich) rounds to."""
    s = 2**13
    graph = one_neuron(v0=-70 * s, u0=-14 * s, i_offset=10)
    trace, _ = emulate_reference(graph, np.zeros((1, 1, 1), np.int64))
    v, u, sq = -70 * s, -14 * s, (4900 * s * s + 2**12) >> 13
    v_want = v + ((41943 * sq + 5 * 2**20 * v - 2**20 * u + 2**19) >> 20) + 150 * s
    u_want = u + ((4194 * v - 20972 * u + 2**19) >> 20)
    assert (trace.states["v"][0, 0, 0], trace.states["u"][0, 0, 0]) == (v_want, u_want)
    assert abs(v_want / s - -60.0) < 1e-3 and abs(u_want / s - -14.0) < 1e-3  # the float step: v' = −60, u' = −14
    assert_same_run(graph, np.zeros((1, 3, 1), np.int64))


def test_spike_resets_and_adds_d():
    """v = 29 mV jumps past 30 mV: z = 1, v ← c = −65 mV, u ← u' + d (the float step: u' = 0.116 mV/ms)."""
    s = 2**13
    graph = one_neuron(v0=29 * s, u0=0)
    trace, _ = emulate_reference(graph, np.zeros((1, 1, 1), np.int64))
    assert trace.spikes[0, 0, 0] == 1 and trace.states["v"][0, 0, 0] == -65 * s
    assert abs(trace.states["u"][0, 0, 0] / s - (0.116 + 8.0)) < 1e-3


def test_saturation_counted_and_kernel_equal():
    """A huge input (mantissa 255 << e 20, i.e. 2^34 at v) saturates V at 2^23 − 1; a huge d saturates U: both are
    counted, and the compiled kernel (dense and sparse engines) agrees bit for bit, counts and their order."""
    graph = replace(one_neuron(v0=0, u0=2**23 - 10, w=255, d=2**23 - 1, vth=2**17 - 1), w_in=FixedDense(
        np.array([[255]], np.int64), np.ones((1, 1), bool), 20))
    x = np.array([[[1], [0], [1], [0]]], np.int64)
    _, stats = emulate_reference(graph, x)
    assert stats.overflow["v"] >= 1 and stats.overflow["u"] >= 1
    assert_same_run(graph, x)
    assert_same_run(graph, np.concatenate([x] * 3))  # batched: threads
    (t1, s1), (t2, s2) = emulate(graph, x), emulate_sparse(graph, x)
    np.testing.assert_array_equal(t1.states["u"], t2.states["u"])
    assert dict(s1.overflow) == dict(s2.overflow)


@pytest.fixture(scope="module")
def izh_fixed(tmp_path_factory):
    graph = load_model(write_yaml(tmp_path_factory.mktemp("izh"), IZH))
    return graph, quantize(graph, load_hw("loihi2"))


def test_quantized_network_follows_float(izh_fixed):
    """The small recurrent IZH network (tests/test_izhikevich): the emulator spikes as the float model in ≥ 99 % of
    neuron-steps, every word within its quantization report's bound, and the kernel equals the reference."""
    graph, fixed = izh_fixed
    assert fixed.neurons.kind == "izhikevich" and fixed.v_scale >= 2**5
    batch = task_batch(graph, 8, seed=3)
    result = compare(graph, fixed, batch)
    assert result.spike_agreement > 0.99 and result.fixed_trace.spikes.sum() > 0
    rows = {r.tensor: r for r in quant_errors(graph, fixed)}
    assert not [r for r in rows.values() if r.lost()]
    assert rows["a"].rel_rms_error < 1e-4 and rows["v_peak"].rel_rms_error == 0.0
    assert_same_run(fixed, batch.inputs[:2])


def test_artifact_round_trip(izh_fixed, tmp_path):
    _, fixed = izh_fixed
    back = load_artifact(save_artifact(fixed, tmp_path / "a"))
    assert back.neurons.kind == "izhikevich"
    for name in ("izh_p2", "izh_c0", "izh_sq_shift", "izh_v0", "izh_u0", "vth"):
        np.testing.assert_array_equal(getattr(back.neurons, name), getattr(fixed.neurons, name))


def test_rk2_integration_refused_for_loihi(tmp_path):
    doc = {**IZH, "populations": [{**IZH["populations"][0], "integration": "spinnaker_rk2", "tau_syn_ms": 5.0}]}
    graph = load_model(write_yaml(tmp_path, doc))
    with pytest.raises(UnsupportedError, match=re.escape(
            "populations[0].integration: loihi2: population 'izh' is Izhikevich with integration 'spinnaker_rk2'; "
            "the Loihi Izhikevich program integrates forward Euler (integration: euler)")):
        quantize(graph, load_hw("loihi2"))
