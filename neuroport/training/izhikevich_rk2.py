"""E-prop eligibility for Izhikevich networks with ``integration: spinnaker_rk2`` (sPyNNaker's IZK_curr_exp).

The forward is :mod:`neuroport.emulator.izhikevich_rk2`.  Hidden state of neuron j: (v'[t], u'[t], J[t]) with the
synaptic current J[t] = λ J[t−1] + g · (W pre)[t].  From the post-reset previous state (v, u) (the reset and the
step length h[t] treated as constants, as for Euler: :mod:`neuroport.training.izhikevich`), I = J[t] + i_offset,
η = v + h α/2, G = 5 + 2Mη, η_v = 1 + h (5 + 2Mv)/2:

    ∂v'/∂v = 1 + h (−h a b/2 + G η_v)         ∂v'/∂u = h (−1 + h a/2 − G h/2)      ∂v'/∂I = h (1 + G h/2)
    ∂u'/∂v = a h (−h a b/2 + b η_v)           ∂u'/∂u = 1 + a h (−1 + h a/2 − b h/2)  ∂u'/∂I = a b h²/2

(columns in v carry the factor 1 − z[t−1] of the reset v = (1 − z) v' + z c).  Per synapse (pre i: x_i[t] or
z_i[t−1]) the eligibility vector (ε^v, ε^u, ε^J) follows the chain rule of one step:

    ε^J[t] = λ ε^J[t−1] + g pre_i[t]
    ε^v[t] = ∂v'/∂v ε^v[t−1] + ∂v'/∂u ε^u[t−1] + ∂v'/∂I ε^J[t]
    ε^u[t] = ∂u'/∂v ε^v[t−1] + ∂u'/∂u ε^u[t−1] + ∂u'/∂I ε^J[t]
    e_ji[t] = ψ_j[t] ε^v_ji[t]

and the rest (filtered traces, learning signal, regularizer) is the Euler model's.  Without recurrent weights
this is the exact surrogate gradient (tests/test_izhikevich_rk2.py checks it against torch autograd).
"""

from __future__ import annotations

import numpy as np

from neuroport.emulator.izhikevich import IzhikevichNetwork
from neuroport.emulator.izhikevich_rk2 import MAGIC_MULTIPLIER, RK2Run, synapse_constants


def rk2_jacobian(net: IzhikevichNetwork, run: RK2Run, t: int, v_post: np.ndarray, u_post: np.ndarray,
                 z_prev: np.ndarray) -> tuple[np.ndarray, ...]:
    """(∂v'/∂v, ∂v'/∂u, ∂u'/∂v, ∂u'/∂u, ∂v'/∂I, ∂u'/∂I, λ, g) of step t, each (batch, n, 1) (module docstring)."""
    h, a, b, keep = run.h_ms[:, t], net.a, net.b, 1.0 - z_prev
    current = run.j_syn[:, t] + net.i_offset
    alpha = 140.0 + current - u_post + (5.0 + MAGIC_MULTIPLIER * v_post) * v_post
    eta = v_post + 0.5 * h * alpha
    big_g, eta_v = 5.0 + 2.0 * MAGIC_MULTIPLIER * eta, 1.0 + 0.5 * h * (5.0 + 2.0 * MAGIC_MULTIPLIER * v_post)
    d_vv = (1.0 + h * (-0.5 * h * a * b + big_g * eta_v)) * keep
    d_vu = h * (-1.0 + 0.5 * h * a - 0.5 * h * big_g)
    d_uv = a * h * (-0.5 * h * a * b + b * eta_v) * keep
    d_uu = 1.0 + a * h * (-1.0 + 0.5 * h * a - 0.5 * h * b)
    d_vi, d_ui = h * (1.0 + 0.5 * h * big_g), 0.5 * a * b * h * h
    lam, gain = synapse_constants(net)
    col = lambda x: np.broadcast_to(x, v_post.shape)[:, :, None]  # noqa: E731
    return tuple(col(x) for x in (d_vv, d_vu, d_uv, d_uu, d_vi, d_ui, lam, gain))


class RK2Traces:
    """ε^v, ε^u, ε^J, ē and Σ e for one weight matrix, (batch, n_post, n_pre)."""

    def __init__(self, batch: int, n_post: int, n_pre: int) -> None:
        shape = (batch, n_post, n_pre)
        self.eps_v, self.eps_u, self.eps_j, self.e_bar, self.e_sum = (np.zeros(shape) for _ in range(5))
        self.grad = np.zeros((n_post, n_pre))

    def step(self, jac: tuple[np.ndarray, ...], pre: np.ndarray, psi: np.ndarray, kappa: float,
             learning_signal: np.ndarray) -> None:
        d_vv, d_vu, d_uv, d_uu, d_vi, d_ui, lam, gain = jac
        self.eps_j = lam * self.eps_j + gain * pre[:, None, :]
        eps_v = d_vv * self.eps_v + d_vu * self.eps_u + d_vi * self.eps_j
        self.eps_u = d_uv * self.eps_v + d_uu * self.eps_u + d_ui * self.eps_j
        self.eps_v = eps_v
        e = psi[:, :, None] * eps_v
        self.e_bar = kappa * self.e_bar + (1.0 - kappa) * e
        self.e_sum += e
        self.grad += np.einsum("bj,bji->ji", learning_signal, self.e_bar)
