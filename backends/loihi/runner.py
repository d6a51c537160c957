"""Build and run the Lava process graph of a FixedGraph on Lava's CPU simulation (imports Lava lazily)."""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from neuroport.emulator.trace import Trace
from neuroport.errors import MissingDependencyError, NeuroportError
from neuroport.ir.fixed_graph import FixedGraph

from .graph import LATENCY_OFFSET_STEPS, lava_process


def _import_lava():
    from .compat import ensure_lava_importable

    ensure_lava_importable()
    try:
        import lava  # noqa: F401
    except ImportError:
        raise MissingDependencyError("lava-nc", "loihi") from None


STOP_TIMEOUT_S = 10.0  # a runtime that has not stopped by then is taken down process by process


@contextmanager
def lava_session(process, run_cfg) -> Iterator[None]:
    """Create the Lava runtime of ``process`` and stop it however the block ends — success, error or Ctrl-C —
    leaving no process behind.  While the runtime's processes start, SIGINT only records itself: they inherit
    that handler and so never see Ctrl-C, which reaches only this process — once they have started, a Ctrl-C that
    came during start-up is raised here — and this process stops them in order.  Since Lava's ``stop`` waits for
    ever once one of them has died, it runs on a watchdog thread and what remains is terminated after
    ``STOP_TIMEOUT_S``."""
    in_main = threading.current_thread() is threading.main_thread()
    before = set(multiprocessing.active_children())
    started: list = []
    interrupted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum)) if in_main else None
    try:
        try:
            process.create_runtime(run_cfg=run_cfg)
        finally:
            started = [p for p in multiprocessing.active_children() if p not in before]
            if in_main:
                signal.signal(signal.SIGINT, previous)
        if interrupted:
            raise KeyboardInterrupt
        yield
    finally:
        stop_runtime(process, started)


def _stop_lava(process) -> None:
    """Lava's ``stop``; a runtime left inconsistent by an interrupt may answer with an error — what it leaves
    running is terminated by :func:`stop_runtime` either way."""
    try:
        process.stop()
    except (RuntimeError, OSError, ValueError):
        pass


def stop_runtime(process, children: list, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Lava's ``stop`` on a watchdog thread, then terminate whichever of the runtime's ``children`` still runs."""
    if getattr(process, "runtime", None) is not None:
        stopper = threading.Thread(target=_stop_lava, args=(process,), daemon=True, name="lava-stop")
        stopper.start()
        stopper.join(timeout_s)
    for child in children:
        try:
            alive = child.is_alive()
        except ValueError:  # closed: Lava's stop has joined it
            continue
        if alive:
            child.terminate()
            child.join()


def run_sample(fixed: FixedGraph, spikes: np.ndarray) -> dict[str, np.ndarray]:
    """Run one sample (n_steps, n_in) of 0/1 spikes; returns v, a, z (n_steps, n) and y (n_steps, k) aligned to
    the emulator's steps (Lava's first step, before any input arrives, is dropped)."""
    _import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.source import RingBuffer

    from .lava_procs.alif import NeuroportALIF
    from .lava_procs.readout import NeuroportReadout

    n_steps = spikes.shape[0] + LATENCY_OFFSET_STEPS
    data = np.concatenate([spikes.T, np.zeros((spikes.shape[1], LATENCY_OFFSET_STEPS))], axis=1)
    n = fixed.neurons
    source = RingBuffer(data=data.astype(float))
    neurons = NeuroportALIF(dv=n.dv, vth=n.vth, da=n.da, a_inc=n.a_inc, n_ref=n.n_ref, n_steps=n_steps)
    readout = NeuroportReadout(dy=fixed.readout.dy, n_steps=n_steps)
    dense = {name: lava_dense(d, Dense, DelayDense) for name, d in fixed.dense().items()}
    source.s_out.connect(dense["w_in"].s_in)
    dense["w_in"].a_out.connect(neurons.a_in)
    neurons.s_out.connect(dense["w_rec"].s_in)
    dense["w_rec"].a_out.connect(neurons.a_in)
    neurons.s_out.connect(dense["w_out"].s_in)
    dense["w_out"].a_out.connect(readout.a_in)
    with lava_session(neurons, Loihi2SimCfg(select_tag="fixed_pt")):
        neurons.run(condition=RunSteps(num_steps=n_steps))
        out = {k: getattr(neurons, f"{k}_rec").get().astype(np.int64) for k in ("v", "a", "z")}
        out["y"] = readout.y_rec.get().astype(np.int64)
    return {k: v[LATENCY_OFFSET_STEPS:] for k, v in out.items()}


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


def run_batch(fixed: FixedGraph, inputs: np.ndarray) -> Trace:
    """Run every sample of (batch, n_steps, n_in) inputs, one Lava run each."""
    if inputs.ndim != 3 or inputs.shape[2] != fixed.n_in:
        raise NeuroportError(f"inputs must have shape (batch, steps, {fixed.n_in}), got {inputs.shape}")
    runs = [run_sample(fixed, np.asarray(x)) for x in inputs]
    return Trace(spikes=np.stack([r["z"] for r in runs]).astype(np.uint8), readout=np.stack([r["y"] for r in runs]),
                 states={"v": np.stack([r["v"] for r in runs]), "a": np.stack([r["a"] for r in runs])})
