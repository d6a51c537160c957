"""Hardware configs: numeric formats, resource limits, timing and energy per operation.

A config is a YAML file in ``hw_configs/`` (installed as package data ``neuroport.hw_configs``) or any path.
Every number carries ``source:`` (where it comes from) and ``sureness:`` (paper, datasheet, model, estimate,
unverified); loading fails on a number without them.  Nothing else in neuroport holds a hardware number.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from neuroport.errors import HwConfigError
from neuroport.ir.yamlpath import Section, did_you_mean, read_yaml

SURENESS = ("paper", "datasheet", "model", "estimate", "unverified")
FAMILIES = ("loihi", "spinnaker")
OVERFLOWS = ("wrap", "saturate", "lava_u_wrap")
HW_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Quantity:
    """A hardware number with its provenance."""

    value: float
    source: str
    sureness: str


@dataclass(frozen=True)
class NumericFormat:
    """An integer format: ``bits`` wide, ``signed``, what happens on overflow; with its source."""

    bits: int
    signed: bool
    overflow: str
    source: str


@dataclass(frozen=True, eq=False)
class HwConfig:
    name: str
    family: str
    description: str
    numerics: dict[str, NumericFormat]
    params: dict[str, Quantity]  # integer parameters of the numeric profile (shifts, exponent ranges)
    resources: dict[str, Quantity]
    timing: dict[str, Quantity]  # seconds per operation / per step
    energy: dict[str, Quantity]  # joules per operation, watts for static power
    sha256: str
    file: str

    def fmt(self, state: str) -> NumericFormat:
        return _lookup(self.numerics, state, self, "numerics")

    def param(self, name: str) -> int:
        return int(_lookup(self.params, name, self, "params").value)

    def resource(self, name: str) -> int:
        return int(_lookup(self.resources, name, self, "resources").value)

    def time(self, name: str) -> Quantity:
        """Seconds per operation or per step; a missing or non-positive figure is an error naming the field."""
        return _positive(_lookup(self.timing, name, self, "timing"), self, f"timing.{name}")

    def cost(self, name: str) -> Quantity:
        """Joules per operation (watts for power); a missing or non-positive figure is an error naming the field."""
        return _positive(_lookup(self.energy, name, self, "energy"), self, f"energy.{name}")


def _positive(q: Quantity, hw: HwConfig, path: str) -> Quantity:
    if not q.value > 0:
        raise HwConfigError(f"must be a positive number (a cost of {q.value:g} would hide the operation); "
                            "leave a figure out only where the reporter says it is not modelled", file=hw.file, path=path + ".value")
    return q


def _lookup(table: dict[str, Any], key: str, hw: HwConfig, section: str) -> Any:
    if key not in table:
        raise HwConfigError(f"has no '{key}'{did_you_mean(key, tuple(table))}", file=hw.file, path=section)
    return table[key]


def _quantity(s: Section, key: str) -> Quantity:
    q = s.section(key)
    value = q.number("value")
    out = Quantity(value=value, source=q.string("source"), sureness=q.string("sureness", choices=SURENESS))
    q.finish()
    return out


def _quantities(top: Section, key: str) -> dict[str, Quantity]:
    s = top.section(key, {})
    out = {k: _quantity(s, k) for k in list(s.data)}
    s.finish()
    return out


def _format(s: Section, key: str) -> NumericFormat:
    f = s.section(key)
    out = NumericFormat(bits=f.integer("bits", minimum=1), signed=f.boolean("signed"),
                        overflow=f.string("overflow", "saturate", choices=OVERFLOWS), source=f.string("source"))
    f.finish()
    return out


def builtin_configs() -> list[str]:
    """Names of the configs shipped in hw_configs/."""
    return sorted(p.name[:-5] for p in resources.files("neuroport.hw_configs").iterdir() if p.name.endswith(".yaml"))


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        return path
    candidate = resources.files("neuroport.hw_configs") / f"{name_or_path}.yaml"
    if not candidate.is_file():
        known = builtin_configs()
        raise HwConfigError(f"unknown hardware config '{name_or_path}'{did_you_mean(str(name_or_path), known)}; built in: {', '.join(known)}")
    return Path(str(candidate))


def load_hw(name_or_path: str | Path) -> HwConfig:
    """Load a built-in config by name (``loihi2``) or a YAML file by path; errors name file and field."""
    path = _resolve(name_or_path)
    file = str(path)
    top = Section(read_yaml(path, HwConfigError), file=file, path="", error=HwConfigError)
    version = top.integer("hw_config", minimum=1)
    if version > HW_SCHEMA_VERSION:
        raise top.fail(f"hw config format {version} is newer than this neuroport supports ({HW_SCHEMA_VERSION})", "hw_config")
    numerics = top.section("numerics")
    formats = {k: _format(numerics, k) for k in list(numerics.data)}
    numerics.finish()
    hw = HwConfig(
        name=top.string("name"), family=top.string("family", choices=FAMILIES), description=str(top.raw("description", "")),
        numerics=formats, params=_quantities(top, "params"), resources=_quantities(top, "resources"),
        timing=_quantities(top, "timing"), energy=_quantities(top, "energy"),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(), file=file,
    )
    top.finish()
    check_hw_ranges(hw)
    return hw


# Ranges of config numbers (inclusive), with the reason; a value outside is no chip neuroport can model.
SHIFT = (0, 31, "a shift within a 32-bit datapath")
PARAM_RANGES = {"vth_shift": SHIFT, "act_shift": SHIFT, "state_frac_bits": (1, 31, "fractional bits of a 32-bit state"),
                "weight_exp_min": (-16, 16, "a weight exponent of a ≤ 32-bit accumulator"),
                "weight_exp_max": (-16, 16, "a weight exponent of a ≤ 32-bit accumulator"),
                "weight_bits": (1, 32, "a weight of at most 32 bits"), "vth_max": (1, 2**31 - 1, "a threshold of ≤ 32 bits")}
OTHER_PARAM = (-(2**31), 2**31 - 1, "an integer parameter of a 32-bit chip")
RESOURCE = (1, 2**48, "a count of cores, neurons, synapses or bytes")
PER_OPERATION = (0.0, 1e6, "seconds or joules per operation, watts of static power")


def check_hw_ranges(hw: HwConfig) -> None:
    """Refuse config numbers outside their range (``<section>.<name>.value`` in the message); params and resources
    must be integers; numeric formats 1–64 bits; weight_exp_min ≤ weight_exp_max."""
    def fail(section: str, name: str, message: str, field: str = "value") -> HwConfigError:
        return HwConfigError(message, file=hw.file, path=f"{section}.{name}.{field}")

    for name, fmt in hw.numerics.items():
        if fmt.bits > 64:
            raise fail("numerics", name, f"expected at most 64 bits, got {fmt.bits} (neuroport's integer states are int64)", "bits")
    tables = [("params", hw.params, lambda n: PARAM_RANGES.get(n, OTHER_PARAM), True),
              ("resources", hw.resources, lambda n: RESOURCE, True),
              ("timing", hw.timing, lambda n: PER_OPERATION, False), ("energy", hw.energy, lambda n: PER_OPERATION, False)]
    for section, table, bounds, integral in tables:
        for name, q in table.items():
            low, high, why = bounds(name)
            if integral and not float(q.value).is_integer():
                raise fail(section, name, f"expected an integer, got {q.value}")
            if not low <= q.value <= high:
                raise fail(section, name, f"expected {low:g} ≤ value ≤ {high:g} ({why}), got {q.value:g}")
            if not integral:
                _positive(q, hw, f"{section}.{name}")  # a zero time or energy would hide the operation
    if "weight_exp_min" in hw.params and "weight_exp_max" in hw.params \
            and hw.params["weight_exp_min"].value > hw.params["weight_exp_max"].value:
        raise fail("params", "weight_exp_min", "expected weight_exp_min ≤ weight_exp_max")
