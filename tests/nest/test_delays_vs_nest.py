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
    import run_nest_neurons  # the network builder of tests/nest (this script runs from that folder)

    run_nest_neurons.run(model, draw(seed), out)


@pytest.mark.nest
@pytest.mark.parametrize("model,adaptive", [("eprop_iaf_bsshslm_2020", False), ("eprop_iaf_adapt_bsshslm_2020", True)])
def test_delayed_reference_equals_nest(tmp_path, model, adaptive):
    from neuroport.emulator.reference import simulate
    from tests.nest.test_reference_vs_nest import assert_equals_nest, network

    out = tmp_path / "nest.npz"
    subprocess.run([sys.executable, __file__, model, str(out), "3"], check=True, capture_output=True, text=True,
                   timeout=120, cwd=HERE)
    with np.load(out) as data:
        nest = dict(data)
    net = network(nest["w_in"], nest["w_rec"], nest["w_out"], adaptive)
    delays = {"w_in": nest["d_in"], "w_rec": np.where(nest["w_rec"] != 0, nest["d_rec"], 1), "w_out": nest["d_out"]}
    run = simulate(net.__class__(**{**net.__dict__, "delays": delays}), nest["x"][None])
    assert nest["spikes"].sum() >= 10, "the case must spike"
    assert_equals_nest(run, nest, adaptive)
    undelayed = simulate(net, nest["x"][None])
    assert not np.array_equal(undelayed.z[0], nest["spikes"]), "the delays must change the run"


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
