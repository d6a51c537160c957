"""A design space (SPACE.yaml): the axes, their values, and the points — every combination of the values.

    explore: 1
    name: ea_space
    samples: 32            # held-out task samples each point is scored on (seed test_seed, never seen in training)
    test_seed: 12345
    target: emulator
    axes:
      model: [../examples/evidence_accumulation.yaml]   # paths relative to this file
      hw: [loihi1, loihi2, spinnaker1, spinnaker2]
      weight_bits: [4, 6, 8]          # loihi: numerics.weight.bits; spinnaker: params.weight_bits
      v_bits: [24, 32]                # numerics.v.bits (spinnaker); Loihi's registers are 24 bits
      size: [50, 100]                 # recurrent neurons, the model's populations scaled in proportion
      connectivity: [0.2, 1.0]        # connection_probability of the recurrent projections
      learning_rate: [0.001, 0.005]
      seed: [1, 2]                    # the model's seed: initial weights and training data
      train_iterations: [0, 50]       # e-prop iterations before quantizing (0: the model as it is)

Only ``model`` is required; a missing axis keeps the model's (or the hw config's) own value.  A point's key is
the SHA-256 of its full configuration (axis values, the model file's and hw config's SHA-256, samples, seed,
target), so a changed model file or config is a new point and an unchanged one is never recomputed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from neuroport.errors import NeuroportError
from neuroport.hw import HwConfig, Quantity, load_hw
from neuroport.ir.yamlpath import did_you_mean, read_yaml

SPACE_VERSION = 1
AXES = ("model", "hw", "weight_bits", "v_bits", "size", "connectivity", "learning_rate", "seed", "train_iterations")
SETTINGS = {"explore": None, "name": None, "description": "", "samples": 32, "test_seed": 12345, "target": "emulator",
            "train_batch_size": None, "axes": None}
INTEGER_AXES = ("weight_bits", "v_bits", "size", "seed", "train_iterations")
LOIHI_STATE_BITS = 24  # Lava's uv_bitwidth: the emulator's u, v, a and y registers (neuroport.emulator.fixed)


class SpaceError(NeuroportError):
    """A design-space file is malformed or names values the model or the hw configs reject."""


@dataclass(frozen=True)
class Point:
    """One combination of axis values with everything that determines its result; ``key`` names its result."""

    config: dict[str, Any]
    key: str


@dataclass(frozen=True)
class Space:
    name: str
    file: str
    axes: dict[str, list[Any]]
    settings: dict[str, Any]

    def points(self) -> list[Point]:
        names = list(self.axes)
        base = Path(self.file).parent
        return [make_point(dict(zip(names, values, strict=True)), self.settings, base)
                for values in itertools.product(*(self.axes[n] for n in names))]


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_point(values: dict[str, Any], settings: dict[str, Any], base: Path) -> Point:
    """The point's full configuration: every axis (None where the space leaves it to the model) and setting.
    The key hashes the model as written in the space with its SHA-256, not where the space lies on this disk
    (``model_file``, the absolute path the workers read), so a moved or shared results folder still resumes."""
    config = {axis: values.get(axis) for axis in AXES} | {k: settings[k] for k in ("samples", "test_seed", "target", "train_batch_size")}
    model_file = str((base / config["model"]).resolve())
    config["model_sha256"] = file_sha256(model_file)
    hw = load_hw(config["hw"] or "loihi2")
    config["hw"], config["hw_sha256"] = config["hw"] or "loihi2", hw.sha256
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return Point(config=config | {"model_file": model_file}, key=hashlib.sha256(text.encode()).hexdigest()[:20])


def load_space(file: str | Path) -> Space:
    """Read and validate SPACE.yaml; every error names the file and the YAML path of the field."""
    file = str(file)
    doc = read_yaml(file, SpaceError)
    if not isinstance(doc, dict):
        raise SpaceError("expected a mapping with `explore: 1` and `axes:`", file=file)
    for key in doc:
        if key not in SETTINGS:
            raise SpaceError(f"unknown field '{key}'{did_you_mean(key, tuple(SETTINGS))}; fields: {', '.join(SETTINGS)}", file=file, path=key)
    if doc.get("explore") != SPACE_VERSION:
        raise SpaceError(f"expected `explore: {SPACE_VERSION}` (the space format version), got {doc.get('explore')!r}", file=file, path="explore")
    settings = {k: doc.get(k, default) for k, default in SETTINGS.items()}
    _check_settings(settings, file)
    axes = _axes(doc.get("axes"), Path(file).parent, file)
    check_hw_values(axes, file)
    return Space(name=str(doc.get("name") or Path(file).stem), file=file, axes=axes, settings=settings)


def _check_settings(settings: dict[str, Any], file: str) -> None:
    for key in ("samples", "test_seed"):
        if not isinstance(settings[key], int) or isinstance(settings[key], bool) or settings[key] < (1 if key == "samples" else 0):
            raise SpaceError(f"expected an integer ≥ {1 if key == 'samples' else 0}, got {settings[key]!r}", file=file, path=key)
    batch = settings["train_batch_size"]
    if batch is not None and (not isinstance(batch, int) or batch < 1):
        raise SpaceError(f"expected an integer ≥ 1 or null, got {batch!r}", file=file, path="train_batch_size")


def _axes(raw: Any, base: Path, file: str) -> dict[str, list[Any]]:
    if not isinstance(raw, dict) or not raw:
        raise SpaceError("expected a mapping of axis → list of values", file=file, path="axes")
    axes = {}
    for name, values in raw.items():
        path = f"axes.{name}"
        if name not in AXES:
            raise SpaceError(f"unknown axis '{name}'{did_you_mean(str(name), AXES)}; axes: {', '.join(AXES)}", file=file, path=path)
        values = values if isinstance(values, list) else [values]
        if not values:
            raise SpaceError("empty axis: give at least one value (or leave the axis out)", file=file, path=path)
        axes[name] = [_value(name, v, base, file, f"{path}[{i}]") for i, v in enumerate(values)]
    if "model" not in axes:
        raise SpaceError("the space needs at least one model: axes.model: [path/to/model.yaml]", file=file, path="axes")
    return axes


def _value(axis: str, value: Any, base: Path, file: str, path: str) -> Any:
    """One axis value, checked for its type and range."""
    if axis == "model":
        if not (base / str(value)).is_file():
            raise SpaceError(f"model file not found: {base / str(value)}", file=file, path=path)
        return str(value)
    if axis == "hw":
        return str(value)
    if axis in INTEGER_AXES:
        low = 0 if axis in ("seed", "train_iterations") else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise SpaceError(f"expected an integer ≥ {low}, got {value!r}", file=file, path=path)
        return value
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0 or (axis == "connectivity" and value > 1):
        expected = "a probability in (0, 1]" if axis == "connectivity" else "a number > 0"
        raise SpaceError(f"expected {expected}, got {value!r}", file=file, path=path)
    return float(value)


def check_hw_values(axes: dict[str, list[Any]], file: str) -> None:
    """Every hw config loads and takes every weight_bits / v_bits value (before anything runs)."""
    for i, name in enumerate(axes.get("hw", ["loihi2"])):
        try:
            hw = load_hw(name)
        except NeuroportError as err:
            raise SpaceError(err.message, file=file, path=f"axes.hw[{i}]") from None
        for axis in ("weight_bits", "v_bits"):
            for j, bits in enumerate(axes.get(axis, [])):
                problem = bits_problem(hw, axis, bits)
                if problem:
                    raise SpaceError(problem, file=file, path=f"axes.{axis}[{j}]")


def bits_problem(hw: HwConfig, axis: str, bits: int) -> str | None:
    """Why ``hw`` cannot hold ``bits`` for ``axis`` (None if it can): no format wider than the config's own, Loihi's
    24-bit state registers fixed, SpiNNaker's ring-buffer shift needing v bits > weight bits."""
    native = native_bits(hw, axis)
    if axis == "v_bits" and hw.family == "loihi" and bits != native:
        return (f"{hw.name} holds v in {native} bits (Lava's uv_bitwidth, the emulator's registers); "
                f"v_bits applies to the spinnaker family, got {bits}")
    if bits > native:
        field = "params.weight_bits" if (axis == "weight_bits" and hw.family == "spinnaker") else f"numerics.{axis[:-5]}.bits"
        return f"{bits} bits is more than {hw.name} holds ({field} = {native})"
    if axis == "v_bits" and hw.family == "spinnaker" and bits <= hw.param("weight_bits") + 1:
        return f"{hw.name} needs v_bits > params.weight_bits + 1 = {hw.param('weight_bits') + 1} (the ring-buffer shift), got {bits}"
    return None


def native_bits(hw: HwConfig, axis: str) -> int:
    if axis == "weight_bits" and hw.family == "spinnaker":
        return hw.param("weight_bits")
    return hw.fmt("weight" if axis == "weight_bits" else "v").bits


def hw_with_bits(hw: HwConfig, weight_bits: int | None, v_bits: int | None) -> HwConfig:
    """``hw`` with the explored widths (checked by :func:`bits_problem`); None keeps the config's own."""
    for axis, bits in (("weight_bits", weight_bits), ("v_bits", v_bits)):
        if bits is None:
            continue
        problem = bits_problem(hw, axis, bits)
        if problem:
            raise SpaceError(problem, file=hw.file)
        if axis == "weight_bits" and hw.family == "spinnaker":
            old = hw.params["weight_bits"]
            hw = replace(hw, params={**hw.params, "weight_bits": Quantity(bits, f"explored ({old.source})", old.sureness)})
        else:
            fmt = hw.fmt("weight" if axis == "weight_bits" else "v")
            hw = replace(hw, numerics={**hw.numerics, "weight" if axis == "weight_bits" else "v": replace(fmt, bits=bits)})
    return hw
