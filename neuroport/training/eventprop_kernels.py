"""Compiled (numba) event loops of EventProp; the model and the adjoint are in :mod:`neuroport.training.eventprop`.

Time is in steps (one step = dt); step s of the sequence is the interval (s, s+1].  Per sample:

* :func:`forward_events` integrates the box-synapse LIF exactly between events (the current is piecewise constant,
  so v(t + Δ) = A + (v(t) − A) e^{−Δ/τ} with A = τ c u, and the crossing time of θ is τ ln((A − v)/(A − θ)))
  and returns the spike events only: time, neuron, the previous spike of the neuron when the spike is a release at
  the end of the refractory period (−1 for a threshold crossing), and dv/dt at the crossing.
* :func:`backward_events` runs the adjoint backwards over the same events (spikes, box ends, step boundaries):
  per neuron the decaying adjoint Λ_j and the undecayed sum M_j of its jumps, the spike-time adjoints λ_n and the
  weight gradients.  Nothing of size steps × neurons is stored.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NO_SPIKE = -1  # prev[] of a spike that is a threshold crossing (not a release after refractoriness)


@njit(cache=True)
def _earliest_crossing(t, edge, v, u, theta, tau, c, refractory):  # pragma: no cover
    """(time, neuron) of the first free neuron to reach θ before ``edge`` under the constant currents c·u, or
    (edge, −1)."""
    best, who = edge, -1
    for j in range(v.size):
        if refractory[j]:
            continue
        asymptote = tau[j] * c[j] * u[j]
        if asymptote <= theta[j]:
            continue
        delay = 0.0 if v[j] >= theta[j] else tau[j] * np.log((asymptote - v[j]) / (asymptote - theta[j]))
        if t + delay < best:
            best, who = t + delay, j
    return best, who


@njit(cache=True)
def _next_edge(t, step_end, box_end, refractory, ref_end):  # pragma: no cover
    """(time, kind, neuron) of the next change of the currents or of a refractory state after t: kind 0 the step
    end, 1 the oldest open box ends, 2 neuron ``who``'s refractory period ends."""
    edge, kind, who = step_end, 0, -1
    if box_end < edge:
        edge, kind = max(box_end, t), 1
    for j in range(ref_end.size):
        if refractory[j] and ref_end[j] < edge:
            edge, kind, who = max(ref_end[j], t), 2, j
    return edge, kind, who


@njit(cache=True)
def _advance(v, u, tau, c, duration):  # pragma: no cover
    """Every membrane ``duration`` steps on under constant currents: v ← A + (v − A) e^{−Δ/τ}, A = τ c u."""
    for j in range(v.size):
        asymptote = tau[j] * c[j] * u[j]
        v[j] = asymptote + (v[j] - asymptote) * np.exp(-duration / tau[j])


@njit(cache=True)
def forward_events(x, w_in, wt_rec, theta, tau, c, n_ref):  # pragma: no cover
    """Spike events of one sample: x (T, n_in) input spikes, w_in (N, n_in), wt_rec (N, N) row i = what a box of
    neuron i adds to the targets' u (W_recᵀ − diag θ), θ, τ (steps), c = 1/(τ(1 − α)), n_ref ≥ 1 (steps).

    Returns (times, neurons, prev, vdot), time-ordered."""
    n_steps, n_in = x.shape
    n = theta.size
    capacity = n * (n_steps // max(1, n_ref.min()) + 2)
    times = np.empty(capacity)
    neurons = np.empty(capacity, np.int64)
    prev = np.full(capacity, NO_SPIKE, np.int64)
    vdot = np.empty(capacity)
    v, u_in, u_rec = np.zeros(n), np.zeros(n), np.zeros(n)
    ref_end = np.zeros(n)
    refractory = np.zeros(n, np.bool_)
    last = np.full(n, NO_SPIKE, np.int64)
    count, open_box = 0, 0  # spikes [open_box, count) have boxes that have not ended yet
    for s in range(n_steps):
        u_in[:] = 0.0
        for i in range(n_in):
            if x[s, i] != 0:
                u_in += w_in[:, i] * x[s, i]
        t, step_end = float(s), s + 1.0
        while True:
            box_end = times[open_box] + 1.0 if open_box < count else step_end
            edge, kind, who = _next_edge(t, step_end, box_end, refractory, ref_end)
            u = u_in + u_rec
            when, crossing = _earliest_crossing(t, edge, v, u, theta, tau, c, refractory)
            _advance(v, u, tau, c, when - t)
            t = when
            fire, fire_prev = -1, NO_SPIKE
            if crossing >= 0:
                fire = crossing
            elif kind == 1:
                u_rec -= wt_rec[neurons[open_box]]
                open_box += 1
            elif kind == 2:
                refractory[who] = False
                if v[who] >= theta[who]:  # still above threshold when the refractory period ends: fires at once
                    fire, fire_prev = who, last[who]
            else:
                break
            if fire >= 0:
                v[fire] = theta[fire] if fire_prev == NO_SPIKE else v[fire]
                times[count], neurons[count], prev[count] = t, fire, fire_prev
                vdot[count] = -v[fire] / tau[fire] + c[fire] * u[fire]
                last[fire] = count
                refractory[fire], ref_end[fire] = True, t + n_ref[fire]
                u_rec += wt_rec[fire]
                count += 1
    return times[:count].copy(), neurons[:count].copy(), prev[:count].copy(), vdot[:count].copy()


@njit(cache=True)
def backward_events(x, times, neurons, prev, vdot, direct, wt_rec, tau, c, alpha):  # pragma: no cover
    """Adjoint sweep of one sample from t = T + 1 down to 0 (equations: :mod:`neuroport.training.eventprop`).

    ``direct``: ∂L/∂t_n through the readout.  Returns (dL/dW_in (N, n_in), dL/dW_rec (N, N), λ per spike)."""
    n_steps, n_in = x.shape
    n, n_spikes = alpha.size, times.size
    lam = direct.copy()
    box_end_term = np.zeros(n_spikes)  # Σ_j w_ji c_j Λ_j(t_n + 1), taken when the sweep passes t_n + 1
    big_lambda, jumps = np.zeros(n), np.zeros(n)  # Λ_j(t) and M_j(t): adjoint jumps after t, decayed / not
    grad_in_t, grad_rec_t = np.zeros((n_in, n)), np.zeros((n, n))  # transposed: row = presynaptic neuron
    one_minus_alpha = 1.0 - alpha
    t = n_steps + 1.0
    spike, box, grid = n_spikes - 1, n_spikes - 1, n_steps
    while spike >= 0 or box >= 0 or grid >= 0:
        t_spike = times[spike] if spike >= 0 else -1.0
        t_box = times[box] + 1.0 if box >= 0 else -1.0
        t_grid = float(grid) if grid >= 0 else -1.0
        t_next = max(t_spike, t_box, t_grid)
        big_lambda *= np.exp(-(t - t_next) / tau)
        t = t_next
        if t_box == t_next:  # the box of spike `box` ends: ∂v/∂(its end) and −∫ over what follows
            i = neurons[box]
            box_end_term[box] = np.sum(wt_rec[i] * c * big_lambda)
            grad_rec_t[i] -= (jumps - big_lambda) / one_minus_alpha
            box -= 1
        elif t_spike == t_next:
            i = neurons[spike]
            lam[spike] -= np.sum(wt_rec[i] * c * big_lambda) - box_end_term[spike]
            grad_rec_t[i] += (jumps - big_lambda) / one_minus_alpha
            if prev[spike] != NO_SPIKE:  # a release: t_n = t_prev + n_ref, so λ flows to the previous spike
                lam[prev[spike]] += lam[spike]
            else:
                mu = -lam[spike] / vdot[spike]
                big_lambda[i] += mu
                jumps[i] += mu
            spike -= 1
        else:  # step boundary: input boxes (s, s+1] start at s = grid and end at s + 1 = grid
            for i in range(n_in):
                starts = x[grid, i] if grid < n_steps else 0.0
                ends = x[grid - 1, i] if grid >= 1 else 0.0
                if starts != ends:
                    grad_in_t[i] += (starts - ends) * (jumps - big_lambda) / one_minus_alpha
            grid -= 1
    return grad_in_t.T.copy(), grad_rec_t.T.copy(), lam
