"""Conformance cases: tiny FixedGraphs at the edges of the numerics, run on every backend against the emulator.

Each case is a function returning (FixedGraph, inputs (batch, n_steps, n_in)).  Out-of-tree backends import this
list and compare their run with :func:`neuroport.emulator.fixed.emulate` exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from neuroport.ir.fixed_graph import FixedDense, FixedGraph, FixedNeurons, FixedReadout


def _graph(n_in: int, n: int, n_out: int, seed: int, *, w_max: int, exps: tuple[int, int, int], dv: int, vth: int,
           da: int = 0, a_inc: int = 0, n_ref: int = 0, dy: int = 0, w_in: np.ndarray | None = None,
           bits: int = 8) -> FixedGraph:
    rng = np.random.default_rng(seed)
    full = lambda v: np.full(n, v, dtype=np.int64)  # noqa: E731

    step = 2 ** (9 - bits)  # mixed-sign weights with `bits` bits: Lava keeps multiples of 2^(8 − bits + 1)

    def dense(shape, e):
        w = step * rng.integers(-w_max // step, w_max // step + 1, shape)
        return FixedDense(weights=w.astype(np.int64), mask=np.ones(shape, bool), weight_exp=e, num_weight_bits=bits)

    neurons = FixedNeurons(kind="alif", dv=full(dv), vth=full(vth), da=full(da), a_inc=full(a_inc), n_ref=full(n_ref),
                           du=full(4095), bias=full(0), populations=(("p", "alif", 0, n),))
    return FixedGraph(name="conformance", profile="loihi", hw_name="loihi2", hw_sha256="", dt_ms=1.0, neurons=neurons,
                      readout=FixedReadout(dy=np.full(n_out, dy, dtype=np.int64)),
                      w_in=dense((n, n_in), exps[0]) if w_in is None else FixedDense(w_in, np.ones(w_in.shape, bool), exps[0]),
                      w_rec=dense((n, n), exps[1]), w_out=dense((n_out, n), exps[2]), v_scale=64.0, loss="mse")


def _inputs(seed: int, n_in: int, steps: int, rate: float, batch: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((batch, steps, n_in)) < rate).astype(np.int64)


CASES: dict[str, Callable[[], tuple[FixedGraph, np.ndarray]]] = {
    # a_in << 6 = 64 = vth << 6 exactly: the neuron spikes (v ≥ threshold), Lava's own LIF would not (v > threshold)
    "threshold_equality": lambda: (_graph(2, 1, 1, 0, w_max=0, exps=(0, 0, 0), dv=4095, vth=1, w_in=np.array([[1, 0]])),
                                   _inputs(1, 2, 12, 0.5)),
    "voltage_saturation": lambda: (_graph(6, 3, 1, 2, w_max=254, exps=(7, 0, 0), dv=0, vth=131071), _inputs(2, 6, 15, 0.9)),
    "no_decay_and_full_decay": lambda: (_graph(4, 4, 2, 3, w_max=100, exps=(2, 1, 0), dv=0, vth=300, dy=4095), _inputs(3, 4, 20, 0.4)),
    "refractoriness": lambda: (_graph(3, 4, 1, 4, w_max=200, exps=(4, 0, 1), dv=200, vth=200, n_ref=3), _inputs(4, 3, 25, 0.8)),
    "alif_adaptation": lambda: (_graph(5, 6, 2, 5, w_max=150, exps=(3, 2, 1), dv=300, vth=250, da=40, a_inc=9000, n_ref=1, dy=500),
                                _inputs(5, 5, 30, 0.5, batch=2)),
    "negative_weight_exponents": lambda: (_graph(5, 5, 2, 6, w_max=254, exps=(-2, -3, -1), dv=100, vth=20, dy=100), _inputs(6, 5, 25, 0.6)),
    "four_bit_weights": lambda: (_graph(5, 6, 2, 8, w_max=254, exps=(1, 0, 0), dv=300, vth=150, dy=200, bits=4),
                                 _inputs(8, 5, 25, 0.6)),
    "readout_saturation": lambda: (_graph(4, 6, 1, 7, w_max=254, exps=(6, 3, 7), dv=50, vth=100, dy=0), _inputs(7, 4, 25, 0.8)),
}
