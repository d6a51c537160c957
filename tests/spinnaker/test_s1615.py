"""s16.15 primitives, the SpiNNaker quantizer and emulator, and clear errors on bad inputs (no sPyNNaker needed)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from neuroport.quantization.spinnaker import shift_for

from neuroport.emulator.spinnaker import emulate_spinnaker
from neuroport.emulator.spinnaker_s1615 import ceil_accum, encode, expk, kdivk, mul
from neuroport.errors import UnsupportedError
from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.pipeline import compare, quantize, task_batch

pytestmark = pytest.mark.spinnaker
WORD = st.integers(-(2**31), 2**31 - 1)


@given(WORD, WORD)
def test_mul_rounds_to_nearest(a, b):
    exact = Fraction(a * b, 2**15)
    got = int(mul(np.array([a]), np.array([b]))[0])
    assert abs(Fraction(got) - exact) <= Fraction(1, 2)
    assert got == int(np.floor(exact + Fraction(1, 2)))  # ties toward +inf


@given(WORD, WORD.filter(lambda b: b != 0))
def test_kdivk_truncates_toward_zero(a, b):
    exact = Fraction(a * 2**15, b)
    got = int(kdivk(np.array([a]), np.array([b]))[0])
    assert got == int(exact)  # int() of a Fraction truncates toward zero


@given(st.integers(-(2**20), 2**20))
def test_ceil_accum_and_encode(x):
    assert int(ceil_accum(np.array([x]))[0]) == -((-x) // 2**15)
    assert int(encode(x / 2**15)) == x


def test_encode_rounds_half_even_and_refuses_range():
    assert encode(np.array([0.5, 1.5]) / 2**15).tolist() == [0, 2]
    with pytest.raises(ValueError, match="range"):
        encode(70000.0)
    with pytest.raises(ZeroDivisionError):
        kdivk(np.array([1]), np.array([0]))


def test_expk_of_decay():
    x = -kdivk(encode(1.0), encode(20.0))
    assert abs(int(expk(x)) - np.exp(-1 / 20) * 2**15) <= 1


def test_shift_follows_spynnaker_and_refuses_too_large():
    hw = load_hw("spinnaker1")
    assert [shift_for(w, hw) for w in (0.0, 0.75, 1.0, 6.0, 8.0)] == [0, 0, 1, 3, 4]
    with pytest.raises(UnsupportedError, match="shift"):
        shift_for(2.0**20, hw)


def test_quantize_emulate_compare(lif_model):
    graph = load_model(lif_model)
    fixed = quantize(graph, load_hw("spinnaker1"))
    receptors = {(p.dense, p.receptor) for p in fixed.projections}
    assert ("w_rec", "excitatory") in receptors and ("w_rec", "inhibitory") in receptors
    assert all(p.weights.max() < 2**16 and p.weights.min() >= 0 for p in fixed.projections)
    result = compare(graph, fixed, task_batch(graph, 4, seed=1))
    assert result.spike_agreement > 0.8 and "accuracy" in result.fixed_score
    with pytest.raises(ValueError, match="channels"):
        emulate_spinnaker(fixed, np.zeros((1, 5, 3)))


def test_ring_buffer_saturates_and_is_counted(lif_model):
    from dataclasses import replace

    fixed = quantize(load_model(lif_model), load_hw("spinnaker1"))
    big = tuple(replace(p, weights=np.where(p.mask, 60000, 0)) if p.name == "w_in_exc" else p for p in fixed.projections)
    _, stats = emulate_spinnaker(replace(fixed, projections=big), np.ones((1, 3, fixed.n_in), dtype=np.uint8))
    assert stats.overflow["ring_buffer_recurrent_excitatory"] > 0


def test_bad_inputs_are_refused(lif_model):
    from neuroport.backends.spinnaker.network import spike_times

    with pytest.raises(UnsupportedError, match="step 0"):
        spike_times(np.ones((1, 3, 2)), 1.0)
    with pytest.raises(UnsupportedError, match="empty"):
        spike_times(np.zeros((1, 3, 2)), 1.0)
