"""s16.15 step of sPyNNaker's ``IF_curr_delta_ca2_adaptive`` and the dispatch of the SpiNNaker LIF-family cells.

Sources (sPyNNaker 1!7.4.1, neural_modelling/src/neuron/): implementations/neuron_impl_standard.h (the order of a
timestep), additional_inputs/additional_input_ca2_adaptive_impl.h (the calcium current), models/neuron_model_lif_impl.h
(the LIF closed form and refractory timer: :func:`neuroport.emulator.spinnaker_s1615.step_neurons`).  The Python
side of the same release (spynnaker/pyNN/models/neuron/additional_inputs/additional_input_ca2_adaptive.py) writes
the parameters ``tau_ca2, i_ca2, i_alpha, time_step`` as S1615 words.

Setup (additional_input_initialise, n_steps_per_timestep = 1):

    exp_tau_ca2 = expk(−kdivk(time_step, tau_ca2))          ts = kdivui(time_step, 1) = time_step

Per step, for each neuron (words, F = 15; ``mul`` is accum × accum rounded to nearest as for the LIF cell):

    i_ca2 ← mul(i_ca2, exp_tau_ca2)                         additional_input_get_input_value_as_current: decay
    I     = (exc − inh) + i_ca2                              external_bias = the decayed i_ca2 (added, not subtracted)
    IF_curr_delta update with I (skipped while refract_timer > 0), z = [V ≥ V_thresh], reset, refract_timer
    i_ca2 ← i_ca2 + i_alpha  where z                         additional_input_has_spiked

Every state word passes the hw config's overflow rule (saturate or wrap at 32 bits), counted per name.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from neuroport.emulator.spinnaker_s1615 import limit_table, mul, step_neurons
from neuroport.emulator.trace import ActivityStats
from neuroport.ir.spinnaker_graph import SpiNNakerCa2Neurons, SpiNNakerGraph


def step_ca2(n: SpiNNakerCa2Neurons, s: dict[str, np.ndarray], current: np.ndarray, graph: SpiNNakerGraph,
             stats: ActivityStats, name: str) -> np.ndarray:
    """One IF_curr_delta_ca2_adaptive update (module docstring) of state ``s`` (v, r, a, i_ca2); returns the spikes.
    ``s`` without ``i_ca2`` starts from the population's initial i_ca2 words."""
    lim = limit_table(graph.state_bits)[graph.overflow]

    def checked(x: np.ndarray, what: str) -> np.ndarray:
        out, events = lim(x)
        stats.count(f"{what}_{name}", events)
        return out

    if "i_ca2" not in s:
        s["i_ca2"] = np.broadcast_to(n.i_ca2, s["v"].shape).astype(np.int64)
    s["i_ca2"] = checked(mul(s["i_ca2"], n.exp_tau_ca2, graph.frac_bits), "i_ca2")
    z = step_neurons(n, s, checked(current + s["i_ca2"], "input"), graph, stats, name)
    s["i_ca2"] = checked(s["i_ca2"] + z * n.i_alpha, "i_ca2")
    return z


CellStep = Callable[..., np.ndarray]
# sPyNNaker cell of the recurrent layer → its s16.15 step (neurons, state, synaptic current, graph, stats, name)
CELL_STEPS: dict[str, CellStep] = {"IF_curr_delta": step_neurons, "IF_curr_delta_ca2_adaptive": step_ca2}
