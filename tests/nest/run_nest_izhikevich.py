"""Run a recurrent network of NEST's own ``izhikevich`` neurons and save V_m, U_m and spikes per step (used by
tests/test_izhikevich.py; run in a subprocess so that NEST's kernel stays out of the test process).

    python run_nest_izhikevich.py SPEC.npz OUT.npz

SPEC holds x (steps, n_in) 0/1, w_in (n, n_in) and w_rec (n, n) as NEST weights (mV jumps of V_m), dt_ms, and
per-neuron a, b, c_mv, d, v_init_mv, u_init, i_offset.  Input spike x[t] is a generator spike at t·dt with delay
dt; recurrent delay dt; V_m and U_m are read at (t + 1)·dt, the end of step t.
"""

from __future__ import annotations

import sys

import numpy as np


def main(spec_file: str, out_file: str) -> None:
    import nest

    s = dict(np.load(spec_file))
    dt, (steps, n_in), n = float(s["dt_ms"]), s["x"].shape, s["w_rec"].shape[0]
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.resolution = dt
    neurons = nest.Create("izhikevich", n, params=[
        {"a": s["a"][j], "b": s["b"][j], "c": s["c_mv"][j], "d": s["d"][j], "V_m": s["v_init_mv"][j],
         "U_m": s["u_init"][j], "I_e": s["i_offset"][j], "V_th": 30.0, "consistent_integration": True}
        for j in range(n)])
    generators = nest.Create("spike_generator", n_in, params=[
        {"spike_times": [round(t * dt, 6) for t in np.nonzero(s["x"][:, i])[0]]} for i in range(n_in)])
    for j in range(n):
        for i in range(n_in):
            nest.Connect(generators[i], neurons[j], syn_spec={"weight": s["w_in"][j, i], "delay": dt})
        for i in range(n):
            if s["w_rec"][j, i] != 0:
                nest.Connect(neurons[i], neurons[j], syn_spec={"weight": s["w_rec"][j, i], "delay": dt})
    meter = nest.Create("multimeter", params={"record_from": ["V_m", "U_m"], "interval": dt})
    nest.Connect(meter, neurons)
    recorder = nest.Create("spike_recorder")
    nest.Connect(neurons, recorder)
    nest.Simulate((steps + 1) * dt)  # the meter's sample at steps·dt is taken in the step after
    ev, spikes = meter.get("events"), recorder.get("events")
    keep = ev["times"] <= steps * dt + 1e-9
    ev = {k: ev[k][keep] for k in ("times", "senders", "V_m", "U_m")}
    step = np.round(ev["times"] / dt).astype(int) - 1
    v, u, z = np.zeros((steps, n)), np.zeros((steps, n)), np.zeros((steps, n))
    v[step, ev["senders"] - neurons[0].global_id] = ev["V_m"]
    u[step, ev["senders"] - neurons[0].global_id] = ev["U_m"]
    fired = spikes["times"] <= steps * dt + 1e-9
    z[np.round(spikes["times"][fired] / dt).astype(int) - 1, spikes["senders"][fired] - neurons[0].global_id] = 1.0
    np.savez(out_file, v=v, u=u, z=z)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
