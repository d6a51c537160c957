"""The float reference reproduces NEST 3.10's own e-prop neuron models (an independent implementation): membrane
voltage, surrogate gradient, adaptive threshold and spikes of a recurrent network, and the membrane voltage of
``eprop_readout_bsshslm_2020`` readouts (one synaptic delay later), every step, to 1e-12.

NEST's surrogate parameters (height h, width w: ψ = h · max(0, 1 − |v − A| / w)) map to ours (Bellec's γ and a
width factor β: ψ = γ/v_th · max(0, 1 − β |v − A| / v_th)) by γ = h · v_th and β = v_th / w.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuroport.emulator.reference import simulate
from neuroport.ir.network import Network

pytestmark = pytest.mark.nest
HERE = Path(__file__).parent
V_TH, H, W = 0.6, 0.5, 0.6


def run_nest(model: str, tmp_path: Path, seed: int) -> dict[str, np.ndarray]:
    out = tmp_path / f"{model}.npz"
    subprocess.run([sys.executable, str(HERE / "run_nest_neurons.py"), model, str(out), str(seed)], check=True,
                   capture_output=True, text=True, timeout=120)
    with np.load(out) as data:
        return dict(data)


def network(w_in: np.ndarray, w_rec: np.ndarray, w_out: np.ndarray, adaptive: bool) -> Network:
    n, n_in = w_in.shape
    full = lambda v: np.full(n, float(v))  # noqa: E731
    return Network(
        dt_ms=1.0, n_in=n_in, n_rec=n, n_out=w_out.shape[0], tau_m_ms=full(20.0), v_th=full(V_TH), t_ref_ms=full(3.0),
        beta=full(0.2 if adaptive else 0.0), tau_a_ms=full(50.0 if adaptive else np.inf),
        surrogate_gamma=full(H * V_TH), surrogate_beta=full(V_TH / W), surrogate_function="piecewise_linear",
        tau_out_ms=np.full(w_out.shape[0], 20.0), loss="mse", w_in=w_in, w_rec=w_rec, w_out=w_out,
        w_in_mask=np.ones(w_in.shape, bool), w_rec_mask=w_rec != 0, w_out_mask=np.ones(w_out.shape, bool),
        w_in_plastic=np.ones(w_in.shape, bool), w_rec_plastic=w_rec != 0, w_out_plastic=np.ones(w_out.shape, bool))


@pytest.mark.parametrize("model,adaptive", [("eprop_iaf_bsshslm_2020", False), ("eprop_iaf_adapt_bsshslm_2020", True)])
@pytest.mark.parametrize("seed", [0, 1])
def test_reference_equals_nest_neurons(tmp_path, model, adaptive, seed):
    nest = run_nest(model, tmp_path, seed)
    run = simulate(network(nest["w_in"], nest["w_rec"], nest["w_out"], adaptive), nest["x"][None])
    assert nest["spikes"].sum() >= 5, "the case must spike"
    assert_equals_nest(run, nest, adaptive)


def assert_equals_nest(run, nest: dict[str, np.ndarray], adaptive: bool) -> None:
    """Spikes, V_m, ψ, the readout's V_m and (``adaptive``) the threshold V_th + β a of sample 0 of ``run`` equal
    NEST's recordings to 1e-12."""
    np.testing.assert_array_equal(run.z[0], nest["spikes"])
    np.testing.assert_allclose(run.v[0], nest["V_m"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(run.psi[0], nest["surrogate_gradient"], rtol=0, atol=1e-12)
    # eprop_readout_bsshslm_2020's V_m sees the spikes one synaptic delay later: V_m[t + 1] = y[t]
    np.testing.assert_allclose(run.y[0, :-1], nest["readout"][1:], rtol=0, atol=1e-12)
    if adaptive:
        np.testing.assert_allclose(V_TH + 0.2 * run.a[0], nest["V_th_adapt"], rtol=0, atol=1e-12)
