"""NEST's own reference losses, reproduced: NEST 3.10's testsuite (``testsuite/pytests/synapses/
test_eprop_plasticity.py``, ``test_eprop_regression``) trains 100 inputs → 100 recurrent neurons → 1 readout on a
sine-wave regression for 5 iterations and asserts its losses against reference values (rtol 1e-8) for
``eprop_iaf`` (Adam), ``eprop_iaf_adapt``, ``eprop_iaf_psc_delta`` and ``eprop_iaf_psc_delta_adapt`` (gradient
descent).  Here the same network — the same legacy-numpy draws (seed 1, float32 weights), NEST's parameters, NEST's
target wiring (``target_alignment: nest_example``) — is trained by neuroport's numpy e-prop+ and its
``nest_loss`` (NEST's reporting) must equal those reference numbers; the psc_delta case also runs through
``--engine nest``.  The reference values are copied from that file of nest-simulator 3.10.0."""

from __future__ import annotations

import numpy as np
import pytest

from neuroport.ir.learning_rule import EpropPlus, EpropRule, Optimizer
from neuroport.ir.network import Network
from neuroport.tasks import Batch
from neuroport.training.eprop_plus import train_plus_on_batches

N_IN, N_REC, N_OUT, T, N_ITER = 100, 100, 1, 100, 5
KAPPA = 0.97
SCALE = 1.0 - KAPPA  # the testsuite's scale_factor
REFERENCE = {  # nest-simulator 3.10.0, testsuite/pytests/synapses/test_eprop_plasticity.py
    "eprop_iaf": ("adam", [0.14000491891386, 0.28735818029752, 0.22263713699860, 0.23015072431384, 0.17565248170694]),
    "eprop_iaf_adapt": ("sgd", [0.02242584487453, 0.01916753791522, 0.00571493935652, 0.00037875376195,
                                0.00037823157578]),
    "eprop_iaf_psc_delta": ("sgd", [0.27039631749159, 0.51390204375229, 0.53473859833866, 0.53608474802202,
                                    0.49323580244201]),
    "eprop_iaf_psc_delta_adapt": ("sgd", [0.16416646182675, 0.27952159282830, 0.29937515524341, 0.26160957500433,
                                          0.26384514215024]),
}


def superimposed_sines(periods: list[int]) -> np.ndarray:
    """The testsuite's target (same draws from the legacy global generator)."""
    amplitudes = np.random.uniform(low=0.5, high=2.0, size=len(periods))
    phases = np.random.uniform(low=0.0, high=2.0 * np.pi, size=len(periods))
    sines = [a * np.sin(np.linspace(phi, phi + 2.0 * np.pi * (T // p), T))
             for a, phi, p in zip(amplitudes, phases, periods, strict=True)]
    out = sum(sines)
    out -= out[0]
    return out / max(np.abs(out).max(), 1e-6)


def nest_testsuite_setup(model: str) -> tuple[Network, EpropRule, list[Batch]]:
    """The testsuite's network, rule and 5 one-sequence batches, as neuroport arrays (voltages relative to E_L)."""
    psc_delta, adaptive = "psc_delta" in model, model.endswith("adapt")
    np.random.seed(1)  # the testsuite draws from numpy's legacy global generator
    w_in = np.array(np.random.randn(N_IN, N_REC).T / np.sqrt(N_IN), dtype=np.float32)
    w_rec = np.array(np.random.randn(N_REC, N_REC).T / np.sqrt(N_REC), dtype=np.float32)
    np.fill_diagonal(w_rec, 0.0)
    w_out = np.array(np.random.randn(N_REC, N_OUT).T / np.sqrt(N_REC), dtype=np.float32) * SCALE
    feedback = np.array(np.random.randn(N_REC, N_OUT) / np.sqrt(N_REC), dtype=np.float32)
    if psc_delta:
        feedback /= SCALE
    else:
        w_in, w_rec, feedback = w_in * SCALE, w_rec * SCALE, feedback * SCALE
    spikes = np.random.rand(T, N_IN) < 0.05
    target = superimposed_sines([1000, 500, 333, 200])
    v_th = 0.5 if psc_delta else 0.03
    full = lambda v: np.full(N_REC, float(v))  # noqa: E731
    beta = 0.0174 if model == "eprop_iaf_adapt" else (1.0 if adaptive else 0.0)  # NEST's adapt_beta default: 1.0
    tau_a = 2000.0 if model == "eprop_iaf_adapt" else (10.0 if adaptive else np.inf)  # adapt_tau default: 10 ms
    net = Network(
        dt_ms=1.0, n_in=N_IN, n_rec=N_REC, n_out=N_OUT, tau_m_ms=full(30.0), v_th=full(v_th), t_ref_ms=full(0.0),
        beta=full(beta), tau_a_ms=full(tau_a), surrogate_gamma=full(10.0 * v_th), surrogate_beta=full(v_th / 0.03),
        surrogate_function="piecewise_linear", tau_out_ms=np.full(N_OUT, 30.0), loss="mse",
        w_in=w_in.astype(np.float64), w_rec=w_rec.astype(np.float64), w_out=w_out.astype(np.float64),
        w_in_mask=np.ones((N_REC, N_IN), bool), w_rec_mask=~np.eye(N_REC, dtype=bool),
        w_out_mask=np.ones((N_OUT, N_REC), bool), w_in_plastic=np.ones((N_REC, N_IN), bool),
        w_rec_plastic=~np.eye(N_REC, dtype=bool), w_out_plastic=np.ones((N_OUT, N_REC), bool),
        v_reset=full(-0.5) if psc_delta else None)
    optimizer, _ = REFERENCE[model]
    rule = EpropRule(variant="eprop_plus", feedback="random", feedback_weights=feedback.astype(np.float64),
                     c_reg=(2.0 / T / SCALE**2) if psc_delta else 300.0 / T, f_target_hz=10.0, batch_size=1,
                     optimizer=Optimizer(name=optimizer, learning_rate=1e-4 * SCALE**2, epsilon=1e-7),
                     plus=EpropPlus(kappa=KAPPA, kappa_reg=KAPPA, isi_trace_cutoff_steps=100, optimize_each_step=True,
                                    target_alignment="nest_example"))
    batch = Batch(spikes[None].astype(np.uint8), target[None, :, None], np.ones((1, T), bool))
    return net, rule, [batch] * N_ITER


@pytest.mark.parametrize("model", list(REFERENCE))
def test_numpy_eprop_plus_reproduces_nest_testsuite_losses(model):
    net, rule, batches = nest_testsuite_setup(model)
    result = train_plus_on_batches(net, rule, batches)
    np.testing.assert_allclose([h.nest_loss for h in result.history], REFERENCE[model][1], rtol=1e-8)


@pytest.mark.nest
def test_nest_engine_reproduces_nest_testsuite_psc_delta():
    """The same through ``--engine nest``'s runner, and numpy against it to 1e-9."""
    from neuroport.backends.nest.engine_plus import nest_plus_train_on_batches

    net, rule, batches = nest_testsuite_setup("eprop_iaf_psc_delta_adapt")
    nest, ours = nest_plus_train_on_batches(net, rule, batches), train_plus_on_batches(net, rule, batches)
    np.testing.assert_allclose([h.nest_loss for h in nest.history], REFERENCE["eprop_iaf_psc_delta_adapt"][1], rtol=1e-8)
    np.testing.assert_allclose([h.loss for h in ours.history], [h.loss for h in nest.history], rtol=1e-9)
