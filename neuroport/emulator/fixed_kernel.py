"""Compiled (numba) inference of :func:`neuroport.emulator.fixed.emulate`: a whole batch of sequences in one loop,
bit for bit the numpy specification (``fixed.emulate_reference``); tests/test_fixed_kernel.py checks it.

Per sample b and step t, exactly the reference's equations (fixed.py, FixedNeurons), in int64:

    a_k[j]  = wrap32(shift(Σ_{i: s_i ≠ 0} W_k[j, i] s_i, e_k))        k = in (s = x[t]), rec, out (s = z[t−1])
              with delays: wrap32(Σ_d shift(W_k,d s[t − d + 1], e_k)) from a ring buffer of max-delay slots
    y       ← sat24(decay12(y, dy) + (a_out << 6))
    alif:     r ← max(r − 1, 0);  v ← sat24(decay12(v, dv) + ((a_in + a_rec) << 6) − z[t−1] · (vth << 6))
              a ← sat24(decay12(a, da) + z[t−1] · a_inc);  z = [v ≥ (vth << 6) + a] · [r = 0];  r ← n_ref where z
    lava_lif: u ← wrapLava24(decay12(u, du + 1) + ((a_in + a_rec) << 6));  v ← sat24(decay12(v, dv) + u + bias)
              z = [v > vth << 6];  v ← 0 where z
    eprop_plus: r ← max(r − 1, 0);  v ← sat24(decay12(v, dv) + ((a_in + a_rec) << 6));  a ← sat24(decay12(a, da) + z[t−1] · a_inc)
              z = [v ≥ (vth << 6) + a] · [r = 0];  v ← v − z · (vth << 6);  r ← n_ref where z   (reset in the spike step)
    izhikevich: fixed_izhikevich (integer forward Euler of v, u from v0, u0), in fixed_izhikevich_kernel

The Dense input is event-driven: only the columns of non-zero sources are summed (cost n_target per spike).
Besides the trace, every sample returns its event counts per counter (``COUNTERS``: wraps and saturations, then
the active neuron updates) and the first step at which each counter had an event, so that the caller can fill
:class:`~neuroport.emulator.trace.ActivityStats` exactly as the step-by-step reference does.  ``run_batch`` runs
the samples one after the other, ``run_batch_parallel`` in threads; each sample writes only its own rows, so the
two give the same result.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from neuroport.emulator import fixed_izhikevich_kernel as izh

KIND_CODES = {"alif": 0, "lava_lif": 1, "izhikevich": 2, "eprop_plus": 3}  # the `kind` argument of run_batch
KIND_ALIF, KIND_LAVA_LIF = KIND_CODES["alif"], KIND_CODES["lava_lif"]  # numba reads int globals, not dicts
KIND_IZHIKEVICH = KIND_CODES["izhikevich"]
KIND_EPROP_PLUS = KIND_CODES["eprop_plus"]
COUNTERS = ("activation_w_in", "activation_w_rec", "activation_w_out", "y", "v", "a", "u")
ACTIVE = len(COUNTERS)  # column of `counts` holding the active neuron updates
PROBES = ("v", "a", "u")  # rows of the recorded states
BASE_ROWS = ("vth_scaled", "dv", "da", "a_inc", "n_ref", "du", "bias")  # rows of `nrn` (du: Lava's du + 1) ...
NEURON_ROWS = (*BASE_ROWS, *izh.ROWS)  # ... then the Izhikevich words (zeros for the other kinds)
VTH, DV, DA, A_INC, N_REF, DU, BIAS = range(len(BASE_ROWS))
IZH0 = len(BASE_ROWS)  # first row of the Izhikevich words
V0_ROW, U0_ROW = IZH0 + izh.V0, IZH0 + izh.U0  # where V and U start (0 but for Izhikevich neurons)
V, A, U, R = range(4)  # rows of the per-sample neuron state
EV_V, EV_A, EV_U = (COUNTERS.index(k) for k in PROBES)  # their columns of `counts`


@njit(cache=True, inline="always")
def _decay12(x, d):  # pragma: no cover
    """numerics.decay12: sign(p) · (|p| >> 12) with p = x (4096 − d), truncation toward zero, computed without a
    branch as (p + [p < 0] · 4095) >> 12 (= ⌈p / 4096⌉ for p < 0)."""
    p = x * (4096 - d)
    return (p + ((p >> 63) & 4095)) >> 12


@njit(cache=True, inline="always")
def _shift(x, e):  # pragma: no cover
    """numerics.shift: x << e for e ≥ 0, x >> −e (arithmetic, toward −∞) for e < 0."""
    return x << e if e >= 0 else x >> -e


@njit(cache=True, inline="always")
def _wrap_signed(x, bits):  # pragma: no cover
    """numerics.wrap_signed: ((x + 2^(b−1)) & (2^b − 1)) − 2^(b−1), two's complement in ``bits`` bits."""
    half = np.int64(1) << (bits - 1)
    return ((x + half) & ((half << 1) - 1)) - half


@njit(cache=True, inline="always")
def _wrap_lava_u(x, bits):  # pragma: no cover
    """numerics.wrap_lava_u: x > 2^(b−1) → x − 2^b;  x ≤ −2^(b−1) → x + 2^b (Lava's single fold)."""
    half = np.int64(1) << (bits - 1)
    out = x - 2 * half if x > half else x
    return x + 2 * half if out <= -half else out


@njit(cache=True, inline="always")
def _saturate_signed(x, bits):  # pragma: no cover
    """numerics.saturate_signed (symmetric): clip to [−(2^(b−1) − 1), 2^(b−1) − 1]."""
    top = (np.int64(1) << (bits - 1)) - 1
    return min(max(x, -top), top)


@njit(cache=True)
def _dense(w_t, src, exponent, bits, out):  # pragma: no cover
    """out = wrap_bits(shift(W src, exponent)) summing only the rows of w_t = Wᵀ whose source is non-zero;
    returns the number of wrapped targets.  No active source: out = 0, nothing to shift or wrap.  A spike
    (s = 1) adds its row without a multiply: n_target widening adds, vectorized, per presynaptic event."""
    out[:] = 0
    active = False
    for i in range(src.shape[0]):
        s = src[i]
        if s == 1:
            active = True
            row = w_t[i]
            for j in range(out.shape[0]):
                out[j] += row[j]
        elif s != 0:
            active = True
            row = w_t[i]
            for j in range(out.shape[0]):
                out[j] += row[j] * s
    events = 0
    if not active:
        return events
    for j in range(out.shape[0]):
        shifted = _shift(out[j], exponent)
        wrapped = _wrap_signed(shifted, bits)
        events += wrapped != shifted
        out[j] = wrapped
    return events


WEIGHT_DTYPE = np.int16  # Wᵀ in the kernel when every weight fits (Loihi: 9-bit mantissas): a quarter of int64's traffic


@njit(cache=True)
def _fits(w, low, high):  # pragma: no cover
    """Whether every entry of w lies in [low, high]."""
    ok = True
    for j in range(w.shape[0]):
        for i in range(w.shape[1]):
            ok &= (w[j, i] >= low) & (w[j, i] <= high)
    return ok


@njit(cache=True)
def events_per_target(mask, src):  # pragma: no cover
    """Σ_i mask[j, i] src[i] per target j: the synaptic events a Dense delivered, for ``src`` events per source
    (FixedDense.events_per_target's dense form, without an int64 matrix product)."""
    out = np.zeros(mask.shape[0], np.int64)
    for j in range(mask.shape[0]):
        acc = 0
        for i in range(mask.shape[1]):
            acc += src[i] if mask[j, i] else 0
        out[j] = acc
    return out


def transposed(w: np.ndarray) -> np.ndarray:
    """Wᵀ, C-contiguous, as WEIGHT_DTYPE when every weight fits it, else int64 (the kernel's weight operand)."""
    w = np.ascontiguousarray(w, dtype=np.int64)
    info = np.iinfo(WEIGHT_DTYPE)
    return w.T.astype(WEIGHT_DTYPE if _fits(w, info.min, info.max) else np.int64, order="C")


@njit(cache=True)
def _dense_delayed(w_t, d_t, src, exponent, bits, ring, raw, t, out):  # pragma: no cover
    """fixed.delayed_activation for one sample: the source of step t adds shift(Σ_{i: d = k+1} W s, exponent) to
    ring slot (t + k) mod K for each delay k + 1 (raw (K, n): the unshifted sums); out = wrap(slot t mod K), which
    is then cleared.  Returns the number of wrapped targets."""
    slots = ring.shape[0]
    active = False
    for i in range(src.shape[0]):
        s = src[i]
        if s != 0:
            if not active:
                raw[:] = 0
                active = True
            row, delay_row = w_t[i], d_t[i]
            for j in range(out.shape[0]):
                raw[delay_row[j] - 1, j] += row[j] * s
    if active:
        for k in range(slots):
            slot = ring[(t + k) % slots]
            for j in range(out.shape[0]):
                slot[j] += _shift(raw[k, j], exponent)
    here = ring[t % slots]
    events = 0
    for j in range(out.shape[0]):
        wrapped = _wrap_signed(here[j], bits)
        events += wrapped != here[j]
        out[j] = wrapped
        here[j] = 0
    return events


@njit(cache=True, inline="always")
def _activation(w_t, d_t, src, exponent, bits, ring, raw, t, out):  # pragma: no cover
    """_dense for a plain Dense (d_t of shape (0, 0)), _dense_delayed for a delayed one."""
    if d_t.shape[0] == 0:
        return _dense(w_t, src, exponent, bits, out)
    return _dense_delayed(w_t, d_t, src, exponent, bits, ring, raw, t, out)


@njit(cache=True)
def _delay_buffers(d_t, n_target):  # pragma: no cover
    """(ring, raw) of shape (K, n_target), K the largest delay (1 for a plain Dense)."""
    slots = 1 if d_t.size == 0 else max(1, d_t.max())
    return np.zeros((slots, n_target), np.int64), np.zeros((slots, n_target), np.int64)


@njit(cache=True)
def _readout(y, a_out, dy, act_shift, state_bits):  # pragma: no cover
    """y ← sat(decay12(y, dy) + (a_out << act_shift)); returns the saturation events."""
    events = 0
    for k in range(y.shape[0]):
        raw = _decay12(y[k], dy[k]) + (a_out[k] << act_shift)
        y[k] = _saturate_signed(raw, state_bits)
        events += y[k] != raw
    return events


@njit(cache=True)
def _alif(st, z_prev, a_in, nrn, act_shift, state_bits, z, ev):  # pragma: no cover
    """fixed.step_alif for one sample: updates st (v, a, u, r) and z; adds the v, a events and active updates."""
    n_v, n_a, active = 0, 0, 0  # local sums: no store to ev per neuron
    for j in range(z.shape[0]):
        zp = z_prev[j]
        r = max(st[R, j] - 1, 0)
        raw_v = _decay12(st[V, j], nrn[DV, j]) + (a_in[j] << act_shift) - zp * nrn[VTH, j]
        v = _saturate_signed(raw_v, state_bits)
        raw_a = _decay12(st[A, j], nrn[DA, j]) + zp * nrn[A_INC, j]
        a = _saturate_signed(raw_a, state_bits)
        n_v += v != raw_v
        n_a += a != raw_a
        spike = (v >= nrn[VTH, j] + a) & (r == 0)
        z[j] = 1 if spike else 0
        st[R, j] = nrn[N_REF, j] if spike else r
        st[V, j], st[A, j] = v, a
        active += (a_in[j] != 0) | (v != 0) | (a != 0)
    ev[EV_V] += n_v
    ev[EV_A] += n_a
    ev[ACTIVE] += active


@njit(cache=True)
def _lava_lif(st, z_prev, a_in, nrn, act_shift, state_bits, z, ev):  # pragma: no cover
    """fixed.step_lava_lif for one sample: updates st (v, a, u, r) and z; adds the u, v events and active updates."""
    n_u, n_v, active = 0, 0, 0
    for j in range(z.shape[0]):
        raw_u = _decay12(st[U, j], nrn[DU, j]) + (a_in[j] << act_shift)
        u = _wrap_lava_u(raw_u, state_bits)
        raw_v = _decay12(st[V, j], nrn[DV, j]) + u + nrn[BIAS, j]
        v = _saturate_signed(raw_v, state_bits)
        n_u += u != raw_u
        n_v += v != raw_v
        spike = v > nrn[VTH, j]
        z[j] = 1 if spike else 0
        v = 0 if spike else v
        st[U, j], st[V, j] = u, v
        active += (a_in[j] != 0) | (v != 0) | (st[A, j] != 0)
    ev[EV_U] += n_u
    ev[EV_V] += n_v
    ev[ACTIVE] += active


@njit(cache=True)
def _eprop_plus(st, z_prev, a_in, nrn, act_shift, state_bits, z, ev):  # pragma: no cover
    """fixed.step_eprop_plus for one sample: the ALIF step with the reset in the spike step.  v − (vth << 6) after a
    spike needs no saturation: v ≥ (vth << 6) + a and a ≥ −(2^23 − 1) (saturated) bound it from below."""
    n_v, n_a, active = 0, 0, 0
    for j in range(z.shape[0]):
        r = max(st[R, j] - 1, 0)
        raw_v = _decay12(st[V, j], nrn[DV, j]) + (a_in[j] << act_shift)
        v = _saturate_signed(raw_v, state_bits)
        raw_a = _decay12(st[A, j], nrn[DA, j]) + z_prev[j] * nrn[A_INC, j]
        a = _saturate_signed(raw_a, state_bits)
        n_v += v != raw_v
        n_a += a != raw_a
        spike = (v >= nrn[VTH, j] + a) & (r == 0)
        z[j] = 1 if spike else 0
        v = v - nrn[VTH, j] if spike else v
        st[R, j] = nrn[N_REF, j] if spike else r
        st[V, j], st[A, j] = v, a
        active += (a_in[j] != 0) | (v != 0) | (a != 0)
    ev[EV_V] += n_v
    ev[EV_A] += n_a
    ev[ACTIVE] += active


@njit(cache=True)
def neuron_step(kind, st, z_prev, a_in, nrn, act_shift, state_bits, z, ev):  # pragma: no cover
    """One step of the recurrent layer's neurons of model ``kind`` (a KIND_CODES value).  numba compiles no
    table of functions, so this is the one place that selects the step by its code; a new neuron model adds its
    step function and one branch here, and both engines (dense: this module, sparse: sparse.py) run it."""
    if kind == KIND_ALIF:
        _alif(st, z_prev, a_in, nrn, act_shift, state_bits, z, ev)
    elif kind == KIND_EPROP_PLUS:
        _eprop_plus(st, z_prev, a_in, nrn, act_shift, state_bits, z, ev)
    elif kind == KIND_IZHIKEVICH:
        n_v, n_u, active = izh.izhikevich(st[V], st[U], a_in, nrn[VTH], nrn[IZH0:], act_shift, state_bits, z)
        ev[EV_V] += n_v
        ev[EV_U] += n_u
        ev[ACTIVE] += active
    else:
        _lava_lif(st, z_prev, a_in, nrn, act_shift, state_bits, z, ev)


@njit(cache=True)
def initial_neurons(nrn):  # pragma: no cover
    """The per-sample neuron state (rows V, A, U, R) at step 0: V and U from their start rows, the rest 0."""
    st = np.zeros((4, nrn.shape[1]), np.int64)
    st[V] = nrn[V0_ROW]
    st[U] = nrn[U0_ROW]
    return st


@njit(cache=True)
def _tally(ev, t, counts, first):  # pragma: no cover
    """counts += ev; first[k] = t for a counter with its first events at step t."""
    for k in range(ev.shape[0]):
        counts[k] += ev[k]
        if k < first.shape[0] and ev[k] != 0 and first[k] > t:
            first[k] = t
        ev[k] = 0


@njit(cache=True)
def _run_sample(x, net, spikes, readout, states, fired, counts, first):  # pragma: no cover
    """All steps of one sample x (T, n_in); writes spikes (T, n), readout (T, n_out), states (3, T or 0, n) and
    the spikes per neuron, fired (n,)."""
    w_in_t, w_rec_t, w_out_t, exps, nrn, dy, kind, fmt, d_in_t, d_rec_t, d_out_t = net
    act_shift, state_bits, activation_bits = fmt[0], fmt[1], fmt[2]
    n, n_out = nrn.shape[1], dy.shape[0]
    (ring_in, raw_in), (ring_rec, raw_rec) = _delay_buffers(d_in_t, n), _delay_buffers(d_rec_t, n)
    ring_out, raw_out = _delay_buffers(d_out_t, n_out)
    a_in, a_rec, a_out = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n_out, np.int64)
    st, y = initial_neurons(nrn), np.zeros(n_out, np.int64)
    z_prev, z = np.zeros(n, np.int64), np.zeros(n, np.int64)
    ev = np.zeros(ACTIVE + 1, np.int64)
    for t in range(x.shape[0]):
        ev[0] = _activation(w_in_t, d_in_t, x[t], exps[0], activation_bits, ring_in, raw_in, t, a_in)
        ev[1] = _activation(w_rec_t, d_rec_t, z_prev, exps[1], activation_bits, ring_rec, raw_rec, t, a_rec)
        ev[2] = _activation(w_out_t, d_out_t, z_prev, exps[2], activation_bits, ring_out, raw_out, t, a_out)
        ev[3] = _readout(y, a_out, dy, act_shift, state_bits)
        a_in += a_rec
        neuron_step(kind, st, z_prev, a_in, nrn, act_shift, state_bits, z, ev)
        spikes[t] = z
        fired += z
        readout[t] = y
        if states.shape[1] > 0:
            states[:, t] = st[:3]
        _tally(ev, t, counts, first)
        z_prev, z = z, z_prev


@njit(cache=True)
def _allocate(x, net, probe_states):  # pragma: no cover
    """The outputs of run_batch, zeroed (first: T, i.e. no event yet)."""
    batch, n_steps = x.shape[0], x.shape[1]
    n, n_out = net[4].shape[1], net[5].shape[0]
    return (np.zeros((batch, n_steps, n), np.uint8), np.zeros((batch, n_steps, n_out), np.int64),
            np.zeros((3, batch, n_steps if probe_states else 0, n), np.int64), np.zeros((batch, n), np.int64),
            np.zeros((batch, ACTIVE + 1), np.int64), np.full((batch, ACTIVE), n_steps, np.int64))


@njit(cache=True)
def run_batch(x, net, probe_states):  # pragma: no cover
    """Run x (batch, T, n_in) int64 through ``net`` = (Wᵀ_in, Wᵀ_rec, Wᵀ_out (n_source, n_target) int64,
    exponents (3,), nrn (18, n) rows NEURON_ROWS, dy (n_out,), kind (KIND_CODES), [act_shift, state_bits,
    activation_bits] (3,), Dᵀ_in, Dᵀ_rec, Dᵀ_out (delays in steps, like Wᵀ, or (0, 0): no delays)), one sample
    after the other.

    Returns spikes (batch, T, n) uint8, readout (batch, T, n_out), states (3, batch, T or 0, n) rows PROBES,
    fired (batch, n) the spikes per sample and neuron, counts (batch, len(COUNTERS) + 1) and first
    (batch, len(COUNTERS)): the first step with an event, T if none.
    """
    spikes, readout, states, fired, counts, first = _allocate(x, net, probe_states)
    for b in range(x.shape[0]):
        _run_sample(x[b], net, spikes[b], readout[b], states[:, b], fired[b], counts[b], first[b])
    return spikes, readout, states, fired, counts, first


@njit(cache=True, parallel=True)
def run_batch_parallel(x, net, probe_states):  # pragma: no cover
    """:func:`run_batch` with the samples in parallel threads (each writes only its own rows: same result)."""
    spikes, readout, states, fired, counts, first = _allocate(x, net, probe_states)
    for b in prange(x.shape[0]):
        _run_sample(x[b], net, spikes[b], readout[b], states[:, b], fired[b], counts[b], first[b])
    return spikes, readout, states, fired, counts, first
