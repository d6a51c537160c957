"""Import rules of the architecture: the core imports no backend, no quantization, no vendor SDK, no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = ["neuroport.ir", "neuroport.hw", "neuroport.numerics", "neuroport.emulator", "neuroport.emulator.fixed",
        "neuroport.emulator.reference", "neuroport.reporters", "neuroport.reporters.neurobench", "neuroport.reporters.plots",
        "neuroport.reporters.energy", "neuroport.mapping", "neuroport.training.eprop"]
FORBIDDEN = ["neuroport.backends", "neuroport.quantization", "lava", "nest", "pyNN", "spynnaker", "torch", "tonic", "nir"]


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_nothing_forbidden(module):
    code = (f"import sys, importlib\nimportlib.import_module('{module}')\n"
            f"print([m for m in {FORBIDDEN!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"{module} pulled in {out}"
