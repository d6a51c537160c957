"""Walk parsed YAML with the path of every field, so that every error names the file and the field.

    >>> r = Section({"dt_ms": -1}, file="m.yaml", path="")
    >>> r.number("dt_ms", positive=True)
    Traceback (most recent call last):
    ...
    neuroport.errors.ModelError: m.yaml: dt_ms: expected a positive number, got -1
"""

from __future__ import annotations

import difflib
import math
import reprlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from neuroport import safe_yaml
from neuroport.errors import ModelError, NeuroportError

_MISSING = object()


def read_yaml(file: str | Path, error: type[NeuroportError] = ModelError) -> Any:
    """Parse a YAML file within :mod:`neuroport.safe_yaml`'s limits (size, depth, alias expansion); a missing file,
    a syntax error or a refused document becomes a one-line error with the position."""
    path = Path(file)
    try:
        if path.stat().st_size > safe_yaml.MAX_BYTES:
            raise error(f"the file is {path.stat().st_size:,} bytes, more than the {safe_yaml.MAX_BYTES:,} a YAML "
                        "document may have", file=str(file))
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("file not found", file=str(file)) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise error(f"cannot read the file ({exc.__class__.__name__}: {exc})", file=str(file)) from None
    try:
        return safe_yaml.load(text)
    except safe_yaml.YamlLimitError as exc:
        raise error(f"YAML document refused: {exc}", file=str(file)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"YAML syntax error{where}: {problem}", file=str(file)) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. an integer of more than 4300 digits, a bad date
        raise error(f"YAML value cannot be read ({exc.__class__.__name__}: {str(exc).splitlines()[0]})", file=str(file)) from None


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """' (did you mean 'x'?)' for the closest choice (by similarity, or the one the word begins), else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close and len(word) >= 3:
        close = [c for c in choices if c.startswith(word)][:1]
    return f" (did you mean '{close[0]}'?)" if close else ""


MAX_FLOAT_INT = 10**308  # larger integers do not convert to float64


def short_repr(value: Any, width: int = 60) -> str:
    """``repr(value)`` cut to ``width`` characters, so that a huge list makes a short message."""
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict, short.maxstring, short.maxother = 2, 4, 4, width, width
    text = short.repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


class Section:
    """A YAML mapping being read, with its path; unread keys are reported by :meth:`finish`."""

    def __init__(self, data: Any, *, file: str, path: str, error: type[NeuroportError] = ModelError) -> None:
        self.file, self.path, self.error = file, path, error
        if not isinstance(data, dict):
            raise self.fail(f"expected a mapping of fields, got {_type_name(data)}")
        self.data: dict[str, Any] = data
        self.read: set[str] = set()

    # -- errors -------------------------------------------------------------------------------------------
    def child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def fail(self, message: str, key: str | int | None = None) -> NeuroportError:
        path = self.child_path(key) if key is not None else (self.path or None)
        return self.error(message, file=self.file, path=path)

    # -- access -------------------------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        self.read.add(key)
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise self.fail("required field is missing", key)
        return default

    def section(self, key: str, default: Any = _MISSING) -> Section:
        return Section(self.raw(key, default), file=self.file, path=self.child_path(key), error=self.error)

    def sections(self, key: str) -> Iterator[Section]:
        items = self.raw(key)
        if not isinstance(items, list) or not items:
            raise self.fail(f"expected a non-empty list, got {_type_name(items)}", key)
        for i, item in enumerate(items):
            yield Section(item, file=self.file, path=f"{self.child_path(key)}[{i}]", error=self.error)

    def string(self, key: str, default: Any = _MISSING, choices: tuple[str, ...] | None = None) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str) or not value:
            raise self.fail(f"expected a non-empty string, got {_type_name(value)}", key)
        if choices is not None and value not in choices:
            raise self.fail(
                f"unknown value '{value}'{did_you_mean(value, choices)}; expected one of: {', '.join(choices)}", key
            )
        return value

    def names(self, key: str) -> tuple[str, ...]:
        """A node name or a list of node names."""
        value = self.raw(key)
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) and v for v in items):
            raise self.fail(f"expected a node name or a list of node names, got {_type_name(value)}", key)
        return tuple(items)

    def integer(self, key: str, default: Any = _MISSING, minimum: int | None = None, maximum: int | None = None,
                why: str = "") -> int:
        """An integer (not a bool, not a float) in [minimum, maximum]; ``why`` explains the range when refused."""
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"expected an integer, got {_type_name(value)} ({short_repr(value)})", key)
        if minimum is not None and value < minimum:
            raise self.fail(f"expected an integer ≥ {minimum}, got {short_repr(value)}", key)
        if maximum is not None and value > maximum:
            raise self.fail(f"expected an integer ≤ {maximum:,}, got {short_repr(value)}" + (f" ({why})" if why else ""), key)
        return value

    def number(
        self, key: str, default: Any = _MISSING, *, positive: bool = False, non_negative: bool = False
    ) -> float:
        value = self.raw(key, default)
        return self.check_number(value, key, positive=positive, non_negative=non_negative)

    def check_number(self, value: Any, key: str | int, *, positive: bool = False, non_negative: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"expected a number, got {_type_name(value)} ({short_repr(value)})", key)
        if isinstance(value, int) and abs(value) > MAX_FLOAT_INT:
            raise self.fail(f"expected a finite number, got an integer of {len(str(abs(value)))} digits", key)
        if not math.isfinite(value):
            raise self.fail(f"expected a finite number, got {value}", key)
        if positive and value <= 0:
            raise self.fail(f"expected a positive number, got {value}", key)
        if non_negative and value < 0:
            raise self.fail(f"expected a number ≥ 0, got {value}", key)
        return float(value)

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"expected true or false, got {_type_name(value)} ({short_repr(value)})", key)
        return value

    def finish(self) -> None:
        """Raise on the first key that was never read (a typo, most likely)."""
        for key in self.data:
            if key not in self.read:
                known = sorted(self.read)
                raise self.fail(f"unknown field{did_you_mean(str(key), known)}; known fields here: {', '.join(known)}", str(key))
