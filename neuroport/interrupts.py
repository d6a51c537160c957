"""Signals that end a run: SIGINT (Ctrl-C), SIGTERM (a supervisor, ``kill``), SIGHUP (a closed terminal).

The CLI installs :func:`install_handlers` once, at its entry: each of these signals then raises
:class:`Interrupted` in the main thread, so every ``finally`` and context manager on the way out runs (Lava's
runtime is stopped, files are closed) and the CLI exits with ``128 + signal number`` (130, 143, 129) and one line.

Worker processes forked by a library (Lava's runtime) inherit Python's handlers.  They are forked inside
:func:`held_signals`, where a signal is only recorded: the workers therefore never act on a signal sent to the
whole process group, and the parent, which does, stops them in order.  Cleanup runs inside
:func:`held_signals` too, so a second Ctrl-C cannot cut it short.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
REAP_TIMEOUT_S = 2.0  # a child that has not exited this long after SIGTERM is killed


class Interrupted(BaseException):
    """A handled signal arrived.  A BaseException, like KeyboardInterrupt: ``except Exception`` does not stop it."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(f"interrupted by {signal.Signals(self.signum).name}")

    @property
    def exit_status(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number (130 SIGINT, 143 SIGTERM)."""
        return 128 + self.signum


def interrupted_in(err: BaseException) -> Interrupted | None:
    """The :class:`Interrupted` behind ``err``, if any: a handler that runs while compiled code (a numba kernel)
    returns leaves it as the context of the ``SystemError`` the dispatcher then raises."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, Interrupted):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _raise(signum: int, frame) -> None:
    raise Interrupted(signum)


def install_handlers() -> dict[int, object]:
    """Make SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread (no-op elsewhere); returns
    the handlers they replace, for :func:`restore_handlers`.  A signal ignored when the process started stays
    ignored (``nohup`` ignores SIGHUP, a shell's background job SIGINT: their children must honour that)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {signum: signal.getsignal(signum) for signum in HANDLED}
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signum, _raise)
    return previous


def _exit_now(signum: int, frame) -> None:
    """End the process at once: the one line, then exit status 128 + ``signum`` (no unwinding left to do)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be written to it
            pass
    os.write(2, f"interrupted by {signal.Signals(signum).name}\n".encode())
    os._exit(128 + signum)


def exit_quietly_on_signal() -> None:
    """For the interpreter's teardown, once the command has finished: SIGINT, SIGTERM and SIGHUP end the process
    with 128 + their number and the same one line as during the run.  Python's default SIGINT handler would
    instead raise KeyboardInterrupt inside whatever atexit callback or finalizer is running (numba's, for one)
    and print its traceback, then exit 0.  Signals ignored at start stay ignored; main thread only."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in HANDLED:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _exit_now)


def restore_handlers(previous: dict[int, object]) -> None:
    """Put back the handlers :func:`install_handlers` replaced."""
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@contextmanager
def held_signals() -> Iterator[None]:
    """Record SIGINT/SIGTERM/SIGHUP instead of acting on them while the block runs; once it has ended, raise
    :class:`Interrupted` for the first one recorded (unless the block is already raising).  Processes forked in
    the block keep the recording handlers, so they ignore these signals for good.  Outside the main thread
    (where Python cannot set handlers) the block runs unprotected."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {signum: signal.signal(signum, lambda s, frame: received.append(s)) for signum in HANDLED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        raise Interrupted(received[0])


def reap_children(timeout_s: float = REAP_TIMEOUT_S) -> None:
    """Terminate and join every multiprocessing child still running (killing those that outlive ``timeout_s``),
    so that the interpreter's exit, which joins them, cannot hang."""
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout_s)
        if child.is_alive():
            child.kill()
            child.join()
