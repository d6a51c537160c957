"""The conformance cases reach the edges they are named for (checked on the emulator, the oracle)."""

from __future__ import annotations

import numpy as np

from neuroport.emulator.fixed import emulate
from neuroport.testing.conformance import CASES


def run(name):
    graph, inputs = CASES[name]()
    return graph, inputs, *emulate(graph, inputs)


def test_threshold_equality_spikes():
    """v reaches exactly vth << 6 = 64 and spikes; the subtractive reset then cancels the next input."""
    _, inputs, trace, _ = run("threshold_equality")
    v, z = trace.states["v"][0, :, 0], trace.spikes[0, :, 0]
    np.testing.assert_array_equal(z, v == 64)
    np.testing.assert_array_equal(z, [0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1])


def test_saturation_cases_saturate():
    assert run("voltage_saturation")[3].overflow["v"] > 0
    assert run("readout_saturation")[3].overflow["y"] > 0


def test_refractoriness_spaces_spikes():
    graph, _, trace, _ = run("refractoriness")
    intervals = [np.diff(np.flatnonzero(trace.spikes[0, :, j])) for j in range(graph.n_rec)]
    assert min(i.min() for i in intervals if i.size) == 3  # n_ref = 3: driven neurons fire every 3rd step
    assert sum(i.size for i in intervals) > 10


def test_adaptation_raises_thresholds():
    _, _, trace, _ = run("alif_adaptation")
    assert trace.states["a"].max() > 0 and trace.spikes.sum() > 0
