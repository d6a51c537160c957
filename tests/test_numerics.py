"""Property tests of the integer primitives (hypothesis) and their boundaries."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from neuroport.numerics import decay12, round_half_away, saturate_signed, shift, truncate_lsbs, wrap_lava_u, wrap_signed

ints = st.integers(min_value=-(2**40), max_value=2**40)


@given(ints, st.integers(0, 4096))
def test_decay_truncates_toward_zero(x, d):
    exact = x * (4096 - d) / 4096
    got = int(decay12(np.array([x]), d)[0])
    assert abs(got) <= abs(exact) < abs(got) + 1
    assert got == 0 or np.sign(got) == np.sign(x)


def test_decay_of_negative_values_truncates_up():
    np.testing.assert_array_equal(decay12(np.array([-7, 7, -4096, -1]), 2048), [-3, 3, -2048, 0])


@given(ints, st.integers(2, 40))
def test_wrap_signed_is_modular(x, bits):
    out, events = wrap_signed(np.array([x]), bits)
    v = int(out[0])
    assert -(2 ** (bits - 1)) <= v < 2 ** (bits - 1)
    assert (v - x) % (2**bits) == 0
    assert events == int(v != x)


def test_lava_u_wrap_boundaries():
    h = 2**23
    out, events = wrap_lava_u(np.array([h, h + 1, -h, -h + 1, -h - 1]))
    np.testing.assert_array_equal(out, [h, -h + 1, h, -h + 1, h - 1])
    assert events == 3


@given(ints, st.integers(2, 40))
def test_saturate_signed(x, bits):
    out, events = saturate_signed(np.array([x]), bits)
    top = 2 ** (bits - 1) - 1
    assert int(out[0]) == min(max(x, -top), top)
    assert events == int(abs(x) > top)


@given(st.integers(-(2**30), 2**30), st.integers(-10, 10))
def test_shift(x, e):
    got = int(shift(np.array([x]), e)[0])
    assert got == (x << e if e >= 0 else x >> -e)


def test_rounding_and_truncation():
    np.testing.assert_array_equal(round_half_away(np.array([0.5, 1.5, -0.5, -2.5, 2.4])), [1, 2, -1, -3, 2])
    np.testing.assert_array_equal(truncate_lsbs(np.array([3, -3, 4, -1]), 1), [2, -4, 4, -2])
