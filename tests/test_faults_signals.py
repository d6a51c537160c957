"""Signals without Lava: the CLI's handlers (neuroport.interrupts) turn SIGINT/SIGTERM/SIGHUP into one line and
status 128 + n in any command; held_signals defers them and leaves processes forked inside deaf to them; a signal
ignored at start (nohup) stays ignored.  The Lava run itself: tests/lava/test_shutdown.py."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

from neuroport.interrupts import Interrupted, held_signals, install_handlers, restore_handlers


@pytest.fixture
def handlers():
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    restore_handlers(previous)


def test_held_signal_is_raised_after_the_block(handlers):
    install_handlers()
    reached_end = False
    with pytest.raises(Interrupted) as stop:
        with held_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler runs here: it only records
            reached_end = True
    assert reached_end and stop.value.signum == signal.SIGTERM and stop.value.exit_status == 143
    assert str(stop.value) == "interrupted by SIGTERM"


def test_process_forked_while_held_ignores_the_signal(handlers):
    install_handlers()
    with held_signals():
        child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(10,))
        child.start()
    try:
        os.kill(child.pid, signal.SIGTERM)  # what a signal to the whole process group does to it
        child.join(0.5)
        assert child.is_alive()
    finally:
        child.kill()
        child.join()
    assert child.exitcode == -signal.SIGKILL


def test_signal_ignored_at_start_stays_ignored(handlers):
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    install_handlers()
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_training_stops_with_one_line(signum, tiny_model, tmp_path):
    def default_signals() -> None:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)

    command = [sys.executable, "-m", "neuroport.cli", "train", str(tiny_model), "-i", "100000", "-o", str(tmp_path / "out"),
               "--json"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "out").exists() and time.monotonic() < deadline:  # made just before training starts
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err[-2000:]
    assert err.strip().splitlines() == [f"interrupted by {signal.Signals(signum).name}"] and out == "", err[-2000:]


def test_signal_inside_compiled_code_is_one_line(monkeypatch, capsys):
    """A handler that runs while a numba kernel returns leaves Interrupted as the context of the SystemError the
    dispatcher raises ("returned a result with an exception set"): still exit 143 and one line, no traceback."""
    from neuroport import cli

    def kernel_returns_with_a_signal(*args, **kwargs):
        try:
            raise Interrupted(signal.SIGTERM)
        except Interrupted:
            raise SystemError("CPUDispatcher(<function run_chunk>) returned a result with an exception set") from None

    monkeypatch.setattr(cli.cli, "main", kernel_returns_with_a_signal)
    monkeypatch.setattr(cli, "reap_children", lambda: None)
    with pytest.raises(SystemExit) as stop:
        cli.main(["targets"])
    assert stop.value.code == 143 and capsys.readouterr().err == "interrupted by SIGTERM\n"
    monkeypatch.setattr(cli.cli, "main", lambda *a, **k: (_ for _ in ()).throw(SystemError("a real bug")))
    with pytest.raises(SystemError, match="a real bug"):  # a SystemError without a signal behind it is not hidden
        cli.main(["targets"])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_interpreter_teardown_is_one_line(signum):
    """A signal that lands after the command has finished, while atexit callbacks and finalizers run (numba's
    among them: CI once caught a Ctrl-C there), ends the process with 128 + n and the one line; Python's default
    handler would print a KeyboardInterrupt traceback from the callback and exit 0."""
    code = ("import atexit, os, signal, sys, time\n"
            f"atexit.register(lambda: (os.kill(os.getpid(), {int(signum)}), time.sleep(5)))\n"  # runs after entry()
            "sys.argv = ['neuroport', 'targets']\n"
            "from neuroport.cli import entry\n"
            "entry()\n")

    def default_signals() -> None:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          preexec_fn=default_signals)
    name = signal.Signals(signum).name
    assert done.returncode == 128 + signum, done.stderr[-2000:]
    assert done.stderr.strip().splitlines() == [f"interrupted by {name}"], done.stderr[-2000:]
    assert "loihi-sim" in done.stdout  # the command itself ran to its end first
