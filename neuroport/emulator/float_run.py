"""The float run of any FloatGraph, by its form and neuron model: the one dispatcher ``verify``, ``report`` and
``train`` use for the float reference (``.z`` spikes, ``.y`` readout; no state traces).

* sparse form (a projection with a connectivity rule): the event-driven float model, memory ∝ synapses
  (:func:`neuroport.training.sparse_eprop.simulate_sparse_graph`);
* ``learning.variant: eprop_plus`` (the reset in the spike step): :func:`neuroport.training.eprop_plus.simulate_plus`;
* Izhikevich populations: :func:`neuroport.emulator.izhikevich.simulate_izhikevich_graph`;
* lif_ca2_adaptive populations: :func:`neuroport.emulator.ca2_adaptive.simulate_ca2_graph`;
* otherwise LIF/ALIF on the dense Network: :func:`neuroport.emulator.reference.simulate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from neuroport.emulator.ca2_adaptive import simulate_ca2_graph
from neuroport.emulator.izhikevich import simulate_izhikevich_graph
from neuroport.emulator.reference import simulate
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.network import assemble
from neuroport.training.sparse_eprop import simulate_sparse_graph

# population kind → the float simulator of graphs with populations of that neuron model; graphs without one are
# LIF/ALIF networks, run by :func:`neuroport.emulator.reference.simulate`
GRAPH_SIMULATORS: dict[str, Callable[[FloatGraph, np.ndarray], Any]] = {"izhikevich": simulate_izhikevich_graph,
                                                                       "lif_ca2_adaptive": simulate_ca2_graph}


def _simulate_plus(graph: FloatGraph, inputs: np.ndarray) -> Any:
    from neuroport.training.eprop_plus import simulate_plus  # imported when used: it imports the trainers

    return simulate_plus(graph, inputs)


# learning.variant → the float simulator of variants whose neuron dynamics differ from bsshslm_2020's (checked first)
VARIANT_SIMULATORS: dict[str, Callable[[FloatGraph, np.ndarray], Any]] = {"eprop_plus": _simulate_plus}


def simulate_graph(graph: FloatGraph, inputs: np.ndarray) -> Any:
    """Float run (``.z`` spikes, ``.y`` readout; no state traces) of any FloatGraph, by its learning variant, form
    and neuron model."""
    variant = graph.learning.variant if graph.learning is not None else None
    if variant in VARIANT_SIMULATORS:
        return VARIANT_SIMULATORS[variant](graph, inputs)
    if any(p.is_sparse for p in graph.projections):  # the sparse IR form: event-driven, memory ∝ synapses
        return simulate_sparse_graph(graph, inputs)
    kinds = [p.kind for p in graph.populations if p.kind in GRAPH_SIMULATORS]
    if not kinds:
        return simulate(assemble(graph), inputs, record_states=False)
    return GRAPH_SIMULATORS[kinds[0]](graph, inputs)
