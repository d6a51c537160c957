"""Make lava-nc 0.10.0 importable on Python ≥ 3.11, without editing site-packages.

lava-nc declares ``Requires-Python < 3.11``.  On 3.11 exactly one thing breaks: ``lava/magma/compiler/
var_model.py`` declares dataclass fields whose default is a ``ByteEncoder()`` instance, which Python 3.11's
dataclasses reject ("mutable default ... use default_factory").  :func:`ensure_lava_importable` installs a
meta-path finder that, when (and only when) that module is loaded, compiles its source with those defaults
rewritten to ``field(default_factory=ByteEncoder)``.  If the source no longer contains the pattern (a fixed
Lava), the module loads untouched.  Call it before the first ``import lava``; calling it again is harmless.

A second, Python-independent trap: Lava's message infrastructure calls ``multiprocessing.set_start_method('fork')``
at import, which raises "context has already been set" if anything fixed the start method earlier — numba does,
on its first parallel launch, so any command that simulates before it runs Lava would fail.
:func:`tolerate_same_start_method` makes a repeated request for the method already in force a no-op (a
different method still raises).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import multiprocessing
import re
import sys
from types import ModuleType

TARGET = "lava.magma.compiler.var_model"
PATTERN = re.compile(r":\s*ByteEncoder\s*=\s*ByteEncoder\(\)")
REPLACEMENT = ": ByteEncoder = _np_compat_field(default_factory=ByteEncoder)"
PRELUDE = "from dataclasses import field as _np_compat_field\n"


def patch_source(source: str) -> str:
    """Return ``source`` with the mutable ByteEncoder() defaults rewritten (unchanged if there are none)."""
    if not PATTERN.search(source):
        return source
    patched = PATTERN.sub(REPLACEMENT, source)
    # keep `from __future__` imports first: insert the prelude after them
    lines = patched.splitlines(keepends=True)
    last_future = max((i for i, line in enumerate(lines) if line.startswith("from __future__")), default=-1)
    lines.insert(last_future + 1, PRELUDE)
    return "".join(lines)


class _PatchingLoader(importlib.machinery.SourceFileLoader):
    def get_data(self, path: str) -> bytes:  # type: ignore[override]
        data = super().get_data(path)
        if path.endswith(".py"):
            return patch_source(data.decode("utf-8")).encode("utf-8")
        return data

    def path_stats(self, path: str):  # type: ignore[no-untyped-def]
        raise OSError("no bytecode cache for the patched module")  # always compile the patched source


class _VarModelFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path, target: ModuleType | None = None):  # type: ignore[no-untyped-def]
        if fullname != TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.origin and spec.origin.endswith(".py"):
                spec.loader = _PatchingLoader(fullname, spec.origin)
                return spec
        return None


def tolerate_same_start_method() -> None:
    """Wrap ``multiprocessing.set_start_method`` so that asking again for the method in force is a no-op."""
    original = multiprocessing.set_start_method
    if getattr(original, "_neuroport_tolerant", False):
        return

    def set_start_method(method: str, force: bool = False) -> None:
        if not force and multiprocessing.get_start_method(allow_none=True) == method:
            return
        original(method, force=force)

    set_start_method._neuroport_tolerant = True  # type: ignore[attr-defined]
    multiprocessing.set_start_method = set_start_method


def ensure_lava_importable() -> None:
    """Install the finder (idempotent) on Python ≥ 3.11 and the start-method guard (every Python)."""
    tolerate_same_start_method()
    if sys.version_info < (3, 11):
        return
    if not any(isinstance(f, _VarModelFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _VarModelFinder())
