"""Sparse float e-prop equals the dense trainer: the event-driven forward pass equals the float reference, and the
per-synapse gradients equal the dense sequence-mode gradients restricted to the existing synapses."""

from __future__ import annotations

import numpy as np
import pytest

from neuroport.emulator.reference import simulate
from neuroport.ir.network import Network
from neuroport.tasks import Batch
from neuroport.training.gradients import sequence_gradients
from neuroport.training.sparse_eprop import Csr, SparseNetwork, simulate_sparse, sparse_gradients, train_step

N_IN, N_REC, N_OUT, T, BATCH = 10, 40, 3, 150, 2


def random_network(seed: int, adaptive: bool, loss: str) -> Network:
    """LIF (and ALIF in the second half if ``adaptive``) with 30 % of input and recurrent synapses, no self-loops."""
    rng = np.random.default_rng(seed)
    in_mask = rng.random((N_REC, N_IN)) < 0.3
    rec_mask = (rng.random((N_REC, N_REC)) < 0.3) & ~np.eye(N_REC, dtype=bool)
    out_mask = np.ones((N_OUT, N_REC), dtype=bool)
    beta = np.where(np.arange(N_REC) >= N_REC // 2, 0.3, 0.0) if adaptive else np.zeros(N_REC)
    tau_a = np.where(beta > 0, rng.uniform(50.0, 200.0, N_REC), np.inf)
    full = lambda v: np.full(N_REC, v)  # noqa: E731
    return Network(dt_ms=1.0, n_in=N_IN, n_rec=N_REC, n_out=N_OUT, tau_m_ms=rng.uniform(10.0, 30.0, N_REC),
                   v_th=full(0.6), t_ref_ms=full(2.0), beta=beta, tau_a_ms=tau_a, surrogate_gamma=full(0.3),
                   surrogate_beta=full(1.0), surrogate_function="piecewise_linear",
                   tau_out_ms=rng.uniform(10.0, 30.0, N_OUT), loss=loss,
                   w_in=np.where(in_mask, rng.normal(0.5, 0.5, in_mask.shape), 0.0),
                   w_rec=np.where(rec_mask, rng.normal(0.0, 0.4, rec_mask.shape), 0.0),
                   w_out=rng.normal(0.0, 0.3, out_mask.shape), w_in_mask=in_mask, w_rec_mask=rec_mask,
                   w_out_mask=out_mask, w_in_plastic=in_mask, w_rec_plastic=rec_mask, w_out_plastic=out_mask)


def random_batch(seed: int, loss: str) -> Batch:
    rng = np.random.default_rng(seed + 100)
    inputs = (rng.random((BATCH, T, N_IN)) < 0.08).astype(np.uint8)
    mask = np.zeros((BATCH, T), dtype=bool)
    if loss == "mse":
        mask[:, 10:] = True
        return Batch(inputs, rng.normal(0.0, 1.0, (BATCH, T, N_OUT)), mask)
    labels = rng.integers(0, N_OUT, BATCH)
    mask[:, -30:] = True
    return Batch(inputs, np.repeat(np.eye(N_OUT)[labels][:, None], T, axis=1), mask, labels)


CASES = [(0, False, "mse"), (1, True, "mse"), (2, False, "cross_entropy"), (3, True, "cross_entropy")]


@pytest.mark.parametrize("seed, adaptive, loss", CASES)
def test_forward_equals_float_reference(seed, adaptive, loss):
    net, batch = random_network(seed, adaptive, loss), random_batch(seed, loss)
    dense = simulate(net, batch.inputs)
    sparse_net = SparseNetwork.from_network(net)
    assert dense.z.sum() > 100, "the case must spike"
    for b in range(BATCH):
        run = simulate_sparse(sparse_net, batch.inputs[b], record_states=True)
        np.testing.assert_array_equal(run.raster(N_REC), dense.z[b])
        for name in ("psi", "y", "v", "a"):
            np.testing.assert_allclose(getattr(run, name), getattr(dense, name)[b], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("feedback", ["symmetric", "random"])
@pytest.mark.parametrize("seed, adaptive, loss", CASES)
def test_gradients_equal_dense_on_existing_synapses(seed, adaptive, loss, feedback):
    net, batch = random_network(seed, adaptive, loss), random_batch(seed, loss)
    b_random = np.random.default_rng(seed + 7).normal(0.0, 1.0, (N_REC, N_OUT)) / np.sqrt(N_REC)
    options = dict(feedback=feedback, b_random=b_random, c_reg=2.0, f_target_hz=10.0)
    dense = sequence_gradients(net, batch.inputs.astype(float), simulate(net, batch.inputs), batch, **options)
    sparse_net = SparseNetwork.from_network(net)
    sparse = sparse_gradients(sparse_net, batch, **options)
    for name in ("w_in", "w_rec"):
        csr: Csr = getattr(sparse_net, name)
        expected = getattr(dense, name)
        assert np.abs(expected).max() > 1e-6
        np.testing.assert_allclose(csr.to_dense(getattr(sparse, name)), expected, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(sparse.w_out, dense.w_out, rtol=1e-10, atol=1e-13)
    assert sparse.loss == pytest.approx(dense.loss, rel=1e-12)
    assert sparse.n_errors == dense.n_errors and sparse.rate_hz == pytest.approx(dense.rate_hz)


def test_csr_round_trip_and_sgd_step():
    net = random_network(4, True, "mse")
    sparse_net = SparseNetwork.from_network(net)
    np.testing.assert_array_equal(sparse_net.w_rec.to_dense(), net.w_rec)
    assert sparse_net.w_rec.n_synapses == net.w_rec_mask.sum()
    batch = random_batch(4, "mse")
    new, grads = train_step(sparse_net, batch, 0.01)
    np.testing.assert_allclose(new.w_rec.weights, sparse_net.w_rec.weights - 0.01 * grads.w_rec / BATCH)
    assert new.w_rec.indices is sparse_net.w_rec.indices  # structure shared, weights new


def test_random_csr_has_fixed_fan_out_and_no_self_loops():
    csr = Csr.random(50, 50, 7, np.random.default_rng(0), 0.0, 1.0, no_self=True)
    assert csr.n_synapses == 350 and np.all(np.diff(csr.indptr) == 7)
    sources = np.repeat(np.arange(50), 7)
    assert not np.any(csr.indices == sources)
