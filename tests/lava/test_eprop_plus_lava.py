"""loihi-sim runs e-prop+ neurons: neuroport's NeuroportEpropPlus process (fixed_pt, the reset in the spike step)
with Lava's own Dense equals the emulator's ``eprop_plus`` kind bit for bit — every spike, v, a and readout value
at every step — on a small seeded network (LIF and ALIF neurons, refractoriness) and on the e-prop+ example."""

from __future__ import annotations

import numpy as np
import pytest

from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.pipeline import quantize, task_batch
from tests.conftest import write_yaml
from tests.test_eprop_plus_loihi import EXAMPLE, plus_doc

pytestmark = pytest.mark.lava


def _backend():
    from neuroport.backend import load_backend

    return load_backend("loihi-sim")


def test_small_seeded_network_bit_exact(tiny_doc, tmp_path):
    graph = load_model(write_yaml(tmp_path, plus_doc(tiny_doc)))
    fixed = quantize(graph, load_hw("loihi2"))
    assert fixed.neurons.kind == "eprop_plus" and fixed.neurons.a_inc.max() > 0 and fixed.neurons.n_ref.max() > 0
    batch = task_batch(graph, 2, seed=7)
    result = _backend().verify_against_emulator(fixed, batch.inputs, max_samples=2)
    assert result["bit_exact"], result
    assert result["values_compared"] == 2 * batch.n_steps * (3 * 10 + 1)
    lava = _backend().run(_backend().lower(fixed, load_hw("loihi2")), batch.inputs)
    assert lava.spikes.sum() > 20  # the comparison covers resets, not a silent network


def test_example_bit_exact_and_lowered_to_the_eprop_plus_process():
    graph = load_model(EXAMPLE)
    fixed = quantize(graph, load_hw("loihi2"))
    backend = _backend()
    described = backend.lower(fixed, load_hw("loihi2")).describe()
    neurons = next(p for p in described["processes"] if p["name"] == "neurons")
    assert neurons["process"] == "neuroport.backends.loihi.lava_procs.eprop_plus.NeuroportEpropPlus"
    assert backend.check(fixed, load_hw("loihi2")) == []
    x = task_batch(graph, 1, seed=3).inputs[:, :200]
    result = backend.verify_against_emulator(fixed, x, max_samples=1)
    assert result["bit_exact"], result
    assert np.sum(backend.run(backend.lower(fixed, load_hw("loihi2")), x).spikes) > 0
