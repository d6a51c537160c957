"""NeuroBench-style metrics pinned by a hand count on a tiny network with known spikes."""

from __future__ import annotations

import numpy as np
import pytest

from neuroport.ir.fixed_graph import FixedDense, FixedGraph, FixedNeurons, FixedReadout
from neuroport.reporters.neurobench import neurobench_metrics


def test_metrics_by_hand():
    z = lambda n: np.zeros(n, dtype=np.int64)  # noqa: E731
    w_in = np.array([[2, 0], [4, -6]])  # 3 non-zero of 4
    w_rec = np.array([[0, 2], [0, 0]])  # 1 non-zero of 4
    w_out = np.array([[2, 2]])  # 2 non-zero of 2
    dense = lambda w: FixedDense(w, np.ones(w.shape, bool), 0)  # noqa: E731
    g = FixedGraph(name="t", profile="loihi", hw_name="loihi2", hw_sha256="", dt_ms=1.0,
                   neurons=FixedNeurons("alif", z(2), z(2) + 1, z(2), z(2), z(2), z(2), z(2), (("p", "lif", 0, 2),)),
                   readout=FixedReadout(z(1)), w_in=dense(w_in), w_rec=dense(w_rec), w_out=dense(w_out), v_scale=1.0, loss="mse")
    x = np.array([[[1, 0], [1, 1], [0, 0]]])  # input spikes per step
    s = np.array([[[0, 1], [1, 1], [0, 0]]])  # recurrent spikes per step
    m = neurobench_metrics(g, x, s)
    # inputs: t0 x=[1,0] reaches column 0: 2 non-zero; t1 x=[1,1]: 2 + 1 = 3  → 5
    # recurrent (z[t−1]): t1 sees [0,1]: column 1 of w_rec has 1 non-zero, of w_out 1 → 2; t2 sees [1,1]: w_rec 1, w_out 2 → 3
    assert m.effective_acs == 5 + 2 + 3
    assert m.dense_ops == (4 + 4 + 2) * 3
    assert m.activation_sparsity == pytest.approx(1 - 3 / 6)
    assert m.connection_sparsity == pytest.approx(4 / 10)
    assert m.parameter_count == 10 + 5 * 2 + 1
