"""Synaptic delays in the fixed-point emulator equal Lava 0.10's ``DelayDense`` (bit-accurate model) bit for bit.

Lava is the independent reference: (1) its stock LIF with input and recurrent ``DelayDense`` connections (delays
d − 1 in Lava's convention, where 0 is a plain Dense's one step), u, v and spikes read back every step; (2) the
loihi-sim backend's own process graph (neuroport's ALIF + readout, DelayDense for delayed connections) of a
quantized YAML model with delays on input, recurrent and readout projections, compared by
``verify_against_emulator`` (spikes, v, a and readout of every step).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from neuroport.quantization.loihi import lava_dense_weights

from neuroport.emulator.fixed import emulate
from tests.lava.test_lava_lif_dense import lava_lif_graph

pytestmark = pytest.mark.lava


def lava_delay_run(w_in, w_rec, d_in, d_rec, e_in, e_rec, du, dv, vth, spikes):
    """Lava's LIF with DelayDense input and recurrent connections, one run: spikes (n_steps + 1, n) and the final
    u, v."""
    from neuroport.backends.loihi.compat import ensure_lava_importable

    ensure_lava_importable()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import DelayDense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    n_steps, n = spikes.shape[0] + 1, w_rec.shape[0]
    src = Source(data=np.concatenate([spikes.T, np.zeros((spikes.shape[1], 1))], axis=1))
    dense_in = DelayDense(weights=w_in, delays=d_in - 1, weight_exp=e_in, num_message_bits=0)
    dense_rec = DelayDense(weights=w_rec, delays=d_rec - 1, weight_exp=e_rec, num_message_bits=0)
    lif = LIF(shape=(n,), du=du, dv=dv, vth=vth, bias_mant=0, bias_exp=0)
    sink = Sink(shape=(n,), buffer=n_steps)
    src.s_out.connect(dense_in.s_in)
    dense_in.a_out.connect(lif.a_in)
    lif.s_out.connect(dense_rec.s_in)
    dense_rec.a_out.connect(lif.a_in)
    lif.s_out.connect(sink.a_in)
    try:
        lif.run(condition=RunSteps(num_steps=n_steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        u, v, out = lif.u.get().astype(np.int64), lif.v.get().astype(np.int64), sink.data.get().T.astype(np.int64)
    finally:
        lif.stop()
    return u, v, out


def test_emulator_equals_lava_delay_dense_with_lif():
    """Delays 1–5 on input and recurrent synapses, a negative exponent (per-slot truncation) on the recurrent one."""
    rng = np.random.default_rng(11)
    n_in, n, steps = 5, 5, 60
    w_in, w_rec = rng.integers(-120, 121, (n, n_in)), rng.integers(-200, 201, (n, n))
    d_in, d_rec = rng.integers(1, 6, (n, n_in)), rng.integers(1, 5, (n, n))
    spikes = (rng.random((steps, n_in)) < 0.4).astype(np.int64)
    u, v, s_lava = lava_delay_run(w_in, w_rec, d_in, d_rec, 1, -1, 600, 400, 60, spikes)
    graph = lava_lif_graph(w_in, w_rec, 1, -1, 600, 400, 60, np.zeros(n, dtype=np.int64))
    graph = replace(graph, w_in=replace(graph.w_in, delays=d_in), w_rec=replace(graph.w_rec, delays=d_rec))
    x = np.concatenate([np.zeros((1, n_in), dtype=np.int64), spikes])[None]
    trace, _ = emulate(graph, x)
    np.testing.assert_array_equal(s_lava, trace.spikes[0])
    np.testing.assert_array_equal(u, trace.states["u"][0, -1])
    np.testing.assert_array_equal(v, trace.states["v"][0, -1])
    assert trace.spikes.sum() >= 10, "the case must spike"
    # the delays matter: the same weights without them give a different run
    plain, _ = emulate(lava_lif_graph(w_in, w_rec, 1, -1, 600, 400, 60, np.zeros(n, dtype=np.int64)), x)
    assert not np.array_equal(plain.states["u"], trace.states["u"])
    assert lava_dense_weights(w_in).shape == w_in.shape


def test_loihi_sim_backend_with_delays_is_bit_exact(tmp_path, tiny_doc):
    """A YAML model with delays on all three kinds of projection: quantized, lowered to DelayDense, run in Lava."""
    from neuroport.backends.loihi.backend import LoihiSimBackend
    from neuroport.quantization.loihi import quantize_loihi

    from neuroport.hw import load_hw
    from neuroport.ir.loader import load_model
    from tests.conftest import write_yaml

    for proj, delay in zip(tiny_doc["projections"], (3, 2, 4), strict=True):
        proj["delay_steps"] = delay
    graph = load_model(write_yaml(tmp_path, tiny_doc))
    fixed = quantize_loihi(graph, load_hw("loihi2"))
    assert [d.max_delay for d in fixed.dense().values()] == [3, 2, 4]
    x = (np.random.default_rng(2).random((1, 40, graph.input.size)) < 0.3).astype(np.int64)
    x[:, :2] = 0
    result = LoihiSimBackend().verify_against_emulator(fixed, x, max_samples=1)
    assert result["bit_exact"], result["mismatches"]
    trace, _ = emulate(fixed, x)
    assert trace.spikes.sum() >= 5 and np.abs(trace.readout).max() > 0


def test_lava_onchip_learning_refuses_delays(tmp_path, tiny_doc):
    from neuroport.backends.loihi.onchip import LavaOnChipNetwork
    from neuroport.quantization.loihi import quantize_loihi

    from neuroport.errors import UnsupportedError
    from neuroport.hw import load_hw
    from neuroport.ir.loader import load_model
    from tests.conftest import write_yaml

    tiny_doc["projections"][1]["delay_steps"] = 2
    fixed = quantize_loihi(load_model(write_yaml(tmp_path, tiny_doc)), load_hw("loihi2"))
    with pytest.raises(UnsupportedError, match="on-chip learning with synaptic delays is not supported"):
        LavaOnChipNetwork(fixed, None, None, 20.0, 20.0)  # refused before the rule or the batch is looked at
