"""``neuroport train --engine bptt``: the same network trained with backpropagation through time (torch, CPU).

The baseline e-prop is compared with (Bellec et al. 2020 report BPTT next to e-prop for every task).  The
forward pass is the float reference's (:mod:`neuroport.emulator.reference`), step for step; the spike's
derivative is the same pseudo-derivative ψ e-prop uses:

    z[t] = H(v[t] − A[t]) · [r = 0]          backward: ∂z/∂v = ψ(v − A) · [r = 0]

and the loss is e-prop's, with NEST's firing-rate regularization as the term it is the gradient of:

    E = Σ_b [ ½ Σ_t,k mask (y − y*)²   or   −Σ_t,k mask π* log softmax(y) ]
        + ½ c_reg Σ_b,j (n_spikes_bj / T − f_target·dt)²          (spikes per step, as NEST)

Gradients of E go through the e-prop trainer's own optimizer loop (same batch mean, Adam, clipping, masks,
weight decay), so the two
runs differ only in how the gradient is computed.  With ``detach_reset`` the reset term v_th·z[t−1] carries no
gradient (e-prop's eligibility ignores it too): for a network without recurrent weights BPTT and e-prop then
compute the same gradient up to the factor (1 − κ) that NEST's ē = κ ē + (1 − κ) e puts on the input and
recurrent gradients (the exact gradient has none; Adam is nearly insensitive to it), which tests/test_bptt.py
checks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from neuroport.errors import UnsupportedError
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.learning_rule import EpropRule
from neuroport.ir.network import MATRICES, Network, assemble, with_weights
from neuroport.tasks import Batch
from neuroport.training.eprop import (
    IterationStats,
    TrainedWeights,
    TrainResult,
    draw_batches,
    rule_of,
    train_on_batches,
)
from neuroport.training.gradients import Gradients
from neuroport.training.parallel import Shards

SHAPES = {  # ψ / (γ / v_th) as a function of the scaled distance d = β |v − A| / v_th (float_graph.Surrogate)
    "piecewise_linear": lambda d: torch.clamp(1.0 - d, min=0.0),
    "exponential": lambda d: torch.exp(-d),
    "fast_sigmoid_derivative": lambda d: (1.0 + d) ** -2,
    "arctan": lambda d: 1.0 / (1.0 + d**2),
}


class SpikeFunction(torch.autograd.Function):
    """Heaviside forward, pseudo-derivative ψ backward."""

    @staticmethod
    def forward(ctx, distance: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(psi)
        return (distance >= 0).to(distance.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: D102
        (psi,) = ctx.saved_tensors
        return grad * psi, None


class TorchNetwork:
    """A :class:`Network`'s constants as tensors; the weights are passed to :meth:`run`."""

    def __init__(self, net: Network, dtype: torch.dtype = torch.float64) -> None:
        t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=dtype)  # noqa: E731
        self.net, self.dtype = net, dtype
        self.alpha, self.rho, self.kappa = t(net.alpha), t(net.rho), t(net.kappa)
        self.v_th, self.beta = t(net.v_th), t(net.beta)
        self.psi_scale, self.dist_scale = t(net.surrogate_gamma / net.v_th), t(net.surrogate_beta / net.v_th)
        self.shape = SHAPES[net.surrogate_function]
        self.n_ref = torch.as_tensor(net.n_ref_steps, dtype=torch.int64)

    def run(self, weights: dict[str, torch.Tensor], inputs: np.ndarray, *, detach_reset: bool = False):
        """Simulate; returns (z, y) of shapes (batch, T, n_rec) and (batch, T, n_out)."""
        x = torch.as_tensor(np.asarray(inputs, dtype=np.float64), dtype=self.dtype)
        batch, n_steps, _ = x.shape
        n = self.net.n_rec
        drive = (x @ weights["w_in"].T).unbind(1)  # unbind, not drive[:, t]: slicing's backward is O(T) per step
        v = a = z = torch.zeros(batch, n, dtype=self.dtype)
        y = torch.zeros(batch, self.net.n_out, dtype=self.dtype)
        r = torch.zeros(batch, n, dtype=torch.int64)
        zs, ys = [], []
        for t in range(n_steps):
            r = torch.clamp(r - 1, min=0)
            reset = z.detach() if detach_reset else z
            v = self.alpha * v + drive[t] + z @ weights["w_rec"].T - self.v_th * reset
            a = self.rho * a + z
            distance = v - (self.v_th + self.beta * a)
            free = (r == 0).to(self.dtype)
            psi = (self.psi_scale * self.shape(self.dist_scale * distance.detach().abs())) * free
            z = SpikeFunction.apply(distance, psi) * free
            r = torch.where(z.detach() > 0, self.n_ref, r)
            y = self.kappa * y + z @ weights["w_out"].T
            zs.append(z)
            ys.append(y)
        return torch.stack(zs, dim=1), torch.stack(ys, dim=1)


def loss_of(tnet: TorchNetwork, rule: EpropRule, z: torch.Tensor, y: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(total objective, task loss, misclassified sequences), both sums over the batch (module docstring)."""
    mask = torch.as_tensor(batch.loss_mask, dtype=tnet.dtype)[..., None]
    targets = torch.as_tensor(batch.targets, dtype=tnet.dtype)
    if tnet.net.loss == "mse":
        task = 0.5 * torch.sum(((y - targets) * mask) ** 2)
        errors = 0
    else:
        task = -torch.sum(mask * targets * torch.log_softmax(y, dim=-1))
        evidence = torch.sum(y.detach() * mask, dim=1).numpy()
        errors = int(np.sum(np.argmax(evidence, axis=1) != batch.labels)) if batch.labels is not None else 0
    rate = z.sum(dim=1) / z.shape[1]  # spikes per step, per sample and neuron
    reg = 0.5 * rule.c_reg * torch.sum((rate - rule.f_target_hz * tnet.net.dt_ms * 1e-3) ** 2)
    return task + reg, task.detach(), errors


def bptt_gradients(net: Network, rule: EpropRule, batch: Batch, *, detach_reset: bool = False,
                   dtype: torch.dtype = torch.float64) -> Gradients:
    """Gradients of the objective summed over the batch (like e-prop's), with the task loss, errors and rate."""
    tnet = TorchNetwork(net, dtype)
    weights = {name: torch.tensor(getattr(net, name), dtype=dtype, requires_grad=True) for name in MATRICES}
    z, y = tnet.run(weights, batch.inputs, detach_reset=detach_reset)
    objective, task_loss, errors = loss_of(tnet, rule, z, y, batch)
    objective.backward()
    grads = {name: w.grad.numpy().astype(np.float64) * getattr(net, f"{name}_plastic") for name, w in weights.items()}
    return Gradients(**grads, loss=float(task_loss), n_errors=errors, rate_hz=float(z.detach().mean()) * 1e3 / net.dt_ms)


def bptt_refusals(net: Network, rule: EpropRule) -> list[str]:
    """What the BPTT baseline does not model (empty: it can train the model): it is the bsshslm_2020 network."""
    reasons = []
    if rule.variant != "bsshslm_2020":
        reasons.append(f"learning.variant '{rule.variant}': the BPTT baseline simulates the bsshslm_2020 network only")
    if net.delays is not None:
        reasons.append("projections[].delay_steps: the BPTT baseline has one-step synapses only")
    return reasons


def _bptt_batch_gradients(net: Network, rule: EpropRule, _b_matrix, batch: Batch, *, dtype: torch.dtype) -> Gradients:
    """:func:`bptt_gradients` in the trainer's (net, rule, B, batch) form (picklable, for data-parallel shards)."""
    return bptt_gradients(net, rule, batch, dtype=dtype)


def bptt_train_on_batches(net: Network, rule: EpropRule, batches: list[Batch], *,
                          on_iteration: Callable[[IterationStats], None] | None = None,
                          dtype: torch.dtype = torch.float32, shards: Shards | None = None) -> TrainedWeights:
    """One optimizer step per batch with BPTT gradients, through the e-prop trainer's optimizer loop (``shards``:
    each batch split across workers, :mod:`neuroport.training.parallel`)."""
    return train_on_batches(net, rule, batches, on_iteration=on_iteration, shards=shards,
                            gradients=partial(_bptt_batch_gradients, dtype=dtype))


def train_bptt(graph: FloatGraph, iterations: int, *, seed: int | None = None, batch_size: int | None = None,
               on_iteration: Callable[[IterationStats], None] | None = None, threads: int | None = None,
               shards: Shards | None = None) -> TrainResult:
    """Train ``graph`` with BPTT on the batches ``train_eprop`` would draw with the same seed."""
    if threads:
        torch.set_num_threads(threads)
    net, rule = assemble(graph), rule_of(graph)
    refused = bptt_refusals(net, rule)
    if refused:
        raise UnsupportedError("--engine bptt cannot train this model: " + "; ".join(refused))
    batches = draw_batches(graph, iterations, seed=seed, batch_size=batch_size)
    result = bptt_train_on_batches(net, rule, batches, on_iteration=on_iteration, shards=shards)
    w = result.weights
    return TrainResult(with_weights(graph, w["w_in"], w["w_rec"], w["w_out"]), result.history)
