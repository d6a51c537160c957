"""Synaptic delays of the float reference against NEST 3.10 (an independent simulator): a recurrent network of
NEST's own ``eprop_iaf_bsshslm_2020`` / ``eprop_iaf_adapt_bsshslm_2020`` neurons whose input, recurrent and readout
connections have delays of 1–5 ms (dt = 1 ms), simulated by NEST with plain static synapses; membrane voltage,
surrogate gradient, spikes and readout voltage of every step equal the float reference with the same delays to 1e-12.

The delay conventions map one to one: NEST's delay of d ms is neuroport's ``delay_steps`` d for every kind of
projection (an input spike stamped at t ms with delay 1 is neuroport's x[t], which drives v[t]; delay d drives
v[t + d − 1]; the readout's V_m at t + 1 is y[t] as in tests/nest/test_reference_vs_nest.py).

Run as a script (in a subprocess, so that NEST's kernel stays out of the test process):
    python test_delays_vs_nest.py MODEL OUT.npz SEED
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

N_IN, N, N_OUT, STEPS, MAX_DELAY = 3, 6, 2, 90, 5
HERE = Path(__file__).parent


def draw(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    w_in, w_rec = rng.normal(0, 0.7, (N, N_IN)), rng.normal(0, 0.5, (N, N))
    np.fill_diagonal(w_rec, 0)
    x = (rng.random((STEPS, N_IN)) < 0.3).astype(int)
    x[0] = 0  # a generator spike at t = 0 ms would be stamped before the first step
    delays = {k: rng.integers(1, MAX_DELAY + 1, shape) for k, shape in
              (("d_in", (N, N_IN)), ("d_rec", (N, N)), ("d_out", (N_OUT, N)))}
    return {"w_in": w_in, "w_rec": w_rec, "x": x, "w_out": rng.normal(0, 0.5, (N_OUT, N)), **delays}


def main(model: str, out: str, seed: int) -> None:  # pragma: no cover - runs in the NEST subprocess
    import nest
    import run_nest_neurons  # the recorder helper of tests/nest (this script runs from that folder)

    run_nest_neurons.STEPS = STEPS
    recorded = run_nest_neurons.recorded
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 1.0, "eprop_reset_neurons_on_update": False})
    d = draw(seed)
    params = {"E_L": 0.0, "V_m": 0.0, "V_th": 0.6, "tau_m": 20.0, "t_ref": 3.0, "C_m": 1.0, "I_e": 0.0,
              "surrogate_gradient_function": "piecewise_linear", "surrogate_gradient_height": 0.5,
              "surrogate_gradient_width": 0.6}
    if "adapt" in model:
        params.update(adapt_tau=50.0, adapt_beta=0.2)
    neurons = nest.Create(model, N, params)
    readout = nest.Create("eprop_readout_bsshslm_2020", N_OUT, {"E_L": 0.0, "V_m": 0.0, "tau_m": 20.0, "C_m": 1.0, "I_e": 0.0})
    generators = nest.Create("spike_generator", N_IN)
    for i in range(N_IN):
        generators[i].spike_times = [float(t) for t in np.flatnonzero(d["x"][:, i])]
    connect = lambda pre, post, w, delay: nest.Connect(pre, post, syn_spec={"weight": w, "delay": float(delay)})  # noqa: E731
    for j in range(N):
        for i in range(N_IN):
            connect(generators[i], neurons[j], d["w_in"][j, i], d["d_in"][j, i])
        for i in (i for i in range(N) if i != j):
            connect(neurons[i], neurons[j], d["w_rec"][j, i], d["d_rec"][j, i])
        for k in range(N_OUT):
            connect(neurons[j], readout[k], d["w_out"][k, j], d["d_out"][k, j])
    names = ["V_m", "surrogate_gradient"] + (["V_th_adapt"] if "adapt" in model else [])
    meter = nest.Create("multimeter", {"record_from": names, "interval": 1.0})
    readout_meter = nest.Create("multimeter", {"record_from": ["V_m"], "interval": 1.0})
    spikes = nest.Create("spike_recorder")
    nest.Connect(meter, neurons)
    nest.Connect(readout_meter, readout)
    nest.Connect(neurons, spikes)
    nest.Simulate(float(STEPS + 1))
    arrays = recorded(meter.events, names, neurons[0].global_id, N)
    arrays["spikes"] = recorded(spikes.events, ["spikes"], neurons[0].global_id, N)["spikes"]
    arrays["readout"] = recorded(readout_meter.events, ["V_m"], readout[0].global_id, N_OUT)["V_m"]
    np.savez(out, **d, **arrays)


@pytest.mark.nest
@pytest.mark.parametrize("model,adaptive", [("eprop_iaf_bsshslm_2020", False), ("eprop_iaf_adapt_bsshslm_2020", True)])
def test_delayed_reference_equals_nest(tmp_path, model, adaptive):
    from neuroport.emulator.reference import simulate
    from tests.nest.test_reference_vs_nest import V_TH, network

    out = tmp_path / "nest.npz"
    subprocess.run([sys.executable, __file__, model, str(out), "3"], check=True, capture_output=True, text=True,
                   timeout=120, cwd=HERE)
    with np.load(out) as data:
        nest = dict(data)
    net = network(nest["w_in"], nest["w_rec"], nest["w_out"], adaptive)
    delays = {"w_in": nest["d_in"], "w_rec": np.where(nest["w_rec"] != 0, nest["d_rec"], 1), "w_out": nest["d_out"]}
    run = simulate(net.__class__(**{**net.__dict__, "delays": delays}), nest["x"][None])
    assert nest["spikes"].sum() >= 10, "the case must spike"
    np.testing.assert_array_equal(run.z[0], nest["spikes"])
    np.testing.assert_allclose(run.v[0], nest["V_m"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(run.psi[0], nest["surrogate_gradient"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(run.y[0, :-1], nest["readout"][1:], rtol=0, atol=1e-12)
    if adaptive:
        np.testing.assert_allclose(V_TH + 0.2 * run.a[0], nest["V_th_adapt"], rtol=0, atol=1e-12)
    undelayed = simulate(net, nest["x"][None])
    assert not np.array_equal(undelayed.z[0], nest["spikes"]), "the delays must change the run"


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
