"""Clean shutdown of loihi-sim: SIGINT, SIGTERM or SIGHUP in the middle of a Lava run — sent to the main process
(as a supervisor or job scheduler does) or to its whole group (a terminal's Ctrl-C or hang-up) — ends the command
with 128 + the signal's number and one line, and leaves no process (Lava's workers, its shared-memory server,
multiprocessing's resource tracker) and no /dev/shm segment of the run behind.  Lava's own ``stop`` waits for ever
once a process has died, so this is not Lava's behaviour but neuroport's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.lava
LAVA_PROCESSES = 4  # RingBuffer, ALIF, readout, Dense ×3 (and the runtime service): at least this many children
SETTLE_S = 1.0  # signal this long after the workers appeared: the run is under way
# Enough samples that the run is still going SETTLE_S after start-up on a fast machine (2 samples once finished
# first there, and the signal landed in the interpreter's exit); the signal ends it, so the count costs no time.
RUN_SAMPLES = 256


def _run_state(proc: subprocess.Popen, timeout_s: float = 120.0) -> tuple[list[psutil.Process], set[str]]:
    """Every descendant of ``proc`` once Lava's workers run, and the /dev/shm segments they have mapped."""
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if len(parent.children(recursive=True)) >= LAVA_PROCESSES:
            time.sleep(SETTLE_S)
            children = parent.children(recursive=True)
            segments = set()
            for child in children:
                try:
                    segments |= {m.path for m in child.memory_maps() if m.path.startswith("/dev/shm/")}
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            return children, segments
        time.sleep(0.1)
    raise AssertionError("the Lava run never started")


@pytest.mark.parametrize(("signum", "to_group"), [(signal.SIGINT, True), (signal.SIGINT, False),
                                                  (signal.SIGTERM, False), (signal.SIGHUP, False)],
                         ids=["SIGINT-group", "SIGINT-pid", "SIGTERM-pid", "SIGHUP-pid"])
def test_signal_stops_every_lava_process(signum: int, to_group: bool):
    command = [sys.executable, "-m", "neuroport.cli", "verify", str(ROOT / "examples" / "evidence_accumulation.yaml"),
               "--target", "loihi-sim", "--samples", str(RUN_SAMPLES)]

    def default_signals() -> None:  # a terminal's process: pytest-xdist workers ignore SIGINT, children inherit that
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)

    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"}, preexec_fn=default_signals)
    try:
        children, segments = _run_state(proc)
        (os.killpg if to_group else os.kill)(proc.pid, signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, err[-2000:]
    assert err.strip().splitlines() == [f"interrupted by {name}"], err[-2000:]
    assert len(children) >= LAVA_PROCESSES and segments, "signalled before the run had started"
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"
    assert not [s for s in segments if Path(s).exists()], "shared memory of the run left in /dev/shm"
