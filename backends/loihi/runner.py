"""Build and run the Lava process graph of a FixedGraph on Lava's CPU simulation (imports Lava lazily)."""

from __future__ import annotations

import numpy as np

from neuroport.emulator.trace import Trace
from neuroport.errors import MissingDependencyError, NeuroportError
from neuroport.ir.fixed_graph import FixedGraph

from .graph import LATENCY_OFFSET_STEPS


def _import_lava():
    from .compat import ensure_lava_importable

    ensure_lava_importable()
    try:
        import lava  # noqa: F401
    except ImportError:
        raise MissingDependencyError("lava-nc", "loihi") from None


def run_sample(fixed: FixedGraph, spikes: np.ndarray) -> dict[str, np.ndarray]:
    """Run one sample (n_steps, n_in) of 0/1 spikes; returns v, a, z (n_steps, n) and y (n_steps, k) aligned to
    the emulator's steps (Lava's first step, before any input arrives, is dropped)."""
    _import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer

    from .lava_procs.alif import NeuroportALIF
    from .lava_procs.readout import NeuroportReadout

    n_steps = spikes.shape[0] + LATENCY_OFFSET_STEPS
    data = np.concatenate([spikes.T, np.zeros((spikes.shape[1], LATENCY_OFFSET_STEPS))], axis=1)
    n = fixed.neurons
    source = RingBuffer(data=data.astype(float))
    neurons = NeuroportALIF(dv=n.dv, vth=n.vth, da=n.da, a_inc=n.a_inc, n_ref=n.n_ref, n_steps=n_steps)
    readout = NeuroportReadout(dy=fixed.readout.dy, n_steps=n_steps)
    dense = {name: Dense(weights=d.weights, weight_exp=d.weight_exp, num_weight_bits=d.num_weight_bits, num_message_bits=0)
             for name, d in fixed.dense().items()}
    source.s_out.connect(dense["w_in"].s_in)
    dense["w_in"].a_out.connect(neurons.a_in)
    neurons.s_out.connect(dense["w_rec"].s_in)
    dense["w_rec"].a_out.connect(neurons.a_in)
    neurons.s_out.connect(dense["w_out"].s_in)
    dense["w_out"].a_out.connect(readout.a_in)
    try:
        neurons.run(condition=RunSteps(num_steps=n_steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        out = {k: getattr(neurons, f"{k}_rec").get().astype(np.int64) for k in ("v", "a", "z")}
        out["y"] = readout.y_rec.get().astype(np.int64)
    finally:
        neurons.stop()
    return {k: v[LATENCY_OFFSET_STEPS:] for k, v in out.items()}


def run_batch(fixed: FixedGraph, inputs: np.ndarray) -> Trace:
    """Run every sample of (batch, n_steps, n_in) inputs, one Lava run each."""
    if inputs.ndim != 3 or inputs.shape[2] != fixed.n_in:
        raise NeuroportError(f"inputs must have shape (batch, steps, {fixed.n_in}), got {inputs.shape}")
    runs = [run_sample(fixed, np.asarray(x)) for x in inputs]
    return Trace(spikes=np.stack([r["z"] for r in runs]).astype(np.uint8), readout=np.stack([r["y"] for r in runs]),
                 states={"v": np.stack([r["v"] for r in runs]), "a": np.stack([r["a"] for r in runs])})
