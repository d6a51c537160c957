"""Online e-prop for Izhikevich networks (Bellec et al. 2020, Methods, "e-prop for general neuron models").

Hidden state of neuron j: h_j[t] = (v'_j[t], u'_j[t]), the state of step t *before* the reset (the forward is
in :mod:`neuroport.emulator.izhikevich`), so that z_j[t] = H(v'_j[t] − 30) is a function of h_j[t] alone.  With
the post-reset previous state v_p = v[t−1] (= c where z[t−1], else v'[t−1]):

    v'[t] = v_p + dt (0.04 v_p² + 5 v_p + 140 − u_p + I[t]),   u'[t] = u_p + dt a (b v_p − u_p)

Choice made here (stated, and used the same way by the autograd reference in tests/test_izhikevich.py): the spike
in the reset is treated as a constant (no pseudo-derivative through the reset, as a "stop gradient" on z in
v_p = (1 − z) v' + z c and u_p = u' + d z).  The Jacobian D[t] = ∂h[t]/∂h[t−1] is then

    D = [[(1 + dt (0.08 v_p + 5)) (1 − z[t−1]),  −dt    ],
         [ dt a b (1 − z[t−1]),                  1 − dt a]]

and, per synapse (pre i: input x_i[t], or recurrent z_i[t−1]), the eligibility vector ε = (ε^v, ε^u) and trace e:

    ε^v[t] = D_vv ε^v[t−1] + D_vu ε^u[t−1] + dt pre_i[t],    ε^u[t] = D_uv ε^v[t−1] + D_uu ε^u[t−1]
    e_ji[t] = ψ_j[t] ε^v_ji[t],    ψ at v'[t] − 30 mV (width psi_width_mv)

The rest is the LIF networks' e-prop (:mod:`neuroport.training.gradients`): ē = κ ē + (1 − κ) e,
g_ji = Σ_t L_j[t] ē_ji[t] + R_j Σ_t e_ji[t], g^out_kj = Σ_t err_k[t] z̄^κ_j[t].  Without recurrent weights this
is the exact gradient of (1 − κ) · loss + the rate regularizer (the surrogate gradient, with the reset stopped);
with them, e-prop's usual approximation (no gradient through W_rec z in the learning signal).
Memory O(batch × synapses); the traces are streamed through time.  ``integration: spinnaker_rk2`` (sPyNNaker's
IZK_curr_exp) adds the synaptic current to the eligibility vector: :mod:`neuroport.training.izhikevich_rk2`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from neuroport.emulator.izhikevich import IzhikevichNetwork, IzhikevichRun, assemble_izhikevich, simulate_izhikevich
from neuroport.errors import UnsupportedError
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.learning_rule import EpropRule
from neuroport.ir.network import with_weights
from neuroport.tasks import Batch
from neuroport.training.eprop import IterationStats, TrainResult, draw_batches, rule_of, train_on_batches
from neuroport.training.gradients import Gradients, feedback_matrix, output_error, rate_signal

SUPPORTED_VARIANTS = ("bsshslm_2020",)


def _jacobian(net: IzhikevichNetwork, v_post: np.ndarray, z_prev: np.ndarray) -> tuple[np.ndarray, ...]:
    """(D_vv, D_vu, D_uv, D_uu) per sample and neuron, (batch, n, 1), for the step after post-reset v_post."""
    dt, keep = net.dt_ms, 1.0 - z_prev
    d_vv = (1.0 + dt * (0.08 * v_post + 5.0)) * keep
    d_uv = dt * net.a * net.b * keep
    col = lambda a: np.broadcast_to(a, v_post.shape)[:, :, None]  # noqa: E731
    return col(d_vv), col(np.full(net.n_rec, -dt)), col(d_uv), col(1.0 - dt * net.a)


class _Traces:
    """ε^v, ε^u, ē and Σ e for one weight matrix, (batch, n_post, n_pre)."""

    def __init__(self, batch: int, n_post: int, n_pre: int) -> None:
        shape = (batch, n_post, n_pre)
        self.eps_v, self.eps_u, self.e_bar, self.e_sum = (np.zeros(shape) for _ in range(4))
        self.grad = np.zeros((n_post, n_pre))

    def step(self, jac: tuple[np.ndarray, ...], pre: np.ndarray, psi: np.ndarray,
             kappa: float, learning_signal: np.ndarray) -> None:
        d_vv, d_vu, d_uv, d_uu, dt = jac
        eps_v = d_vv * self.eps_v + d_vu * self.eps_u + dt * pre[:, None, :]
        self.eps_u = d_uv * self.eps_v + d_uu * self.eps_u
        self.eps_v = eps_v
        e = psi[:, :, None] * eps_v
        self.e_bar = kappa * self.e_bar + (1.0 - kappa) * e
        self.e_sum += e
        self.grad += np.einsum("bj,bji->ji", learning_signal, self.e_bar)


def _euler_jacobian(net: IzhikevichNetwork, run: IzhikevichRun, t: int, v_post: np.ndarray, u_post: np.ndarray,
                    z_prev: np.ndarray) -> tuple[np.ndarray, ...]:
    """(D_vv, D_vu, D_uv, D_uu, input gain dt) of the Euler step t."""
    return (*_jacobian(net, v_post, z_prev), net.dt_ms)


def _rk2_model() -> tuple[Callable[..., tuple[np.ndarray, ...]], type]:
    from neuroport.training.izhikevich_rk2 import RK2Traces, rk2_jacobian

    return rk2_jacobian, RK2Traces


# integration → (Jacobian of step t, eligibility-trace class); spinnaker_rk2: neuroport.training.izhikevich_rk2
TRACE_MODELS: dict[str, Callable[[], tuple[Callable[..., tuple[np.ndarray, ...]], type]]] = {
    "euler": lambda: (_euler_jacobian, _Traces), "spinnaker_rk2": _rk2_model}


def trace_model(integration: str) -> tuple[Callable[..., tuple[np.ndarray, ...]], type]:
    """(Jacobian of step t, eligibility-trace class) of an integration (TRACE_MODELS)."""
    return TRACE_MODELS[integration]()


def izhikevich_gradients(net: IzhikevichNetwork, x: np.ndarray, run: IzhikevichRun, batch: Batch, *, feedback: str,
                         b_random: np.ndarray | None, c_reg: float = 0.0, f_target_hz: float = 10.0) -> Gradients:
    """Summed online e-prop gradients of a batch (module docstring)."""
    err, loss, n_errors = output_error(net, run, batch)
    if np.unique(net.kappa).size != 1:
        raise UnsupportedError("Izhikevich e-prop needs one readout time constant for all readouts", path="readout.tau_out_ms")
    kappa, b_mat = float(net.kappa[0]), feedback_matrix(net, feedback, b_random)
    batch_n, n_steps, n_in = x.shape
    jacobian, trace_class = trace_model(net.integration)
    traces = {"w_in": trace_class(batch_n, net.n_rec, n_in), "w_rec": trace_class(batch_n, net.n_rec, net.n_rec)}
    v_post = np.broadcast_to(net.v_init_mv, (batch_n, net.n_rec))
    u_post = np.broadcast_to(net.u_init, (batch_n, net.n_rec))
    z_prev = np.zeros((batch_n, net.n_rec))
    z_bar_out, g_out = np.zeros((batch_n, net.n_rec)), np.zeros((net.n_out, net.n_rec))
    for t in range(n_steps):
        jac = jacobian(net, run, t, v_post, u_post, z_prev)
        signal = err[:, t] @ b_mat.T
        traces["w_in"].step(jac, x[:, t], run.psi[:, t], kappa, signal)
        traces["w_rec"].step(jac, z_prev, run.psi[:, t], kappa, signal)
        z_bar_out = kappa * z_bar_out + run.z[:, t]
        g_out += err[:, t].T @ z_bar_out
        v_post, u_post, z_prev = run.v[:, t], run.u[:, t], run.z[:, t]
    reg = rate_signal(net, run, c_reg, f_target_hz)[:, :, None]
    g_in, g_rec = (tr.grad + np.sum(reg * tr.e_sum, axis=0) for tr in traces.values())
    return Gradients(w_in=g_in * net.w_in_plastic, w_rec=g_rec * net.w_rec_plastic, w_out=g_out * net.w_out_plastic,
                     loss=loss, n_errors=n_errors, rate_hz=float(run.z.mean() * 1e3 / net.dt_ms))


def eprop_step_gradients(net: IzhikevichNetwork, rule: EpropRule, b_matrix: np.ndarray | None, batch: Batch) -> Gradients:
    """Simulate one batch and return its summed e-prop gradients (train_on_batches' ``gradients`` hook)."""
    run = simulate_izhikevich(net, batch.inputs)
    return izhikevich_gradients(net, batch.inputs.astype(np.float64), run, batch, feedback=rule.feedback,
                                b_random=b_matrix, c_reg=rule.c_reg, f_target_hz=rule.f_target_hz)


def train_izhikevich(graph: FloatGraph, iterations: int, *, seed: int | None = None, mode: str = "sequence",
                     batch_size: int | None = None,
                     on_iteration: Callable[[IterationStats], None] | None = None) -> TrainResult:
    """Train an all-Izhikevich ``graph`` with online e-prop (``mode`` is accepted for the CLI: the gradients are
    always streamed online, there is no sequence-batched form); Adam/SGD, feedback and clipping as for LIF."""
    rule = rule_of(graph)
    if rule.variant not in SUPPORTED_VARIANTS:
        raise UnsupportedError(f"e-prop variant '{rule.variant}' is not available for Izhikevich neurons; "
                               f"supported: {', '.join(SUPPORTED_VARIANTS)}", path="learning.variant")
    if getattr(rule, "rewiring", None) is not None:
        raise UnsupportedError("rewiring (DEEP R) is not available for Izhikevich networks; remove `rewiring`",
                               path="learning.rewiring")
    net = assemble_izhikevich(graph)
    batches = draw_batches(graph, iterations, seed=seed, batch_size=batch_size)
    result = train_on_batches(net, rule, batches, on_iteration=on_iteration, gradients=eprop_step_gradients)
    trained = with_weights(graph, result.weights["w_in"], result.weights["w_rec"], result.weights["w_out"])
    if rule.feedback == "adaptive":
        trained = replace(trained, learning=replace(rule, feedback_weights=result.feedback))
    return TrainResult(trained, result.history)
