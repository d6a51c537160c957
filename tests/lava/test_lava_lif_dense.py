"""The emulator equals Lava's own LIF + Dense fixed_pt processes bit for bit (every u, v and spike, every step).

Lava is the independent reference here: the network is built from Lava's stock processes (RingBuffer → Dense →
LIF with a recurrent Dense), run with Loihi2SimCfg(select_tag="fixed_pt"), and u, v read back after every step.
Lava runs one step behind the emulator (a Dense buffers its output for a step): fed the same spikes after one
silent step, the emulator equals Lava at every step, the bias of Lava's first step included.
"""

from __future__ import annotations

import numpy as np
import pytest
from neuroport.quantization.loihi import lava_dense_weights

from neuroport.emulator.fixed import emulate
from neuroport.ir.fixed_graph import FixedDense, FixedGraph, FixedNeurons, FixedReadout

pytestmark = pytest.mark.lava


def lava_run(w_in, w_rec, e_in, e_rec, du, dv, vth, bias_mant, spikes):
    """Run Lava's own processes; return u, v (n_steps + 1, n) and spikes (n_steps + 1, n)."""
    from neuroport.backends.loihi.compat import ensure_lava_importable

    ensure_lava_importable()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    n_steps = spikes.shape[0] + 1
    n = w_rec.shape[0]
    data = np.concatenate([spikes.T, np.zeros((spikes.shape[1], 1))], axis=1)  # (n_in, n_steps)
    src = Source(data=data)
    d_in = Dense(weights=w_in, weight_exp=e_in, num_message_bits=0)
    d_rec = Dense(weights=w_rec, weight_exp=e_rec, num_message_bits=0)
    lif = LIF(shape=(n,), du=du, dv=dv, vth=vth, bias_mant=bias_mant, bias_exp=0)
    sink = Sink(shape=(n,), buffer=n_steps)
    src.s_out.connect(d_in.s_in)
    d_in.a_out.connect(lif.a_in)
    lif.s_out.connect(d_rec.s_in)
    d_rec.a_out.connect(lif.a_in)
    lif.s_out.connect(sink.a_in)
    us, vs = [], []
    try:
        for _ in range(n_steps):
            lif.run(condition=RunSteps(num_steps=1), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            us.append(lif.u.get().astype(np.int64))
            vs.append(lif.v.get().astype(np.int64))
        out = sink.data.get().T.astype(np.int64)
    finally:
        lif.stop()
    return np.array(us), np.array(vs), out


def lava_lif_graph(w_in, w_rec, e_in, e_rec, du, dv, vth, bias_mant) -> FixedGraph:
    n = w_rec.shape[0]
    neurons = FixedNeurons(
        kind="lava_lif", dv=np.full(n, dv), vth=np.full(n, vth), da=np.zeros(n, dtype=np.int64),
        a_inc=np.zeros(n, dtype=np.int64), n_ref=np.zeros(n, dtype=np.int64), du=np.full(n, du),
        bias=np.asarray(bias_mant, dtype=np.int64), populations=(("lif", "lif", 0, n),),
    )
    dense = lambda w, e: FixedDense(weights=lava_dense_weights(w), mask=np.ones(w.shape, bool), weight_exp=e)  # noqa: E731
    return FixedGraph(
        name="lava_check", profile="loihi", hw_name="loihi2", hw_sha256="", dt_ms=1.0, neurons=neurons,
        readout=FixedReadout(dy=np.zeros(1, dtype=np.int64)), w_in=dense(w_in, e_in), w_rec=dense(w_rec, e_rec),
        w_out=FixedDense(weights=np.zeros((1, n), np.int64), mask=np.zeros((1, n), bool), weight_exp=0),
        v_scale=1.0, loss="mse",
    )


CASES = {
    # name: (seed, n_in, n, weight range, e_in, e_rec, du, dv, vth, bias range, input rate, steps)
    "plain": (1, 6, 5, 60, 0, 0, 400, 300, 80, 0, 0.4, 25),
    "u_wraps": (2, 8, 4, 255, 7, 6, 0, 100, 100000, 0, 0.9, 20),  # u beyond ±2^23 wraps (Lava's boundary)
    "v_saturates": (3, 8, 4, 255, 6, 0, 4095, 0, 131071, 0, 0.9, 20),  # v clips at ±(2^23 − 1), never spikes
    "mixed_odd_weights_bias": (4, 5, 6, 255, 2, -1, 2000, 1000, 300, 400, 0.5, 25),  # odd weights truncated
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_emulator_equals_lava_lif_dense(case):
    seed, n_in, n, w_max, e_in, e_rec, du, dv, vth, b_max, rate, steps = CASES[case]
    rng = np.random.default_rng(seed)
    w_in = rng.integers(-w_max, w_max + 1, (n, n_in))
    w_rec = rng.integers(-w_max, w_max + 1, (n, n))
    bias = rng.integers(-b_max, b_max + 1, n) if b_max else np.zeros(n, dtype=np.int64)
    spikes = (rng.random((steps, n_in)) < rate).astype(np.int64)
    us, vs, s_lava = lava_run(w_in, w_rec, e_in, e_rec, du, dv, vth, bias, spikes)
    delayed = np.concatenate([np.zeros((1, n_in), dtype=np.int64), spikes])
    trace, stats = emulate(lava_lif_graph(w_in, w_rec, e_in, e_rec, du, dv, vth, bias), delayed[None])
    np.testing.assert_array_equal(us, trace.states["u"][0])
    np.testing.assert_array_equal(vs, trace.states["v"][0])
    np.testing.assert_array_equal(s_lava, trace.spikes[0])
    assert trace.spikes.any(), "every case must make neurons spike"
    if case == "u_wraps":
        assert stats.overflow["u"] > 0
    if case == "v_saturates":
        assert stats.overflow["v"] > 0 and np.abs(trace.states["v"]).max() == 2**23 - 1
