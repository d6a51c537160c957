"""Run a small recurrent network of NEST's own e-prop models and save what they did (used by the tests; run in a
subprocess so that NEST's kernel stays out of the test process).

    python run_nest_neurons.py MODEL OUT.npz SEED
"""

from __future__ import annotations

import sys

import numpy as np

N_IN, N, N_OUT, STEPS = 3, 5, 2, 80


def draw(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    w_in, w_rec = rng.normal(0, 0.6, (N, N_IN)), rng.normal(0, 0.4, (N, N))
    np.fill_diagonal(w_rec, 0)
    x = (rng.random((STEPS, N_IN)) < 0.3).astype(int)
    x[0] = 0  # a generator spike at t = 0 ms would be stamped before the first step
    return {"w_in": w_in, "w_rec": w_rec, "x": x, "w_out": rng.normal(0, 0.5, (N_OUT, N))}


def build(nest, model: str, d: dict[str, np.ndarray]):
    """NEST's ``model`` neurons, ``eprop_readout_bsshslm_2020`` readouts and spike generators of ``d["x"]``, connected
    with d's weights and, where d has them, its delays in ms (``d_in``, ``d_rec``, ``d_out``; else 1 ms)."""
    (n, n_in), n_out = d["w_in"].shape, d["w_out"].shape[0]
    params = {"E_L": 0.0, "V_m": 0.0, "V_th": 0.6, "tau_m": 20.0, "t_ref": 3.0, "C_m": 1.0, "I_e": 0.0,
              "surrogate_gradient_function": "piecewise_linear", "surrogate_gradient_height": 0.5,
              "surrogate_gradient_width": 0.6}
    if "adapt" in model:
        params.update(adapt_tau=50.0, adapt_beta=0.2)
    neurons = nest.Create(model, n, params)
    readout = nest.Create("eprop_readout_bsshslm_2020", n_out, {"E_L": 0.0, "V_m": 0.0, "tau_m": 20.0, "C_m": 1.0, "I_e": 0.0})
    generators = nest.Create("spike_generator", n_in)
    for i in range(n_in):
        generators[i].spike_times = [float(t) for t in np.flatnonzero(d["x"][:, i])]

    def connect(pre, post, kind: str, row: int, col: int) -> None:
        delay = float(d[f"d_{kind}"][row, col]) if f"d_{kind}" in d else 1.0
        nest.Connect(pre, post, syn_spec={"weight": d[f"w_{kind}"][row, col], "delay": delay})

    for j in range(n):
        for i in range(n_in):
            connect(generators[i], neurons[j], "in", j, i)
        for i in (i for i in range(n) if i != j):
            connect(neurons[i], neurons[j], "rec", j, i)
        for k in range(n_out):
            connect(neurons[j], readout[k], "out", k, j)
    return neurons, readout


def recorded(events, names: list[str], first_id: int, width: int, steps: int) -> dict[str, np.ndarray]:
    """Per-step arrays from a recorder's events; the state at time t ms is that after step t − 1 (0-based)."""
    out = {name: np.zeros((steps, width)) for name in names}
    for k, t in enumerate(events["times"]):
        step = int(round(t)) - 1
        if step < steps:
            for name in names:
                out[name][step, events["senders"][k] - first_id] = events[name][k] if name in events else 1
    return out


def run(model: str, d: dict[str, np.ndarray], out: str) -> None:
    """Simulate the network of ``d`` (see :func:`build`) for its ``len(d["x"])`` steps; save d and the recordings."""
    import nest

    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    # the bsshslm models reset v, z, a at the start of every update interval by default; this run has no learning
    nest.SetKernelStatus({"resolution": 1.0, "eprop_reset_neurons_on_update": False})
    neurons, readout = build(nest, model, d)
    names = ["V_m", "surrogate_gradient"] + (["V_th_adapt"] if "adapt" in model else [])
    meter = nest.Create("multimeter", {"record_from": names, "interval": 1.0})
    readout_meter = nest.Create("multimeter", {"record_from": ["V_m"], "interval": 1.0})
    spikes = nest.Create("spike_recorder")
    nest.Connect(meter, neurons)
    nest.Connect(readout_meter, readout)
    nest.Connect(neurons, spikes)
    steps, first = len(d["x"]), neurons[0].global_id
    nest.Simulate(float(steps + 1))
    arrays = recorded(meter.events, names, first, len(neurons), steps)
    arrays["spikes"] = recorded(spikes.events, ["spikes"], first, len(neurons), steps)["spikes"]
    arrays["readout"] = recorded(readout_meter.events, ["V_m"], readout[0].global_id, len(readout), steps)["V_m"]
    np.savez(out, **d, **arrays)


def main(model: str, out: str, seed: int) -> None:
    run(model, draw(seed), out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
