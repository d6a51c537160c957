"""Clean shutdown of loihi-sim: Ctrl-C in the middle of a Lava run ends the command with status 130 and leaves no
Lava process behind (Lava's own ``stop`` waits for ever once a process has died)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.lava
LAVA_PROCESSES = 4  # RingBuffer, ALIF, readout, Dense ×3 (and the runtime service): at least this many children


def _children_when_running(proc: subprocess.Popen, settle_s: float, timeout_s: float = 120.0) -> list[psutil.Process]:
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        children = parent.children(recursive=True)
        if len(children) >= (1 if settle_s == 0 else LAVA_PROCESSES):
            time.sleep(settle_s)
            return parent.children(recursive=True)
        time.sleep(0.1)
    raise AssertionError("the Lava run never started")


def test_ctrl_c_stops_every_lava_process(settle_s: float = 1.0):
    command = [sys.executable, "-m", "neuroport.cli", "verify", str(ROOT / "examples" / "evidence_accumulation.yaml"),
               "--target", "loihi-sim", "--samples", "4"]
    # a terminal's process: SIGINT at its default (pytest-xdist workers ignore it, and children inherit that)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        children = _children_when_running(proc, settle_s)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == "aborted" and "Traceback" not in err, err[-2000:]
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left behind: {[p.pid for p in alive]}"
