"""The Lava process graph of a FixedGraph, as plain data (no Lava import): what ``lower`` returns and saves.

    RingBuffer(input spikes) ─Dense(w_in)─┐
                                          ▼
                         ┌──────► neurons ──Dense(w_out)──► NeuroportReadout
                         └─Dense(w_rec)──┘
The neuron process is chosen by the fixed neuron kind (NEURON_PROCESSES): NeuroportALIF, NeuroportIzhikevich.
Dense is Lava's own (fixed_pt: ``PyDenseModelBitAcc``), or its ``DelayDense`` (``PyDelayDenseModelBitAcc``, delays
d − 1) for a connection with synaptic delays; the neuron and readout processes are neuroport's
(:mod:`neuroport.backends.loihi.lava_procs`; the neuron process by the FixedNeurons kind, :data:`NEURON_PROCESSES`).
``to_fixed`` decodes it back to the FixedGraph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuroport import jsonio
from neuroport.ir.fixed_graph import FixedGraph

LATENCY_OFFSET_STEPS = 1  # Lava's step t + 1 equals the emulator's step t (a Dense buffers its output a step)
SPARSE_MAX_DENSITY = 0.5  # a connection without delays whose mask holds at most this share of its entries is
# lowered as Lava's Sparse (fixed_pt: PySparseModelBitAcc, the same integer sums as Dense), which stores only the
# existing synapses (e.g. DEEP R's 10 %); denser ones stay Dense (explicit zeros for absent synapses)

# FixedNeurons kind → (module, Lava process, its fixed_pt ProcessModel) of the recurrent layer
def lava_process(d) -> str:
    """The Lava process class (module path) a FixedDense is lowered to: DelayDense, Sparse or Dense."""
    if d.max_delay > 1 or d.delays is not None:
        return "lava.proc.dense.process.DelayDense"
    if d.is_sparse or d.n_synapses <= SPARSE_MAX_DENSITY * d.shape[0] * d.shape[1]:  # the sparse IR form: always Sparse
        return "lava.proc.sparse.process.Sparse"
    return "lava.proc.dense.process.Dense"


@dataclass(frozen=True)
class NeuronProcess:
    """How a fixed neuron kind is lowered: its Lava Process (class path), the FixedNeurons fields passed to it (as
    keyword ``arg`` ← field), the states recorded besides z and compared with the emulator's probes, and the Vars
    the host zeroes between samples."""

    process: str
    params: dict[str, str] = field(default_factory=dict)
    states: tuple[str, ...] = ("v", "a")
    reset: tuple[str, ...] = ("v", "a", "r", "z")
    model: str = ""  # class path of its fixed_pt ProcessModel


ALIF_PARAMS = {k: k for k in ("dv", "vth", "da", "a_inc", "n_ref")}  # e-prop+ neurons take the same
IZH_WORDS = ("p2", "p1", "pu", "c0", "pab", "pa", "c", "d", "sq_shift", "v0", "u0")
NEURON_PROCESSES = {  # fixed neuron kind → its process (the runner builds and reads back through this table)
    "alif": NeuronProcess("neuroport.backends.loihi.lava_procs.alif.NeuroportALIF", ALIF_PARAMS,
                          model="neuroport.backends.loihi.lava_procs.alif.PyNeuroportALIFModelFixed"),
    "eprop_plus": NeuronProcess("neuroport.backends.loihi.lava_procs.eprop_plus.NeuroportEpropPlus", ALIF_PARAMS,
                                model="neuroport.backends.loihi.lava_procs.eprop_plus.PyNeuroportEpropPlusModelFixed"),
    "izhikevich": NeuronProcess("neuroport.backends.loihi.lava_procs.izhikevich.NeuroportIzhikevich",
                                {"vth": "vth", **{k: f"izh_{k}" for k in IZH_WORDS}}, ("v", "u"),
                                ("v", "u", "z", "started"),
                                model="neuroport.backends.loihi.lava_procs.izhikevich.PyNeuroportIzhikevichModelFixed"),
}


@dataclass(frozen=True, eq=False)
class LavaGraph:
    fixed: FixedGraph
    target: str

    def describe(self) -> dict[str, Any]:
        f = self.fixed
        dense = lambda name, d, src, dst: {  # noqa: E731
            "name": name, "process": lava_process(d),
            "shape": list(d.shape), "storage": "sparse" if d.is_sparse else "dense", "weight_exp": d.weight_exp, "num_weight_bits": d.num_weight_bits,
            "num_message_bits": 0, "synapses": d.n_synapses, "from": src, "to": dst,
            **({} if d.delays is None else {"lava_delays_max": d.max_delay - 1})}
        return {
            "target": self.target, "run_cfg": "Loihi2SimCfg(select_tag='fixed_pt')" if self.target == "loihi-sim" else "Loihi2HwCfg",
            "latency_offset_steps": LATENCY_OFFSET_STEPS,
            "processes": [
                {"name": "input", "process": "lava.proc.io.source.RingBuffer", "shape": [f.n_in]},
                {"name": "neurons", "process": NEURON_PROCESSES[f.neurons.kind].process, "shape": [f.n_rec],
                 "populations": [list(p) for p in f.neurons.populations]},
                {"name": "readout", "process": "neuroport.backends.loihi.lava_procs.readout.NeuroportReadout", "shape": [f.n_out]},
            ],
            "connections": [dense("w_in", f.w_in, "input.s_out", "neurons.a_in"), dense("w_rec", f.w_rec, "neurons.s_out", "neurons.a_in"),
                            dense("w_out", f.w_out, "neurons.s_out", "readout.a_in")],
        }

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / "lava_graph.json"
        jsonio.write_json(path, self.describe(), indent=2)
        return path

    def to_fixed(self) -> FixedGraph:
        return self.fixed
