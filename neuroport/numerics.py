"""Integer arithmetic of the targets — the only place it is defined.

Every function works elementwise on int64 numpy arrays and, where the hardware wraps or saturates, returns
how many elements did so, so that the emulator can count overflow instead of hiding it.

Loihi (Lava's ``fixed_pt`` models, lava-nc 0.10.0 lava/proc/lif/models.py and lava/proc/dense/models.py):
    decay12(x, d) = sign(x · (4096 − d)) · (|x · (4096 − d)| >> 12)       truncation toward zero
    u wraps at 24 bits with Lava's boundary: u > 2^23 → u − 2^24;  u ≤ −2^23 → u + 2^24
    v saturates to [−(2^23 − 1), 2^23 − 1]
    shift(x, e) = x << e for e > 0, x >> −e (arithmetic, toward −∞) for e ≤ 0
"""

from __future__ import annotations

import numpy as np

DECAY_SHIFT = 12  # decays are 12-bit fractions of 4096 (Lava: decay_shift)
DECAY_UNITY = 1 << DECAY_SHIFT


def decay12(x: np.ndarray, d: np.ndarray | int) -> np.ndarray:
    """x · (4096 − d) / 4096, truncated toward zero (Lava's LIF decay of u and v)."""
    prod = np.asarray(x, dtype=np.int64) * (DECAY_UNITY - np.asarray(d, dtype=np.int64))
    return np.sign(prod) * (np.abs(prod) >> DECAY_SHIFT)


def shift(x: np.ndarray, exponent: int | np.ndarray) -> np.ndarray:
    """Left shift by a positive exponent, arithmetic right shift by a negative one (numpy's >>: toward −∞)."""
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    return np.where(e >= 0, np.left_shift(x, np.maximum(e, 0)), np.right_shift(x, np.maximum(-e, 0)))


def wrap_signed(x: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """Two's-complement wrap into ``bits`` bits: [−2^(bits−1), 2^(bits−1) − 1].  Returns (value, events)."""
    x = np.asarray(x, dtype=np.int64)
    half = np.int64(1) << (bits - 1)
    wrapped = ((x + half) & ((half << 1) - 1)) - half
    return wrapped, int(np.count_nonzero(wrapped != x))


def wrap_lava_u(x: np.ndarray, bits: int = 24) -> tuple[np.ndarray, int]:
    """Lava's 24-bit wrap of the LIF current u: x > 2^23 → x − 2^24;  x ≤ −2^23 → x + 2^24 (a single fold).

    The boundaries differ from two's complement: +2^23 is kept, −2^23 becomes +2^23.
    """
    x = np.asarray(x, dtype=np.int64)
    half = np.int64(1) << (bits - 1)
    out = np.where(x > half, x - 2 * half, x)
    out = np.where(out <= -half, x + 2 * half, out)
    return out, int(np.count_nonzero(out != x))


def saturate(x: np.ndarray, low: int | np.ndarray, high: int | np.ndarray) -> tuple[np.ndarray, int]:
    """Clip to [low, high].  Returns (value, events)."""
    x = np.asarray(x, dtype=np.int64)
    out = np.clip(x, low, high)
    return out, int(np.count_nonzero(out != x))


def saturate_signed(x: np.ndarray, bits: int, symmetric: bool = True) -> tuple[np.ndarray, int]:
    """Saturate to ``bits`` signed bits; symmetric: [−(2^(b−1) − 1), 2^(b−1) − 1] (Lava's v), else two's range."""
    top = (1 << (bits - 1)) - 1
    return saturate(x, -top if symmetric else -top - 1, top)


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round to nearest, ties away from zero (numpy's round is ties-to-even)."""
    x = np.asarray(x, dtype=np.float64)
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def truncate_lsbs(x: np.ndarray, n_bits: int) -> np.ndarray:
    """(x >> n) << n: zero the n least significant bits, rounding toward −∞ (Lava's weight truncation)."""
    x = np.asarray(x, dtype=np.int64)
    return (x >> n_bits) << n_bits
