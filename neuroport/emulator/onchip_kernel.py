"""Fused (numba) on-chip e-prop: a whole sequence of :class:`neuroport.emulator.onchip.OnChipTrainer` — ALIF step,
ψ, learning signal, readout and the three learning engines — in one compiled loop, chips in parallel.  Bit for bit
the numpy specification (``OnChipTrainer.run_reference`` and :class:`~neuroport.emulator.loihi_learning.LearningEngine`);
tests/test_onchip.py checks it.

Per chip c and step τ (the numpy path's equations, see onchip.py), then per engine and synapse j ← i:

    x_k ← sround(f_k · x_k, r_x) (+ impulse_k on a presynaptic spike, clipped to [0, 127])
    y_k ← clip(sround(f_y · y_k, r_y), −128, 127)                  f_y = exp(−1/65535)
    acc_V = V << 7 + Σ_p clip(((m_p · x_p[i] · y_p[j] · S_p[j, i]) >> shift_p) << (e_p + 7), ±2^15)   (saturating)
    V ← clip((acc_V >> 7) + [(acc_V & 127) > ⌊128 r_conn⌋], V_range)   (= floor(acc/128) + [r < frac(acc/128)])

Every product has at most one presynaptic (x1, x2), one post-synaptic (y1..y3) and one synaptic (w, d, t) factor;
the synaptic factors never need clipping to their 9 bits because w, d and t stay inside their (narrower) ranges.
A row j whose post-synaptic factors are all 0 for a product skips that product (its terms are exactly 0).
The random numbers (trace decays, synaptic rounding) are drawn in bulk from the engines' own generators, which
gives the very numbers Lava's one-per-step draws give.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroport.emulator.fixed_kernel import _decay12, _shift  # numerics.decay12 / shift, compiled
from neuroport.emulator.loihi_learning import book_kernel_run, kernel_view

ACC_LIMIT = 2**15
TRACE_MAX = 127
PSI_MAX = 127
MESSAGE_MAX = 127
GATHER_FRACTION = 3  # visit only the live columns (gathered) when at most 1/3 of them are live, else whole rows
SYNAPSE_DTYPE = np.int16  # w, d, t in the kernel: 9-bit values (kernel_view checks), a quarter of int64's traffic


@njit(cache=True, inline="always")
def _sround(value, r):  # pragma: no cover
    whole = np.floor(value)
    return int(whole) + (1 if r < value - whole else 0)


@njit(cache=True, inline="always")
def _clip(v, low, high):  # pragma: no cover
    return min(max(v, low), high)


@njit(cache=True)
def _drive(w, c, x_row, active, n_active, e, out):  # pragma: no cover
    """out[j] = shift(Σ_i w[c, j, i] x_i, e) over the active (non-zero) inputs."""
    for j in range(w.shape[1]):
        acc = 0
        for k in range(n_active):
            acc += w[c, j, active[k]] * x_row[active[k]]
        out[j] = _shift(acc, e)


@njit(cache=True)
def _actives(x_row, active):  # pragma: no cover
    count = 0
    for i in range(x_row.shape[0]):
        if x_row[i] != 0:
            active[count] = i
            count += 1
    return count


# An engine is the tuple (syn = (w, d, t), xs = (x1, x2), mask, table, ints, floats, rnd, n_prod, gates, ranges):
# w, d, t (chips, post, pre); x1, x2 (chips, pre); mask (post, pre) 0/1; table (3, P, 6) rows (x code, y code,
# synaptic code, mantissa, right shift, left shift) per variable w, d, t (codes −1: no such factor);
# ints (x1 impulse, x1 τ > 0, x2 impulse, x2 τ > 0); floats (exp(−1/τ_x1), exp(−1/τ_x2), exp(−1/65535));
# rnd (3, steps) the x-decay, y-decay and synaptic random numbers; n_prod (3,); gates (steps,) u_k; ranges (3, 2);
# then clipped (chips, 3) counts, settled (chips,) and touched (chips, pre) (_live_columns).


@njit(cache=True)
def _traces(eng, c, pre, s):  # pragma: no cover
    """Presynaptic traces x1, x2 of chip c after step s (LearningEngine._trace)."""
    xs, ints, floats, r = eng[1], eng[4], eng[5], eng[6][0, s]
    for k in range(2):
        trace = xs[k]
        for i in range(pre.shape[0]):
            value = _sround(floats[k] * trace[c, i], r) if ints[2 * k + 1] else 0
            if pre[i] != 0:
                value = _clip(value + ints[2 * k], 0, TRACE_MAX)
            trace[c, i] = value


@njit(cache=True)
def _row(eng, c, j, var, ys, ones, acc):  # pragma: no cover
    """acc[i] = the accumulator of variable ``var`` (0 w, 1 d, 2 t) at synapses (j, ·) of chip c."""
    syn, xs, table = eng[0], eng[1], eng[3]
    target = syn[var]
    for i in range(acc.shape[0]):
        acc[i] = target[c, j, i] << 7
    for p in range(eng[7][var]):
        x_code, y_code, s_code = table[var, p, 0], table[var, p, 1], table[var, p, 2]
        ym = table[var, p, 3] if y_code < 0 else table[var, p, 3] * ys[y_code, j]
        if ym == 0:
            continue
        sh, ls = table[var, p, 4], table[var, p, 5]
        xrow = ones[0] if x_code < 0 else xs[x_code][c]
        srow = ones[1] if s_code < 0 else syn[s_code][c, j]
        for i in range(acc.shape[0]):
            term = _clip(((ym * xrow[i] * srow[i]) >> sh) << ls, -ACC_LIMIT - 1, ACC_LIMIT - 1)
            acc[i] = _clip(acc[i] + term, -ACC_LIMIT - 1, ACC_LIMIT - 1)


@njit(cache=True)
def _row_at(eng, c, j, var, ys, ones, cols, n_cols, acc):  # pragma: no cover
    """_row at the columns cols[:n_cols] only: acc[k] is the accumulator at synapse (j, cols[k])."""
    syn, xs, table = eng[0], eng[1], eng[3]
    target = syn[var][c, j]
    for k in range(n_cols):
        acc[k] = np.int64(target[cols[k]]) << 7
    for p in range(eng[7][var]):
        x_code, y_code, s_code = table[var, p, 0], table[var, p, 1], table[var, p, 2]
        ym = table[var, p, 3] if y_code < 0 else table[var, p, 3] * ys[y_code, j]
        if ym == 0:
            continue
        sh, ls = table[var, p, 4], table[var, p, 5]
        xrow = ones[0] if x_code < 0 else xs[x_code][c]
        srow = ones[1] if s_code < 0 else syn[s_code][c, j]
        for k in range(n_cols):
            i = cols[k]
            term = _clip(((ym * xrow[i] * srow[i]) >> sh) << ls, -ACC_LIMIT - 1, ACC_LIMIT - 1)
            acc[k] = _clip(acc[k] + term, -ACC_LIMIT - 1, ACC_LIMIT - 1)


@njit(cache=True)
def _live_columns(eng, c, cols):  # pragma: no cover
    """The presynaptic columns of chip c whose synapses can change this step, in cols; returns their count, or
    −1 when every column can.  A column is touched once its trace x1 or x2 is non-zero (eng[12]; cleared with the
    traces and tags at a sequence's start).  When every product has a presynaptic factor (0 on an untouched
    column) or a tag factor d or t (0 there too: the tags start at 0 and only such products change them), every
    product is 0 on an untouched column, whose entries are then fixed points; otherwise (a product of w or of post
    factors only) every column can change."""
    table, xs, touched = eng[3], eng[1], eng[12][c]
    for var in range(3):
        for p in range(eng[7][var]):
            if table[var, p, 0] < 0 and table[var, p, 2] < 1:
                return -1
    count = 0
    for i in range(cols.shape[0]):
        if xs[0][c, i] != 0 or xs[1][c, i] != 0:
            touched[i] = 1
        if touched[i]:
            cols[count] = i
            count += 1
    return count


@njit(cache=True, inline="always")
def _vanishes(eng, j, var, ys):  # pragma: no cover
    """Whether every product of variable ``var`` is 0 on row j (a post-synaptic factor y_p[j] = 0)."""
    table = eng[3]
    for p in range(eng[7][var]):
        y_code = table[var, p, 1]
        if y_code < 0 or ys[y_code, j] != 0:
            return False
    return True


@njit(cache=True)
def _engine_step(eng, c, pre, post, s, clipped):  # pragma: no cover
    """One learning epoch of chip c (LearningEngine.step): traces, then w, d, t from the values before it.

    A row on which every product of a variable vanishes is skipped for that variable once chip c's engine is
    settled (eng[11][c]: a full gated step has clipped and masked every learning variable, so such a row is a
    fixed point): outside the loss window the learning signal y2 = 0 and the weight update costs nothing.
    Event-driven in the presynaptic spikes: once settled, while at most 1/GATHER_FRACTION of the columns are live
    (_live_columns: touched by a presynaptic trace), a row visits those columns only (the others are fixed
    points); with more, whole contiguous rows are faster (the compiler vectorizes them)."""
    syn, mask, n_prod, ranges = eng[0], eng[2], eng[7], eng[9]
    n_post, n_pre = syn[0].shape[1], syn[0].shape[2]
    _traces(eng, c, pre, s)
    ys = np.empty((3, n_post), dtype=np.int64)
    for k in range(3):
        for j in range(n_post):
            ys[k, j] = _clip(_sround(post[k, j] * eng[5][2], eng[6][1, s]), -128, 127)
    if eng[8][s] == 0:
        return
    rk = int(np.floor(eng[6][2, s] * 128.0))
    ones = (np.ones(n_pre, dtype=np.int64), np.ones(n_pre, dtype=syn[0].dtype))  # for x, for synaptic factors
    bufs = np.empty((3, n_pre), dtype=np.int64)
    settled = eng[11][c] != 0
    live = np.empty(n_pre, np.int64)
    n_live = _live_columns(eng, c, live)
    if settled and 0 <= n_live <= n_pre // GATHER_FRACTION:
        _sparse_rows(eng, c, ys, ones, live, n_live, rk, clipped, bufs)
        return
    for j in range(n_post):
        for var in range(3):
            if n_prod[var] and not (settled and _vanishes(eng, j, var, ys)):
                _row(eng, c, j, var, ys, ones, bufs[var])
        for var in range(3):
            if n_prod[var] == 0 or (settled and _vanishes(eng, j, var, ys)):
                continue
            target, low, high = syn[var], ranges[var, 0], ranges[var, 1]
            for i in range(n_pre):
                a = max(bufs[var, i], 0) if var == 1 else bufs[var, i]
                new = (a >> 7) + (1 if (a & 127) > rk else 0)
                if new < low or new > high:
                    clipped[c, var] += 1
                    new = _clip(new, low, high)
                target[c, j, i] = new * mask[j, i]
    eng[11][c] = 1


@njit(cache=True)
def _sparse_rows(eng, c, ys, ones, cols, n_cols, rk, clipped, bufs):  # pragma: no cover
    """_engine_step's row loop of a settled engine at the live columns cols[:n_cols] only."""
    syn, mask, n_prod, ranges = eng[0], eng[2], eng[7], eng[9]
    for j in range(syn[0].shape[1]):
        for var in range(3):
            if n_prod[var] and not _vanishes(eng, j, var, ys):
                _row_at(eng, c, j, var, ys, ones, cols, n_cols, bufs[var])
        for var in range(3):
            if n_prod[var] == 0 or _vanishes(eng, j, var, ys):
                continue
            target, low, high = syn[var], ranges[var, 0], ranges[var, 1]
            for k in range(n_cols):
                i = cols[k]
                a = max(bufs[var, k], 0) if var == 1 else bufs[var, k]
                new = (a >> 7) + (1 if (a & 127) > rk else 0)
                if new < low or new > high:
                    clipped[c, var] += 1
                    new = _clip(new, low, high)
                target[c, j, i] = new * mask[j, i]


@njit(cache=True)
def _neurons(nrn, v, a, r, z_prev, a_in, z, psi, over):  # pragma: no cover
    """ALIF step (fixed.step_alif) and ψ of one sample; nrn = (vth << 6, dv, da, a_inc, n_ref, ψ slope)."""
    vth, dv, da, a_inc, n_ref, psi_mult = nrn
    top = 2**23 - 1
    count = 0
    for j in range(v.shape[0]):
        r[j] = max(r[j] - 1, 0)
        vv = _decay12(v[j], dv[j]) + (a_in[j] << 6) - z_prev[j] * vth[j]
        aa = _decay12(a[j], da[j]) + z_prev[j] * a_inc[j]
        over[0] += vv > top or vv < -top
        over[1] += aa > top or aa < -top
        v[j], a[j] = _clip(vv, -top, top), _clip(aa, -top, top)
        z[j] = 1 if v[j] >= vth[j] + a[j] and r[j] == 0 else 0
        if z[j]:
            r[j] = n_ref[j]
        free = z[j] > 0 or r[j] == 0
        psi[j] = max(0, PSI_MAX - ((abs(v[j] - vth[j] - a[j]) * psi_mult[j]) >> 16)) if free else 0
        count += z[j]
    return count


@njit(cache=True)
def _signal(err_prev, fb, sh, psi, z, rate, window, y3_mask, post):  # pragma: no cover
    """post = (ψ, L = clip((B ẽ[τ−1]) >> l_shift + R, ±127), ψ · y3_mask), the hidden engines' y1..y3; R the
    rate regularization (sh[8] = reg_target > 0; OnChipTrainer._rate_term), else 0."""
    for j in range(fb.shape[0]):
        acc = 0
        for k in range(fb.shape[1]):
            acc += err_prev[k] * fb[j, k]
        reg = 0
        if sh[8]:
            rate[j] += (z[j] << 7) - (rate[j] >> 8)
            reg = ((rate[j] - sh[8]) >> sh[9]) * window
        post[0, j] = psi[j]
        post[2, j] = psi[j] * y3_mask[j]
        post[1, j] = _clip((acc >> sh[4]) + reg, -MESSAGE_MAX, MESSAGE_MAX)


@njit(cache=True)
def _readout(b, t, y, a_out, dy, targets, loss_mask, sh, err, readout, over):  # pragma: no cover
    """y ← sat24(decay12(y, dy) + (a_out << 6)); ẽ = clip((π − y*) >> err_shift, ±127) in the loss window, π = y
    (sh[6] = 0) or the hard softmax of OnChipTrainer._scored (sh[6] = 1, sh[7] = round(target_scale))."""
    top, n_out = 2**23 - 1, y.shape[0]
    total = 0
    for k in range(n_out):
        yy = _decay12(y[k], dy[k]) + (a_out[k] << 6)
        if yy > top or yy < -top:
            over[2] += 1
        y[k] = _clip(yy, -top, top)
        total += y[k]
        err[k] = 0
    if t == 0:
        return
    for k in range(n_out):
        readout[b, t - 1, k] = y[k]
        scored = y[k] if sh[6] == 0 else _clip(sh[7] // n_out + ((y[k] - total // n_out) >> 1), 0, sh[7])
        err[k] = _clip((scored - targets[b, t - 1, k]) >> sh[3], -MESSAGE_MAX, MESSAGE_MAX) * loss_mask[b, t - 1]


@njit(cache=True)
def _sequence(b, c, x, targets, loss_mask, nrn, params, engines, learn, readout, stats):  # pragma: no cover
    """Sample b on chip c: OnChipTrainer.run_reference's loop, steps 0 … T (the last readout arrives at T)."""
    dy, fb, sh, y3_mask = params  # sh = (e_in, e_rec, e_out, err_shift, l_shift, out_err_shift, error, unit,
    # reg_target, reg_shift, reg_window)
    eng_in, eng_rec, eng_out = engines
    n_steps, n_in, n, n_out = x.shape[1], x.shape[2], fb.shape[0], fb.shape[1]
    state = np.zeros((10, n), np.int64)
    rate = state[9]
    v, a, r, z, z_prev, psi, a_in, a_rec, active_rec = state[0], state[1], state[2], state[3], state[4], state[5], \
        state[6], state[7], state[8]
    out_state = np.zeros((4, n_out), np.int64)
    y, err, err_prev, a_out = out_state[0], out_state[1], out_state[2], out_state[3]
    in_state = np.zeros((2, n_in), np.int64)
    no_input, active_in = in_state[0], in_state[1]
    post, post_out = np.zeros((3, n), np.int64), np.zeros((3, n_out), np.int64)
    for t in range(n_steps + 1):
        stats[b, 3] += _neurons(nrn, v, a, r, z_prev, a_in, z, psi, stats[b])
        window = 1 if sh[10] == 0 else (loss_mask[b, t - 2] if t >= 2 else 0)
        _signal(err_prev, fb, sh, psi, z, rate, window, y3_mask, post)
        _readout(b, t, y, a_out, dy, targets, loss_mask, sh, err, readout, stats[b])
        x_now = x[b, t] if t < n_steps else no_input
        # the Dense outputs of the next step, from the weights before this step's learning (Lava's order)
        _drive(eng_in[0][0], c, x_now, active_in, _actives(x_now, active_in), sh[0], a_in)
        k = _actives(z, active_rec)
        _drive(eng_rec[0][0], c, z, active_rec, k, sh[1], a_rec)
        _drive(eng_out[0][0], c, z, active_rec, k, sh[2], a_out)
        a_in += a_rec
        if learn:
            _engine_step(eng_in, c, x_now, post, t, eng_in[10])
            _engine_step(eng_rec, c, z, post, t, eng_rec[10])
            for k in range(n_out):
                post_out[0, k] = err[k] >> sh[5]
            _engine_step(eng_out, c, z, post_out, t, eng_out[10])
        err_prev[:] = err
        z_prev[:] = z


@njit(cache=True, nogil=True)
def run_sequences(lo, hi, x, targets, loss_mask, chip, nrn, params, engines, learn, readout, stats):  # pragma: no cover
    """Samples lo … hi − 1 of (B, T, ·), sample b on chip ``chip[b]`` (with ``learn`` one sample per chip).
    Writes readout (B, T, n_out) and stats (B, 4): v, a, y saturations and spikes.  Threads run disjoint ranges."""
    for b in range(lo, hi):
        _sequence(b, chip[b], x, targets, loss_mask, nrn, params, engines, learn, readout, stats)


def _neuron_arrays(trainer) -> tuple:
    g, n_rec = trainer.graph, trainer.graph.n_rec
    n = g.neurons
    as_rec = lambda v: np.ascontiguousarray(np.broadcast_to(np.asarray(v, dtype=np.int64), (n_rec,)))  # noqa: E731
    return (as_rec(n.vth << 6), as_rec(n.dv), as_rec(n.da), as_rec(n.a_inc), as_rec(n.n_ref), as_rec(trainer.rule.psi_mult))


def run_fused(trainer, batch, learn: bool, chip: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sample b of ``batch`` on chip ``chip[b]`` (default b) of an OnChipTrainer; learning on or off (on: one
    sample per chip).  Returns readout (B, T, n_out) and the per-sample counts (B, 4) of v, a, y saturations and
    spikes; updates the engines (weights, traces, clocks, counters) and the trainer's ActivityStats."""
    g, rule, names = trainer.graph, trainer.rule, ("w_in", "w_rec", "w_out")
    x = np.ascontiguousarray(batch.inputs, dtype=np.int64)
    size, n_steps = x.shape[:2]
    chip = np.arange(size) if chip is None else np.asarray(chip, dtype=np.int64)
    if learn and not np.array_equal(np.sort(chip), np.arange(trainer.batch)):
        raise ValueError("learning runs one sample on every chip")
    clipped = {name: np.zeros((trainer.batch, 3), np.int64) for name in names}
    for name in names:
        engine = trainer.engines[name]
        engine.reset_traces()
        for var in ("w", "d", "t", "x1", "x2"):
            setattr(engine.state, var, np.ascontiguousarray(getattr(engine.state, var), dtype=np.int64))
    settled = {name: np.zeros(trainer.batch, np.int64) for name in names}  # see _engine_step
    views = [kernel_view(trainer.engines[name], n_steps + 1, learn, clipped[name]) for name in names]
    touched = {name: np.zeros((trainer.batch, trainer.engines[name].state.w.shape[2]), np.int64) for name in names}
    engines = tuple((tuple(np.ascontiguousarray(v, dtype=SYNAPSE_DTYPE) for v in view[0]), *view[1:], settled[name],
                     touched[name]) for name, view in zip(names, views, strict=True))
    exps = [trainer.exponents[name] for name in names]
    shifts = np.array([*exps, rule.err_shift, rule.l_shift, rule.out_err_shift, {"mse": 0, "softmax": 1}[rule.error],
                       int(round(rule.target_scale)), rule.reg_target, rule.reg_shift,
                       int(rule.reg_window)], dtype=np.int64)
    params = (np.asarray(g.readout.dy, dtype=np.int64).reshape(-1), np.ascontiguousarray(rule.feedback, dtype=np.int64), shifts,
              np.ascontiguousarray(trainer.alif_y3, dtype=np.int64))
    targets = np.round(batch.targets * rule.target_scale).astype(np.int64)
    readout, stats = np.zeros((size, n_steps, g.n_out), np.int64), np.zeros((size, 4), np.int64)
    args = (x, targets, np.ascontiguousarray(batch.loss_mask, dtype=np.int64), chip, _neuron_arrays(trainer), params,
            engines, learn, readout, stats)
    _threaded(size, args)
    for k, state in enumerate(("v", "a", "y")):
        trainer.stats.count(state, int(stats[:, k].sum()))
    if learn:
        for name, engine in zip(names, engines, strict=True):
            book_kernel_run(trainer.engines[name], engine, clipped[name], n_steps + 1)
            for full, compact in zip(views[names.index(name)][0], engine[0], strict=True):
                full[...] = compact  # back into the engine's int64 state (the numpy specification's layout)
    return readout, stats


def _threaded(size: int, args: tuple) -> None:
    """run_sequences over ``size`` samples in contiguous slices, one per thread (the kernel releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    import numba

    bounds = np.linspace(0, size, min(size, numba.get_num_threads()) + 1).astype(int)
    with ThreadPoolExecutor(len(bounds) - 1) as pool:
        for job in [pool.submit(run_sequences, int(lo), int(hi), *args) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]:
            job.result()
