"""Physical ranges of model fields and the model name's character set, refused with the range and the reason.

The loader checks types and signs; this module adds what no neuron, chip or task can mean (a time constant of
1e300 ms, a dt of 1 ps) and what a file name must not hold (a path separator, '..', NUL), since a model's name
names its output folders.
"""

from __future__ import annotations

import re

import numpy as np

from neuroport.ir.yamlpath import Section, short_repr

# dt_ms: 1 µs … 1 s.  Below 1 µs no neuron model or chip step means anything (Loihi's time step is ~µs of wall
# clock but stands for ms of model time; NEST's resolution defaults to 0.1 ms); above 1 s a step outlasts every
# membrane time constant of an e-prop network (Bellec et al. 2020: 20 ms–2 s), so its dynamics vanish.
DT_RANGE_MS = (1e-3, 1e3)


def dt_ms_of(top: Section) -> float:
    dt_ms = top.number("dt_ms", 1.0, positive=True)
    if not DT_RANGE_MS[0] <= dt_ms <= DT_RANGE_MS[1]:
        raise top.fail(f"expected {DT_RANGE_MS[0]:g} ≤ dt_ms ≤ {DT_RANGE_MS[1]:g} ms, got {dt_ms} (below 1 µs no "
                       "neuron or chip step means anything; above 1 s a step outlasts every membrane time constant)", "dt_ms")
    return dt_ms


MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")  # names become file and folder names


def safe_name(text: str) -> str:
    """``text`` made a valid model name (characters outside MODEL_NAME's set become '_'), e.g. for an imported
    file's stem; 'imported' when nothing is left."""
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", text).replace("..", "_").lstrip("._+-")[:128]
    return name or "imported"


def model_name(top: Section) -> str:
    """The model's ``name``: letters, digits, '.', '_', '+', '-' (not first), at most 128, no '..' — it names the
    output folders (build/<name>-<target>), so it may hold no path separator, NUL or parent reference."""
    name = top.string("name")
    if not MODEL_NAME.fullmatch(name) or ".." in name:
        raise top.fail(f"expected a name of letters, digits, '.', '_', '+' and '-' (at most 128, starting with a letter "
                       f"or digit, no '..'), got {short_repr(name)}; the name becomes a file name", "name")
    return name


# Largest magnitudes of per-neuron parameters, with the reason; smaller limits come from the quantizer and targets.
MAX_TIME_CONSTANT_MS = 1e7  # 2.8 h: longer than any task sequence (neuroport.tasks.params.MAX_DURATION_MS)
TIME_WHY = "longer than any task sequence (≤ 1e7 ms); exp(−dt/τ) rounds to 1 in every fixed-point format"
MAX_MODEL_UNITS = 1e9  # thresholds and weights are in the same units (a spike through w moves v by w)
UNITS_WHY = "thresholds, adaptation and weights share one unit (e-prop models use v_th ≈ 0.01–1); past 1e9 none is a trained network"
PHYSICAL_MAX = {"tau_m_ms": (MAX_TIME_CONSTANT_MS, TIME_WHY), "tau_a_ms": (MAX_TIME_CONSTANT_MS, TIME_WHY),
                "tau_syn_ms": (MAX_TIME_CONSTANT_MS, TIME_WHY), "t_ref_ms": (MAX_TIME_CONSTANT_MS, TIME_WHY),
                "tau_out_ms": (MAX_TIME_CONSTANT_MS, TIME_WHY), "v_th": (MAX_MODEL_UNITS, UNITS_WHY),
                "beta": (MAX_MODEL_UNITS, UNITS_WHY)}


def physical_range(s: Section, key: str, values: np.ndarray) -> np.ndarray:
    """Refuse values of ``key`` above PHYSICAL_MAX (with the range and the reason)."""
    if key in PHYSICAL_MAX and values.size and float(np.max(np.abs(values))) > PHYSICAL_MAX[key][0]:
        limit, why = PHYSICAL_MAX[key]
        raise s.fail(f"expected at most {limit:g}, got {float(np.max(np.abs(values))):g} ({why})", key)
    return values
