"""SpiNNaker numeric profile: a network of sPyNNaker's ``IF_curr_delta`` run in s16.15, integer numpy, batched.

The arithmetic, the ring buffers and the neuron update (sPyNNaker 1!7.4.1: synapses.c, neuron_impl_standard.h,
neuron_model_lif_impl.h, input_type_delta.h) are :mod:`neuroport.emulator.spinnaker_s1615`, whose docstring has the
equations.  Sources: the input and the recurrent spikes of step t − 1 (delay 1) reach the recurrent population at
step t, and the readout (an IF_curr_delta whose threshold is never reached; its V is the output) gets z[t − 1], as
in the Loihi profile (:mod:`neuroport.emulator.fixed`).  Every state word goes through the hw config's overflow rule
(saturate or wrap at 32 bits), counted in :class:`ActivityStats`.  The recurrent cell's step comes from
:data:`neuroport.emulator.spinnaker_ca2.CELL_STEPS` (IF_curr_delta, IF_curr_delta_ca2_adaptive); ``IZK_curr_exp``
graphs run :mod:`neuroport.emulator.spinnaker_izhikevich`.
"""

from __future__ import annotations

import numpy as np

from neuroport.emulator.spinnaker_ca2 import CELL_STEPS
from neuroport.emulator.spinnaker_izhikevich import emulate_spinnaker_izhikevich
from neuroport.emulator.spinnaker_s1615 import receptors_of, step_neurons, synaptic_input, zero_state
from neuroport.emulator.trace import ActivityStats, Trace
from neuroport.ir.spinnaker_graph import SpiNNakerGraph


def emulate_spinnaker(graph: SpiNNakerGraph, inputs: np.ndarray, *,
                      probe_states: bool = True) -> tuple[Trace, ActivityStats]:
    """Run ``graph`` on 0/1 ``inputs`` (batch, n_steps, n_in); the readout is the readout population's V words.
    IZK_curr_exp graphs run :func:`neuroport.emulator.spinnaker_izhikevich.emulate_spinnaker_izhikevich`."""
    if graph.neurons.cell == "IZK_curr_exp":
        return emulate_spinnaker_izhikevich(graph, inputs, probe_states=probe_states)
    x = np.asarray(inputs, dtype=np.int64)
    batch, n_steps, n_in = x.shape
    if n_in != graph.n_in:
        raise ValueError(f"inputs have {n_in} channels, the graph has {graph.n_in}")
    stats = ActivityStats.empty(graph, batch, n_steps)
    rec, out = zero_state(batch, graph.n_rec), zero_state(batch, graph.n_out)
    to_rec, to_out = receptors_of(graph, ("w_in", "w_rec")), receptors_of(graph, ("w_out",))
    z = np.zeros((batch, graph.n_rec), dtype=np.int64)
    step_cell = CELL_STEPS[graph.neurons.cell]
    spikes = np.zeros((batch, n_steps, graph.n_rec), dtype=np.uint8)
    readout = np.zeros((batch, n_steps, graph.n_out), dtype=np.int64)
    states = {k: np.zeros((batch, n_steps, graph.n_rec), dtype=np.int64) for k in ("v", "a")} if probe_states else {}
    for t in range(n_steps):
        i_rec = synaptic_input(to_rec, {"w_in": x[:, t], "w_rec": z}, stats, "recurrent", t)
        i_out = synaptic_input(to_out, {"w_out": z}, stats, "readout", t)
        step_neurons(graph.readout, out, i_out, graph, stats, "readout")
        z = step_cell(graph.neurons, rec, i_rec, graph, stats, "recurrent")
        stats.active_neuron_updates += int(np.count_nonzero((i_rec != 0) | (rec["v"] != 0)))
        spikes[:, t], readout[:, t] = z, out["v"]
        for k in states:
            states[k][:, t] = rec[k]
    stats.finish(spikes)
    return Trace(spikes=spikes, readout=readout, states=states), stats
