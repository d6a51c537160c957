"""Build and run the Lava process graph of a FixedGraph on Lava's CPU simulation (imports Lava lazily)."""

from __future__ import annotations

import importlib
import multiprocessing
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import resource_tracker
from pathlib import Path

import numpy as np

from neuroport.emulator.trace import Trace
from neuroport.errors import MissingDependencyError, NeuroportError
from neuroport.interrupts import Interrupted, held_signals
from neuroport.ir.fixed_graph import FixedGraph

from .graph import LATENCY_OFFSET_STEPS, NEURON_PROCESSES, lava_process
from .host_io import attach, release, with_host_io


def _import_lava():
    from .compat import ensure_lava_importable

    ensure_lava_importable()
    try:
        import lava  # noqa: F401
    except ImportError:
        raise MissingDependencyError("lava-nc", "loihi") from None


STOP_TIMEOUT_S = 10.0  # a runtime that has not stopped by then is taken down process by process
INTERRUPTED_STOP_TIMEOUT_S = 1.0  # after a signal: a supervisor sends SIGKILL a few seconds after SIGTERM
SERVER_TIMEOUT_S = 2.0  # the shared-memory server's own shutdown (multiprocessing waits 1 s, then terminates it)


@contextmanager
def lava_session(process, run_cfg) -> Iterator[None]:
    """Create the Lava runtime of ``process`` and stop it however the block ends — success, error, Ctrl-C,
    SIGTERM or SIGHUP — leaving no process and no shared-memory segment behind.

    The runtime's processes are forked inside :func:`~neuroport.interrupts.held_signals`: they inherit handlers
    that only record SIGINT/SIGTERM/SIGHUP, so a signal sent to the whole process group reaches only this process,
    which stops them in order (a signal that came during start-up is raised once they have started).  Lava's
    ``stop`` waits for ever once one of them has died, so it runs on a watchdog thread, and whatever remains after
    ``STOP_TIMEOUT_S`` is taken down by :func:`stop_runtime`.  Cleanup itself runs with signals held, so a second
    Ctrl-C cannot cut it short."""
    before = set(multiprocessing.active_children())
    started: list = []
    try:
        with held_signals():
            start_resource_tracker()
            try:
                process.create_runtime(run_cfg=run_cfg)
            finally:
                started = [p for p in multiprocessing.active_children() if p not in before]
        yield
    finally:
        interrupted = isinstance(sys.exc_info()[1], (Interrupted, KeyboardInterrupt))
        with held_signals():
            stop_runtime(process, started, INTERRUPTED_STOP_TIMEOUT_S if interrupted else STOP_TIMEOUT_S)


def start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (the process that unlinks shared memory its users leaked) before
    Lava forks, so that every process of the run shares this one, and with SIGHUP ignored: the tracker ignores
    SIGINT and SIGTERM itself, not SIGHUP, and an ignored signal stays ignored across its exec — so a hang-up of
    the process group leaves it running while this process cleans up."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        resource_tracker.ensure_running()
    finally:
        signal.signal(signal.SIGHUP, previous)


def _stop_lava(process) -> None:
    """Lava's ``stop``; a runtime left inconsistent by an interrupt may answer with an error — what it leaves
    running is terminated by :func:`stop_runtime` either way."""
    try:
        process.stop()
    except Exception:  # noqa: BLE001 — any error of a half-stopped runtime; stop_runtime reaps what is left
        pass


def _kill(child) -> None:
    """SIGKILL ``child`` if it still runs; Lava's ``stop``, on its own thread, may have joined and closed it."""
    try:
        if child.is_alive():
            child.kill()
    except (ValueError, OSError):  # closed: Lava's stop has joined it
        pass


def _join(child) -> None:
    """Join ``child``; Lava's ``stop``, on its own thread, may have joined and closed it meanwhile."""
    try:
        child.join()
    except (ValueError, OSError):  # closed by Lava's join
        pass


def _shared_memory(process):
    """Lava's SharedMemoryManager of the runtime (its server process owns the run's /dev/shm segments), or None."""
    infra = getattr(getattr(process, "runtime", None), "_messaging_infrastructure", None)
    return getattr(infra, "smm", None)


def release_shared_memory(smm) -> None:
    """Shut the shared-memory server down (it unlinks every segment it created) and unlink whatever segment it
    left, by name, from this process; a no-op for a manager Lava's ``stop`` has already shut down."""
    handles = list(getattr(smm, "_shared_memory_handles", []))
    try:
        smm.shutdown()  # multiprocessing's manager: shutdown message, join 1 s, then terminate/kill the server
    except (OSError, EOFError, ValueError, AttributeError):
        pass
    for handle in handles:
        try:
            handle.unlink()
        except FileNotFoundError:  # the server unlinked it
            pass


def stop_runtime(process, children: list, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Stop the runtime of ``process`` and reap its ``children``: Lava's ``stop`` on a watchdog thread; then the
    runtime's worker processes still running are killed (they hold SIGTERM, see :func:`lava_session`), the
    shared-memory server is shut down so that it unlinks the run's segments, and every child is joined."""
    smm = _shared_memory(process)
    server = getattr(getattr(smm, "_manager", None), "_process", None)
    stopper = threading.Thread(target=_stop_lava, args=(process,), daemon=True, name="lava-stop")
    if getattr(process, "runtime", None) is not None:
        stopper.start()
        stopper.join(timeout_s)
    workers = [child for child in children if child is not server]
    for child in workers:
        _kill(child)
    if stopper.is_alive():  # Lava's stop joins the killed workers, then shuts the server down itself
        stopper.join(SERVER_TIMEOUT_S)
    for child in workers:
        _join(child)
    if smm is not None:
        release_shared_memory(smm)
    for child in children:
        _kill(child)
        _join(child)


class LavaRunError(NeuroportError):
    """A Lava simulation that failed: the error one of its processes died with (or Lava's own), in one line."""


INNERMOST_FRAME = re.compile(r'File "([^"]+)", line (\d+)')  # a traceback's frame lines


def _died_with(process) -> list[str]:
    """'ExceptionType: message (file:line)' of every runtime process that died, at its innermost frame: Lava's
    SystemProcess keeps its (exception, traceback) once joined (lava/magma/runtime/message_infrastructure/
    multiprocessing.py)."""
    infrastructure = getattr(getattr(process, "runtime", None), "_messaging_infrastructure", None)
    found = []
    for actor in getattr(infrastructure, "actors", None) or []:
        died = getattr(actor, "_exception", None)
        if not died:
            continue
        error, trace = died
        frames = INNERMOST_FRAME.findall(str(trace))
        where = f" ({'/'.join(Path(frames[-1][0]).parts[-3:])}:{frames[-1][1]})" if frames else ""
        found.append(f"{type(error).__name__}: {error}{where}")
    return found


def run_steps(process, n_steps: int) -> None:
    """``process.run(RunSteps(n_steps))`` in its runtime; a process that dies surfaces as one LavaRunError line
    with the child's own error, never as Lava's "N Exception(s) occurred. See output above for details."."""
    from lava.magma.core.run_conditions import RunSteps

    try:
        process.run(condition=RunSteps(num_steps=n_steps))
    except RuntimeError as err:
        died = sorted(set(_died_with(process)))
        detail = "; ".join(died) if died else str(err)
        raise LavaRunError(f"the Lava simulation failed: {detail}") from None


def run_samples(fixed: FixedGraph, inputs: np.ndarray, timings: dict | None = None) -> dict[str, np.ndarray]:
    """Run every sample of (batch, n_steps, n_in) 0/1 spikes through one Lava runtime; returns z and the neuron
    kind's states (NEURON_PROCESSES: v, a or v, u) (batch, n_steps, n) and y (batch, n_steps, k) aligned to the emulator's steps.

    Each sample runs n_steps + 1 Lava steps (its first, before any input arrives, is dropped:
    LATENCY_OFFSET_STEPS), then the host zeroes what a fresh runtime starts with — neuron and readout states and
    the synapses' buffers — so every sample starts as in a run of its own.  The recorded tables and the states are
    moved in bulk (:mod:`.host_io`), not value by value.  ``timings`` (if given) receives the seconds spent in
    start-up (build and runtime creation), Lava's simulation loop, and host I/O (readback and resets)."""
    _import_lava()
    from lava.magma.core.run_configs import Loihi2SimCfg

    clock = {"startup_s": 0.0, "loop_s": 0.0, "io_s": 0.0}
    t0 = time.perf_counter()
    n_samples, steps = inputs.shape[0], inputs.shape[1] + LATENCY_OFFSET_STEPS
    procs = _inference_graph(fixed, inputs)
    neurons, readout, dense = procs["neurons"], procs["readout"], procs["dense"]
    spec = NEURON_PROCESSES[fixed.neurons.kind]
    io_neurons = attach(neurons, out=tuple(f"{k}_rec" for k in (*spec.states, "z")), into=spec.reset)
    io_readout = attach(readout, out=("y_rec",), into=("y",))
    io_dense = [attach(d, into=("a_buff",)) for d in dense.values()]
    models = {type(p): with_host_io(_fixed_pt_model(p)) for p in (neurons, readout, *dense.values())}
    try:
        with lava_session(neurons, Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=models)):
            clock["startup_s"] = time.perf_counter() - t0
            for k in range(n_samples):
                t = time.perf_counter()
                run_steps(neurons, steps)
                clock["loop_s"] += time.perf_counter() - t
                t = time.perf_counter()
                if k + 1 < n_samples:
                    for io in (io_neurons, io_readout, *io_dense):
                        io.zero()
                clock["io_s"] += time.perf_counter() - t
            t = time.perf_counter()
            out = {k.removesuffix("_rec"): v for k, v in io_neurons.dump().items()}
            out["y"] = io_readout.dump()["y_rec"]
            clock["io_s"] += time.perf_counter() - t
    finally:
        for io in (io_neurons, io_readout, *io_dense):
            release(io)
    if timings is not None:
        timings.update(clock)
    return {k: v.reshape(n_samples, steps, -1)[:, LATENCY_OFFSET_STEPS:] for k, v in out.items()}


def _inference_graph(fixed: FixedGraph, inputs: np.ndarray) -> dict:
    """The processes of :mod:`.graph` for ``inputs`` (batch, n_steps, n_in): one input table, the samples one after
    another, each followed by LATENCY_OFFSET_STEPS silent steps; records sized for all of them."""
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.source import RingBuffer

    from .lava_procs.readout import NeuroportReadout

    pad = np.zeros((inputs.shape[0], LATENCY_OFFSET_STEPS, inputs.shape[2]))
    data = np.concatenate([inputs, pad], axis=1).reshape(-1, inputs.shape[2]).T
    total = data.shape[1]
    n = fixed.neurons
    source = RingBuffer(data=data.astype(float))
    neurons = neuron_classes(n.kind)[0](**{arg: getattr(n, field) for arg, field in NEURON_PROCESSES[n.kind].params.items()},
                                        n_steps=total)
    readout = NeuroportReadout(dy=fixed.readout.dy, n_steps=total)
    dense = {name: lava_dense(d, Dense, DelayDense) for name, d in fixed.dense().items()}
    source.s_out.connect(dense["w_in"].s_in)
    dense["w_in"].a_out.connect(neurons.a_in)
    neurons.s_out.connect(dense["w_rec"].s_in)
    dense["w_rec"].a_out.connect(neurons.a_in)
    neurons.s_out.connect(dense["w_out"].s_in)
    dense["w_out"].a_out.connect(readout.a_in)
    return {"neurons": neurons, "readout": readout, "dense": dense}


def neuron_classes(kind: str) -> tuple[type, type]:
    """(Lava process, fixed_pt ProcessModel) of FixedNeurons ``kind`` (:data:`.graph.NEURON_PROCESSES`)."""
    spec = NEURON_PROCESSES[kind]
    return tuple(getattr(importlib.import_module(path.rsplit(".", 1)[0]), path.rsplit(".", 1)[1])
                 for path in (spec.process, spec.model))


def _fixed_pt_model(process) -> type:
    """The fixed_pt process model Lava selects for ``process`` (the class to extend with host I/O)."""
    from lava.proc.dense.models import PyDelayDenseModelBitAcc, PyDenseModelBitAcc
    from lava.proc.dense.process import DelayDense
    from lava.proc.sparse.models import PySparseModelBitAcc
    from lava.proc.sparse.process import Sparse

    from .lava_procs.readout import NeuroportReadout, PyNeuroportReadoutModelFixed

    table = {NeuroportReadout: PyNeuroportReadoutModelFixed, DelayDense: PyDelayDenseModelBitAcc,
             Sparse: PySparseModelBitAcc, **dict(neuron_classes(kind) for kind in NEURON_PROCESSES)}
    return table.get(type(process), PyDenseModelBitAcc)


def lava_dense(d, dense_cls, delay_dense_cls):
    """Lava's Dense for a plain FixedDense, its DelayDense (delays d − 1: Lava's delay 0 is one step) for a delayed one."""
    common = {"weights": d.weights, "weight_exp": d.weight_exp, "num_weight_bits": d.num_weight_bits, "num_message_bits": 0}
    if lava_process(d) == "lava.proc.sparse.process.Sparse":  # only the existing synapses (graph.SPARSE_MAX_DENSITY)
        from lava.proc.sparse.process import Sparse
        from scipy.sparse import csr_matrix

        syn = d.synapse_list()  # either IR form, never densified
        weights = csr_matrix((syn.weights.astype(np.int64), (syn.targets, syn.sources)), shape=d.shape)
        return Sparse(**{**common, "weights": weights})
    d = d.to_dense()  # DelayDense / Dense take matrices (a delayed sparse-form Dense: small networks)
    common["weights"] = d.weights
    if d.delays is None:
        return dense_cls(**common)
    return delay_dense_cls(**common, delays=d.delays - 1)


def run_batch(fixed: FixedGraph, inputs: np.ndarray, timings: dict | None = None) -> Trace:
    """Run every sample of (batch, n_steps, n_in) inputs in one Lava runtime (:func:`run_samples`)."""
    if inputs.ndim != 3 or inputs.shape[2] != fixed.n_in:
        raise NeuroportError(f"inputs must have shape (batch, steps, {fixed.n_in}), got {inputs.shape}")
    out = run_samples(fixed, np.asarray(inputs), timings)
    states = NEURON_PROCESSES[fixed.neurons.kind].states
    return Trace(spikes=out["z"].astype(np.uint8), readout=out["y"], states={k: out[k] for k in states})
