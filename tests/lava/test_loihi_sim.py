"""loihi-sim: the Lava process graph (Lava's Dense + neuroport's ALIF and readout processes) equals the emulator
bit for bit — every spike, v, a and readout value at every step — and leaves no process behind."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from neuroport.backends.loihi.compat import patch_source

from neuroport.errors import NeuroportError
from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.pipeline import quantize, task_batch

pytestmark = pytest.mark.lava


def _backend():
    from neuroport.backend import load_backend

    return load_backend("loihi-sim")


def test_tiny_model_bit_exact(tiny_model):
    graph = load_model(tiny_model)
    fixed = quantize(graph, load_hw("loihi2"))
    batch = task_batch(graph, 2, seed=7)
    result = _backend().verify_against_emulator(fixed, batch.inputs, max_samples=2)
    assert result["bit_exact"], result
    assert result["values_compared"] == 2 * batch.n_steps * (3 * 10 + 2)


def test_no_process_left_behind(tiny_model):
    graph = load_model(tiny_model)
    fixed = quantize(graph, load_hw("loihi2"))
    _backend().verify_against_emulator(fixed, task_batch(graph, 1, seed=1).inputs[:, :20], max_samples=1)
    assert multiprocessing.active_children() == []


def test_wrong_input_width_is_a_clear_error(tiny_model):
    graph = load_model(tiny_model)
    fixed = quantize(graph, load_hw("loihi2"))
    with pytest.raises(NeuroportError, match=r"inputs must have shape \(batch, steps, 8\), got \(1, 5, 9\)"):
        _backend().run(_backend().lower(fixed, load_hw("loihi2")), np.ones((1, 5, 9)))
    assert multiprocessing.active_children() == []


def test_compat_patch_rewrites_only_the_mutable_defaults():
    src = "from __future__ import annotations\nclass C:\n    x: ByteEncoder = ByteEncoder()\n    y: int = 0\n"
    out = patch_source(src)
    assert "x: ByteEncoder = _np_compat_field(default_factory=ByteEncoder)" in out
    assert out.splitlines()[0] == "from __future__ import annotations"
    assert "from dataclasses import field as _np_compat_field" in out and "y: int = 0" in out
    fixed = "class C:\n    x: ByteEncoder = field(default_factory=ByteEncoder)\n"
    assert patch_source(fixed) == fixed


def test_verify_in_a_fresh_process_after_numba_fixed_the_start_method(tiny_model):
    """`neuroport verify --target loihi-sim` in a new process: the float run (numba, which fixes multiprocessing's
    start method) comes before Lava's import (which sets it again) — the `make demo` path."""
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "neuroport.cli", "verify", str(tiny_model), "--target", "loihi-sim",
                           "--samples", "1", "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["backend"]["bit_exact"] is True


def test_start_method_guard():
    """A repeated request for the method in force is a no-op; a different method still raises."""
    import subprocess
    import sys

    code = ("import multiprocessing as mp\n"
            "from neuroport.backends.loihi.compat import tolerate_same_start_method\n"
            "mp.get_context('fork'); mp.set_start_method('fork', force=True)\n"
            "tolerate_same_start_method(); mp.set_start_method('fork')\n"
            "try:\n    mp.set_start_method('spawn')\nexcept RuntimeError:\n    print('refused')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "refused", out.stderr
