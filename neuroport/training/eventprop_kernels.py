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
def _decays(out, duration, tau, uniform):  # pragma: no cover
    """out_j = e^{−duration/τ_j} (one exp when every τ is the same)."""
    if uniform:
        out[:] = np.exp(-duration / tau[0])
    else:
        for j in range(out.size):
            out[j] = np.exp(-duration / tau[j])


@njit(cache=True)
def _earliest_spike(t, edge, v, u, theta, tau, gain, refractory, ref_end, decay):  # pragma: no cover
    """(time, neuron, is_release) of the first spike before ``edge`` under the constant currents, or (edge, −1, False).

    A free neuron fires where v reaches θ; a refractory one whose period ends before ``edge`` fires at its end if
    v ≥ θ there (a release), else where v reaches θ after it.  ``decay`` = e^{−(edge − t)/τ}: only neurons whose v
    is ≥ θ at the edge need the logarithm."""
    best, who, release = edge, -1, False
    for j in range(v.size):
        asymptote, start, v_start, to_edge = gain[j] * u[j], t, v[j], decay[j]
        if refractory[j]:
            if ref_end[j] >= edge:
                continue
            start = ref_end[j]
            v_start = asymptote + (v[j] - asymptote) * np.exp(-(start - t) / tau[j])
            if v_start >= theta[j]:
                if start < best:
                    best, who, release = start, j, True
                continue
            to_edge = np.exp(-(edge - start) / tau[j])
        if asymptote <= theta[j] or asymptote + (v_start - asymptote) * to_edge < theta[j]:
            continue
        delay = 0.0 if v_start >= theta[j] else tau[j] * np.log((asymptote - v_start) / (asymptote - theta[j]))
        if start + delay < best:
            best, who, release = start + delay, j, False
    return best, who, release


@njit(cache=True)
def _advance(v, u, gain, decay, refractory, ref_end, now):  # pragma: no cover
    """Every membrane on to ``now`` under constant currents, v ← A + (v − A) e^{−Δ/τ}, A = τ c u (``gain`` = τ c);
    refractory periods that have ended by then are cleared."""
    for j in range(v.size):
        asymptote = gain[j] * u[j]
        v[j] = asymptote + (v[j] - asymptote) * decay[j]
        if refractory[j] and ref_end[j] <= now:
            refractory[j] = False


@njit(cache=True)
def _add_row(u, row, sign):  # pragma: no cover
    for j in range(u.size):
        u[j] += sign * row[j]


@njit(cache=True)
def forward_events(x, w_in_t, wt_rec, theta, tau, c, n_ref):  # pragma: no cover
    """Spike events of one sample: x (T, n_in) input spikes, w_in_t (n_in, N) = W_inᵀ, wt_rec (N, N) row i = what a
    box of neuron i adds to the targets' u (W_recᵀ − diag θ), θ, τ (steps), c = 1/(τ(1 − α)), n_ref ≥ 1 (steps).

    Returns (times, neurons, prev, vdot), time-ordered."""
    n_steps, n_in = x.shape
    n = theta.size
    capacity = n * (n_steps // max(1, n_ref.min()) + 2)
    times = np.empty(capacity)
    neurons = np.empty(capacity, np.int64)
    prev = np.full(capacity, NO_SPIKE, np.int64)
    vdot = np.empty(capacity)
    gain, uniform = tau * c, bool(np.all(tau == tau[0]))
    v, u, decay = np.zeros(n), np.zeros(n), np.empty(n)
    ref_end = np.zeros(n)
    refractory = np.zeros(n, np.bool_)
    last = np.full(n, NO_SPIKE, np.int64)
    count, open_box = 0, 0  # spikes [open_box, count) have boxes that have not ended yet
    for s in range(n_steps):
        for i in range(n_in):  # the input boxes of step s replace those of step s − 1
            change = x[s, i] - (x[s - 1, i] if s > 0 else 0.0)
            if change != 0:
                _add_row(u, w_in_t[i], change)
        t, step_end = float(s), s + 1.0
        while True:
            edge, box_ends = step_end, False
            if open_box < count and times[open_box] + 1.0 < step_end:
                edge, box_ends = max(times[open_box] + 1.0, t), True
            _decays(decay, edge - t, tau, uniform)
            when, fire, release = _earliest_spike(t, edge, v, u, theta, tau, gain, refractory, ref_end, decay)
            if when < edge:
                _decays(decay, when - t, tau, uniform)
            _advance(v, u, gain, decay, refractory, ref_end, when)
            t = when
            if fire < 0 and box_ends:
                _add_row(u, wt_rec[neurons[open_box]], -1.0)
                open_box += 1
            elif fire < 0:
                break
            if fire >= 0:
                fire_prev = last[fire] if release else NO_SPIKE
                v[fire] = v[fire] if release else theta[fire]
                times[count], neurons[count], prev[count] = t, fire, fire_prev
                vdot[count] = -v[fire] / tau[fire] + c[fire] * u[fire]
                last[fire] = count
                refractory[fire], ref_end[fire] = True, t + n_ref[fire]
                _add_row(u, wt_rec[fire], 1.0)
                count += 1
    return times[:count].copy(), neurons[:count].copy(), prev[:count].copy(), vdot[:count].copy()


@njit(cache=True)
def _weighted_sum(row, c, big_lambda):  # pragma: no cover
    """Σ_j row_j c_j Λ_j."""
    total = 0.0
    for j in range(row.size):
        total += row[j] * c[j] * big_lambda[j]
    return total


@njit(cache=True)
def _add_box_edge(grad_row, jumps, big_lambda, scale, sign):  # pragma: no cover
    """grad_row += sign · (M − Λ) / (1 − α): one edge of a box's ∫ c Λ dt."""
    for j in range(grad_row.size):
        grad_row[j] += sign * (jumps[j] - big_lambda[j]) * scale[j]


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
    scale, decay, uniform = 1.0 / (1.0 - alpha), np.empty(n), bool(np.all(tau == tau[0]))
    t = n_steps + 1.0
    spike, box, grid = n_spikes - 1, n_spikes - 1, n_steps
    while spike >= 0 or box >= 0 or grid >= 0:
        t_spike = times[spike] if spike >= 0 else -1.0
        t_box = times[box] + 1.0 if box >= 0 else -1.0
        t_grid = float(grid) if grid >= 0 else -1.0
        t_next = max(t_spike, t_box, t_grid)
        _decays(decay, t - t_next, tau, uniform)
        big_lambda *= decay
        t = t_next
        if t_box == t_next:  # the box of spike `box` ends: ∂v/∂(its end) and −∫ over what follows
            i = neurons[box]
            box_end_term[box] = _weighted_sum(wt_rec[i], c, big_lambda)
            _add_box_edge(grad_rec_t[i], jumps, big_lambda, scale, -1.0)
            box -= 1
        elif t_spike == t_next:
            i = neurons[spike]
            lam[spike] -= _weighted_sum(wt_rec[i], c, big_lambda) - box_end_term[spike]
            _add_box_edge(grad_rec_t[i], jumps, big_lambda, scale, 1.0)
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
                    _add_box_edge(grad_in_t[i], jumps, big_lambda, scale, starts - ends)
            grid -= 1
    return grad_in_t.T.copy(), grad_rec_t.T.copy(), lam
