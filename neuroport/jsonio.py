"""Strict JSON for every file and stdout payload neuroport writes: NaN and ±inf become null (RFC 8259 has no
NaN; Python's ``json`` would write the bare token ``NaN``, which strict readers — JavaScript's ``JSON.parse``,
jq, Go — refuse), numpy scalars and arrays become numbers and lists, paths become strings, tuples and sets lists.

    >>> dumps({"loss": float("nan"), "w": np.array([1.0, np.inf])})
    '{"loss": null, "w": [1.0, null]}'
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from neuroport.outputs import write_text


def strict(obj: Any, default: Any = None) -> Any:
    """``obj`` as plain JSON values, with NaN/±inf as None; ``default`` converts other objects (as in ``json``)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, dict):
        return {str(k) if not isinstance(k, (str, int, float, bool)) else k: strict(v, default) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v, default) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return [strict(v, default) for v in sorted(obj, key=repr)]
    if isinstance(obj, np.ndarray):
        return strict(obj.tolist(), default)
    if isinstance(obj, np.generic):
        return strict(obj.item(), default)
    if isinstance(obj, Path):
        return str(obj)
    if default is not None:
        return strict(default(obj))
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any, *, default: Any = None, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`strict` ``(obj)``, refusing any NaN that slipped through (``allow_nan=False``)."""
    return json.dumps(strict(obj, default), allow_nan=False, **kwargs)


def write_json(path: str | Path, obj: Any, *, indent: int | None = 1) -> Path:
    """Write ``obj`` as strict JSON to ``path``; returns the path."""
    return write_text(path, dumps(obj, indent=indent) + "\n")
