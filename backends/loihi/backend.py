"""The ``loihi-sim`` and ``loihi2`` targets (Lava).

loihi-sim: the FixedGraph as Lava processes — Lava's own Dense, neuroport's ALIF neuron and readout — run on Lava's
CPU simulation with ``Loihi2SimCfg(select_tag="fixed_pt")``; it must equal the emulator bit for bit.
loihi2: the same process graph for Loihi 2 hardware; compile-only here (no chip is reachable).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from neuroport.backend import Capabilities, Diagnostic
from neuroport.emulator.trace import Trace
from neuroport.errors import NeuroportError, UnsupportedError
from neuroport.hw import HwConfig
from neuroport.ir.fixed_graph import FixedGraph
from neuroport.mapping import map_graph

from .graph import NEURON_PROCESSES, LavaGraph


def design_rules(graph: FixedGraph, hw: HwConfig) -> list[Diagnostic]:
    """Loihi rules from the hw config: mapping limits, weight bits and exponent range, threshold field (1 … vth_max)."""
    found = []
    try:
        map_graph(graph, hw)
    except NeuroportError as err:
        found.append(Diagnostic("error", str(err), "mapping"))
    lo, hi = hw.param("weight_exp_min"), hw.param("weight_exp_max")
    for name, dense in graph.dense().items():
        if not lo <= dense.weight_exp <= hi:
            found.append(Diagnostic("error", f"weight_exp {dense.weight_exp} outside [{lo}, {hi}]", name))
        if dense.num_weight_bits > hw.fmt("weight").bits:
            found.append(Diagnostic("error", f"{dense.num_weight_bits}-bit weights, the chip has {hw.fmt('weight').bits}", name))
    if graph.neurons.vth.min() < 1:
        found.append(Diagnostic("error", f"vth {graph.neurons.vth.min()}: a threshold below 1 fires at rest in every "
                                "step, the idle first step of the chip's pipeline included (the quantizer raises it to 1)", "neurons"))
    if graph.neurons.vth.max() > hw.param("vth_max"):
        found.append(Diagnostic("error", f"vth {graph.neurons.vth.max()} exceeds the {hw.param('vth_max')} the field holds", "neurons"))
    if graph.neurons.kind not in NEURON_PROCESSES:
        found.append(Diagnostic("error", f"neuron kind '{graph.neurons.kind}' is not lowered by this backend", "neurons"))
    for name, dense in graph.dense().items():
        if dense.max_delay > 64:
            found.append(Diagnostic("error", f"delay of {dense.max_delay} steps: Lava's DelayDense holds delays up to 64 "
                                    "steps (6 bits)", name))
    return found


class LoihiSimBackend:
    name: ClassVar[str] = "loihi-sim"

    def capabilities(self, hw: HwConfig | None = None) -> Capabilities:
        return Capabilities(neuron_models=("lif", "alif", "izhikevich"), on_chip_learning=True, bit_exact=True, default_hw="loihi2",
                            requires=("lava",), extra="loihi",
                            unsupported={"synaptic delays above 64 steps": "Lava's DelayDense holds 6-bit delays (0–63)",
                                         "on-chip learning with synaptic delays": "the learning engine's traces are not delayed",
                                         "on-chip e-prop+ learning": "the learning engine runs bsshslm_2020's rule; "
                                         "e-prop+ models are trained in float and run here for inference",
                                         "on-chip learning through run()": "learning needs targets and a rule: "
                                         "neuroport train MODEL --on-chip --target loihi-sim "
                                         "(neuroport.backends.loihi.onchip.train_on_loihi_sim)"})

    def check(self, graph: FixedGraph, hw: HwConfig) -> list[Diagnostic]:
        return design_rules(graph, hw)

    def lower(self, graph: FixedGraph, hw: HwConfig) -> LavaGraph:
        return LavaGraph(graph, self.name)

    def run(self, artifact: LavaGraph, inputs: np.ndarray, probes: tuple[str, ...] = (), learn: bool = False) -> Trace:
        if learn:
            raise UnsupportedError("run() is inference; on-chip learning on loihi-sim needs targets and a rule: use "
                                   "`neuroport train MODEL --on-chip --target loihi-sim`")
        from .runner import run_batch

        return run_batch(artifact.to_fixed(), inputs)

    def verify_against_emulator(self, graph: FixedGraph, inputs: np.ndarray, max_samples: int = 2) -> dict[str, Any]:
        """Run up to ``max_samples`` samples in Lava and in the emulator; compare spikes, the neuron kind's states
        (v, a; v, u for Izhikevich) and readout exactly."""
        x = inputs[:max_samples]
        lava = self.run(LavaGraph(graph, self.name), x)
        from neuroport.pipeline import emulate_fixed  # the sparse form runs the event-driven engine (same bits)

        emu, _ = emulate_fixed(graph, x, probe_states=True)
        fields = {"spikes": (lava.spikes, emu.spikes), **{k: (lava.states[k], emu.states[k]) for k in lava.states},
                  "readout": (lava.readout, emu.readout)}
        mismatches = {k: int(np.count_nonzero(a != b)) for k, (a, b) in fields.items()}
        exact = not any(mismatches.values())
        compared = int(sum(a.size for a, _ in fields.values()))
        return {"bit_exact": exact, "samples": int(x.shape[0]), "steps": int(x.shape[1]), "values_compared": compared,
                "mismatches": mismatches, "detail": f"{compared:,} integer values over {x.shape[0]} sample(s) × {x.shape[1]} steps"}


class Loihi2Backend(LoihiSimBackend):
    """Same process graph, configured for Loihi 2 hardware; compile-only here."""

    name: ClassVar[str] = "loihi2"

    def capabilities(self, hw: HwConfig | None = None) -> Capabilities:
        base = super().capabilities(hw)
        return Capabilities(**{**base.__dict__, "requires": (), "bit_exact": False,
                               "unsupported": {**base.unsupported, "run": "compile-only: no Loihi 2 chip is reachable from here"}})

    def run(self, artifact: LavaGraph, inputs: np.ndarray, probes: tuple[str, ...] = (), learn: bool = False) -> Trace:
        raise UnsupportedError("loihi2 is compile-only here: no Loihi 2 system is reachable; run the same graph with --target loihi-sim")

    verify_against_emulator = None  # type: ignore[assignment]
