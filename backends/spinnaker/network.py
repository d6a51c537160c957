"""Lowering: SpiNNakerGraph → a PyNN network description for sPyNNaker, as plain data.

    input   SpikeSourceArray (n_in)                         spike at step t ≥ 1 sent at (t − 1) · dt, delay 1
    recurrent  IF_curr_delta (n_rec), record spikes          every float population, concatenated
               (IZK_curr_exp for Izhikevich networks with integration spinnaker_rk2)
    readout    IF_curr_delta (n_out), record v               threshold = the largest s16.15 word: never fires
    projections  one per matrix, receptor and block, FromListConnector rows (i, j, weight nA, delay ms)

The recurrent layer and the readout are cut into populations of at most min(neurons_per_core,
max_synapses_per_row) neurons (``recurrent0``, ``recurrent1``, ...): sPyNNaker 1!7.4.1 refuses a row (one source's
synapses into one target population) longer than 256, so every matrix becomes one projection per block.

Weights are ``stored · 2^(s − 15)`` nA and every population gets ``max_expected_summed_weight = ¾ · 2^s`` per
receptor, so sPyNNaker derives the same shift ``s`` and stores exactly our 16-bit magnitudes.  ``save`` writes
``network.json`` + ``network.npz`` and ``run_pynn.py`` (:mod:`.pynn_script`), which runs it on a board.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from neuroport import jsonio
from neuroport.errors import UnsupportedError
from neuroport.ir.spinnaker_graph import RECEPTORS, SpiNNakerGraph, SpiNNakerNeurons

from . import pynn_script

PARAMETERS = ("tau_m", "cm", "v_rest", "v_reset", "v_thresh", "tau_refrac")
# sPyNNaker cell → its PyNN parameter → the neuron word it is written from (IZK_curr_exp: integration spinnaker_rk2)
CELL_PARAMETERS = {
    "IF_curr_delta": {k: k for k in PARAMETERS},
    # extra_models.IFCurrDeltaCa2Adaptive (lif_ca2_adaptive); V starts at V_rest (0), i_ca2 at its initial word
    "IF_curr_delta_ca2_adaptive": {**{k: k for k in PARAMETERS}, "v": "v_rest", "tau_ca2": "tau_ca2",
                                   "i_alpha": "i_alpha", "i_ca2": "i_ca2"},
    "IZK_curr_exp": {"a": "a", "b": "b", "c": "c", "d": "d", "i_offset": "i_offset", "v": "v_init", "u": "u_init",
                     "tau_syn_E": "tau_syn", "tau_syn_I": "tau_syn"},
}
INPUT, RECURRENT, READOUT = "input", "recurrent", "readout"
TARGET_OF = {"w_in": (INPUT, RECURRENT), "w_rec": (RECURRENT, RECURRENT), "w_out": (RECURRENT, READOUT)}


@dataclass(frozen=True)
class PopulationSpec:
    label: str
    model: str  # "SpikeSourceArray" or "IF_curr_delta"
    size: int
    parameters: tuple[str, ...] = ()
    max_expected_summed_weight: tuple[float, ...] | None = None  # per receptor, nA: fixes the ring-buffer shifts
    neurons_per_core: int | None = None
    record: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProjectionSpec:
    label: str
    pre: str
    post: str
    receptor: str
    n_connections: int
    source: str  # the SpiNNakerProjection it is a block of
    pre_range: tuple[int, int]  # its pre neurons in the full matrix
    post_range: tuple[int, int]


@dataclass(frozen=True, eq=False)
class PyNNNetwork:
    """The lowered network: specs (JSON) plus arrays (npz: parameters, connection lists) and the fixed graph."""

    name: str
    timestep_ms: float
    populations: tuple[PopulationSpec, ...]
    projections: tuple[ProjectionSpec, ...]
    arrays: dict[str, np.ndarray] = field(repr=False)
    fixed: SpiNNakerGraph = field(repr=False)
    input_label: str = INPUT

    def to_fixed(self) -> SpiNNakerGraph:
        return self.fixed

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "timestep_ms": self.timestep_ms, "input_label": self.input_label,
                "populations": [asdict(p) for p in self.populations], "projections": [asdict(p) for p in self.projections]}

    def save(self, folder: str | Path, inputs: np.ndarray | None = None) -> Path:
        """Write network.json, network.npz, run_pynn.py (and inputs.json when ``inputs`` are given)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        jsonio.write_json(out / "network.json", self.spec(), indent=2)
        np.savez_compressed(out / "network.npz", **self.arrays)
        shutil.copyfile(pynn_script.__file__, out / "run_pynn.py")
        if inputs is not None:
            jsonio.write_json(out / "inputs.json", spike_times(inputs, self.timestep_ms), indent=None)
        return out


def spike_times(inputs: np.ndarray, dt_ms: float) -> dict[str, Any]:
    """Per sample, per input channel, the send times (t − 1) · dt of the spikes at steps t (delay 1: they arrive at
    step t, as in the emulator).  A spike at step 0 cannot be sent earlier and is refused."""
    x = np.asarray(inputs)
    if x[:, 0].any():
        raise UnsupportedError("an input spike at step 0 cannot reach the network in step 0 on SpiNNaker (delay ≥ 1 step); "
                               "keep the first step silent")
    if not x.any():
        raise UnsupportedError("no input spikes: sPyNNaker 1!7.4.1 rejects a SpikeSourceArray whose lists are all empty")
    samples = [[[float((t - 1) * dt_ms) for t in np.flatnonzero(x[b, :, i])] for i in range(x.shape[2])] for b in range(x.shape[0])]
    return {"n_steps": int(x.shape[1]), "samples": samples}


def _neuron_arrays(label: str, n: SpiNNakerNeurons, frac: int, rows: slice) -> dict[str, np.ndarray]:
    """PyNN parameters: every one exactly an s16.15 value (word / 2^F), so sPyNNaker's encoding is lossless."""
    return {f"{label}.{k}": getattr(n, word)[rows] / 2.0**frac for k, word in CELL_PARAMETERS[n.cell].items()}


def _summed(graph: SpiNNakerGraph, post: str) -> tuple[float, ...]:
    shifts = {r: 0 for r in RECEPTORS}
    shifts.update({p.receptor: p.shift for p in graph.projections if TARGET_OF[p.dense][1] == post})
    return tuple(0.75 * 2.0 ** shifts[r] for r in RECEPTORS)


def chunks(n: int, size: int) -> list[slice]:
    """Consecutive slices of at most ``size`` neurons (one PyNN population each)."""
    return [slice(a, min(a + size, n)) for a in range(0, n, size)]


def _blocks(graph: SpiNNakerGraph, size: int) -> dict[str, list[tuple[str, slice]]]:
    """Role → (population label, neuron slice); the recurrent layer and readout are cut so that no synaptic row
    (one source's synapses into one target population) exceeds ``size``."""
    parts = {INPUT: [(INPUT, slice(0, graph.n_in))]}
    for role, n in ((RECURRENT, graph.n_rec), (READOUT, graph.n_out)):
        pieces = chunks(n, size)
        parts[role] = [(role if len(pieces) == 1 else f"{role}{k}", sl) for k, sl in enumerate(pieces)]
    return parts


def lower_network(graph: SpiNNakerGraph, neurons_per_core: int, max_row: int) -> PyNNNetwork:
    """SpiNNakerGraph → PyNNNetwork (module docstring)."""
    f, blocks = graph.frac_bits, _blocks(graph, min(neurons_per_core, max_row))
    pops, arrays = [PopulationSpec(INPUT, "SpikeSourceArray", graph.n_in)], {}
    for role, neurons, record in ((RECURRENT, graph.neurons, ("spikes",)), (READOUT, graph.readout, ("v",))):
        for label, rows in blocks[role]:
            pops.append(PopulationSpec(label, neurons.cell, rows.stop - rows.start, tuple(CELL_PARAMETERS[neurons.cell]),
                                       _summed(graph, role), neurons_per_core, record))
            arrays.update(_neuron_arrays(label, neurons, f, rows))
    projections = []
    for p in graph.projections:
        pre_role, post_role = TARGET_OF[p.dense]
        for (pre, cols), (post, rows) in product(blocks[pre_role], blocks[post_role]):
            post_j, pre_i = np.nonzero(p.mask[rows, cols])
            if not pre_i.size:
                continue
            weight_na = p.weights[rows, cols][post_j, pre_i] * 2.0**p.weight_exp
            label = f"{p.name}:{pre}->{post}"
            arrays[f"{label}.connections"] = np.column_stack([pre_i, post_j, weight_na, np.full(pre_i.size, p.delay_steps * graph.dt_ms)])
            projections.append(ProjectionSpec(label, pre, post, p.receptor, int(pre_i.size), p.name,
                                              (cols.start, cols.stop), (rows.start, rows.stop)))
    return PyNNNetwork(graph.name, graph.dt_ms, tuple(pops), tuple(projections), arrays, graph)
