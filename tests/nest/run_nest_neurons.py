"""Run a small recurrent network of NEST's own e-prop neuron models and save what they did (used by the tests;
run in a subprocess so that NEST's kernel stays out of the test process).

    python run_nest_neurons.py MODEL OUT.npz SEED
"""

from __future__ import annotations

import sys

import numpy as np


def main(model: str, out: str, seed: int) -> None:
    import nest

    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    # the bsshslm models reset v, z, a at the start of every update interval by default; this run has no learning
    nest.SetKernelStatus({"resolution": 1.0, "eprop_reset_neurons_on_update": False})
    rng = np.random.default_rng(seed)
    n_in, n, steps = 3, 5, 80
    w_in = rng.normal(0, 0.6, (n, n_in))
    w_rec = rng.normal(0, 0.4, (n, n))
    np.fill_diagonal(w_rec, 0)
    x = (rng.random((steps, n_in)) < 0.3).astype(int)
    x[0] = 0  # a generator spike at t = 0 ms would be stamped before the first step
    params = {"E_L": 0.0, "V_m": 0.0, "V_th": 0.6, "tau_m": 20.0, "t_ref": 3.0, "C_m": 1.0, "I_e": 0.0,
              "surrogate_gradient_function": "piecewise_linear", "surrogate_gradient_height": 0.5,
              "surrogate_gradient_width": 0.6}
    if model == "eprop_iaf_adapt_bsshslm_2020":
        params.update(adapt_tau=50.0, adapt_beta=0.2)
    neurons = nest.Create(model, n, params)
    generators = nest.Create("spike_generator", n_in)
    for i in range(n_in):
        generators[i].spike_times = [float(t) for t in np.flatnonzero(x[:, i])]
    for j in range(n):
        for i in range(n_in):
            nest.Connect(generators[i], neurons[j], syn_spec={"weight": w_in[j, i], "delay": 1.0})
        for i in range(n):
            if i != j:
                nest.Connect(neurons[i], neurons[j], syn_spec={"weight": w_rec[j, i], "delay": 1.0})
    recordables = ["V_m", "surrogate_gradient"] + (["V_th_adapt"] if "adapt" in model else [])
    meter = nest.Create("multimeter", {"record_from": recordables, "interval": 1.0})
    recorder = nest.Create("spike_recorder")
    nest.Connect(meter, neurons)
    nest.Connect(neurons, recorder)
    nest.Simulate(float(steps + 1))
    first = neurons[0].global_id
    arrays = {name: np.zeros((steps, n)) for name in recordables + ["spikes"]}
    ev = meter.events
    for k, t in enumerate(ev["times"]):
        step = int(round(t)) - 1  # state at time t ms = after the update of step t − 1 (0-based)
        if step < steps:
            for name in recordables:
                arrays[name][step, ev["senders"][k] - first] = ev[name][k]
    for t, s in zip(recorder.events["times"], recorder.events["senders"], strict=True):
        if int(round(t)) - 1 < steps:
            arrays["spikes"][int(round(t)) - 1, s - first] = 1
    np.savez(out, x=x, w_in=w_in, w_rec=w_rec, **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
