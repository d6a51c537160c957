"""The ``emulator`` target: the bit-accurate fixed-point emulator itself, run as a backend.

It is the oracle the other backends are compared with; as a target it needs nothing but numpy and is what
``neuroport compile/verify/report`` use when no hardware SDK is wanted.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from neuroport.backend import Capabilities, Diagnostic
from neuroport.emulator.fixed import emulate
from neuroport.emulator.trace import Trace
from neuroport.errors import NeuroportError
from neuroport.hw import HwConfig
from neuroport.ir.fixed_graph import FixedGraph
from neuroport.mapping import map_graph


class EmulatorBackend:
    name: ClassVar[str] = "emulator"

    def capabilities(self, hw: HwConfig | None = None) -> Capabilities:
        return Capabilities(neuron_models=("lif", "alif"), on_chip_learning=False, bit_exact=True, default_hw="loihi2")

    def check(self, graph: FixedGraph, hw: HwConfig) -> list[Diagnostic]:
        """The hardware config's limits (cores, fan-in, memory) apply to the emulated chip too."""
        try:
            map_graph(graph, hw)
        except NeuroportError as err:
            return [Diagnostic("error", str(err), "mapping")]
        return []

    def lower(self, graph: FixedGraph, hw: HwConfig) -> FixedGraph:
        """The emulator runs the FixedGraph itself: the artifact is the graph."""
        return graph

    def run(self, artifact: FixedGraph, inputs: np.ndarray, probes: tuple[str, ...] = (), learn: bool = False) -> Trace:
        if learn:
            raise NeuroportError("on-chip learning in the emulator is not built yet")
        trace, _ = emulate(artifact, inputs, probe_states=bool(probes))
        return trace
