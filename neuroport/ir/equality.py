"""Structural equality of the IR's frozen dataclasses that hold numpy arrays (and synapse lists): arrays are
compared exactly (NaN equal to NaN in float arrays), tuples element by element."""

from __future__ import annotations

from typing import Any

import numpy as np

from neuroport.ir.synapses import Synapses


def values_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if a is None or b is None:
            return a is b
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        return a_arr.shape == b_arr.shape and bool(np.array_equal(a_arr, b_arr, equal_nan=a_arr.dtype.kind == "f"))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Synapses) or isinstance(b, Synapses):
        return nodes_equal(a, b)
    return bool(a == b)


def nodes_equal(a: Any, b: Any) -> bool:
    """Structural equality for dataclasses holding numpy arrays (arrays compared exactly)."""
    if type(a) is not type(b):
        return False
    names = a.__dataclass_fields__.keys()
    return all(values_equal(getattr(a, n), getattr(b, n)) for n in names)
