"""Lava's bit-approximate three-factor learning engine (``LearningDense`` + ``Loihi3FLearningRule``,
``PyLearningDenseModelBitApproximate`` in lava-nc 0.10.0), batched over independent chips, bit for bit.

The engine, per synapse j ← i and per step (learning epoch ``t_epoch`` = 1, every product gated by ``u0``):

    x_k ← sround(x_k · exp(−1/τ_k)) (+ impulse_k if i spiked, clipped to [0, 127]);  τ_k = 0: x_k ← 0
    y_k ← sround(y_k · exp(−1/65535))        y1..y3 as sent by the post-synaptic neuron this step
    for V in (w, d = tag_2, t = tag_1), from the values before the step, with its products P:
        acc = V << 7
        for each product m·2^e·Π f:   p = (Π clip(f, ±2^width(f)) · m) >> max(0, Σ width + 4 − 15) << (e + 7)
                                      acc = clip(acc + clip(p, ±2^15), ±2^15)      (lower bound −2^15 − 1)
        (d: acc ≥ 0)   V ← floor(acc / 128) + [r_V < frac(acc / 128)],   then clipped:
        w ∈ [−256, 255] (mixed sign), d ∈ [0, 255], t ∈ [−257, 255]
    widths: x*, y* 7 bits; w, d, t 9 bits; sround(v) = floor(v) + [r < frac(v)]

Randomness is one number per process and step, shared by every synapse: the x traces' decay uses
``default_rng(seed)``, their impulse rounding ``default_rng(seed + 1)``, the y traces ``seed + 2`` / ``seed + 3``
(each advanced twice per step), the synaptic variables ``default_rng(2)`` (advanced once per step, before use).
Every chip of a batch runs the same stream, as independent Lava processes with the same seed do.

The forward pass of the same step uses the weights before learning (Lava computes the Dense output first).
Not modelled (refused or unused): x0 / y0 dependencies, learning epochs longer than one step, fractional trace
impulses, graded presynaptic spikes, and the back-propagating-spike port (Lava clips the y traces of neurons that
spiked on it to [0, 127]; neuroport's on-chip e-prop leaves it unconnected).

Sign mode: mixed (``SignMode.MIXED``, Lava's default for learning synapses, which neuroport's loihi-sim lowering
also passes explicitly), so a learned weight may change sign; the engine holds 9-bit weights in [−256, 255].  At
its first step Lava truncates the initial weights, as the chip stores them, dropping 8 − num_weight_bits + 1 LSBs
(toward −∞: 3 → 2, −3 → −4; ``lava.utils.weightutils.truncate_weights``); the engine does the same when it is
built, and learned weights are never truncated again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuroport.numerics import truncate_lsbs

TRACE_MAX = 127  # 7-bit traces
FACTOR_BITS = {"x1": 7, "x2": 7, "y1": 7, "y2": 7, "y3": 7, "w": 9, "d": 9, "t": 9}
FACTOR_ORDER = tuple(FACTOR_BITS)
FACTOR_WIDTHS = np.array(list(FACTOR_BITS.values()), dtype=np.int64)
VAR_RANGE = {"w": (-256, 255), "d": (0, 255), "t": (-257, 255)}
Y_TAU = 65535  # Loihi3FLearningRule's y1..y3 time constant (np.iinfo(np.uint16).max)
CONN_SEED = 2  # lava.magma.core.learning.random.ConnVarRandom's default seed
MAX_WEIGHT_BITS = 8  # truncate_weights' max_num_weight_bits (lava.utils.weightutils)


@dataclass(frozen=True)
class Product:
    """mantissa · 2^exponent · Π factors, evaluated every 2^decimate steps (dependency u_decimate; Lava: u = 1 when
    time_step is a multiple of 2^k, else 0).  All products of one variable share the decimation."""

    factors: tuple[str, ...]
    mantissa: int = 1  # −8 … 7
    exponent: int = 0  # −7 … 8
    decimate: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.factors) - set(FACTOR_BITS)
        if unknown or not -8 <= self.mantissa <= 7 or not -7 <= self.exponent <= 8:
            raise ValueError(f"not a Loihi learning-rule product: {self}")

    def lava(self) -> str:
        """This product in Lava's rule syntax."""
        terms = "*".join((f"u{self.decimate}", *self.factors))
        scale = f"*2^{self.exponent}" if self.exponent else ""
        magnitude = "" if abs(self.mantissa) == 1 else f"{abs(self.mantissa)}*"
        return f"{'-' if self.mantissa < 0 else '+'}{magnitude}{terms}{scale}"


@dataclass(frozen=True)
class LearningRule:
    """A Loihi three-factor rule: products per synaptic variable, x-trace settings, the trace seed."""

    dw: tuple[Product, ...] = ()
    dd: tuple[Product, ...] = ()
    dt: tuple[Product, ...] = ()
    x1_impulse: int = 0
    x1_tau: int = 0
    x2_impulse: int = 0
    x2_tau: int = 0
    rng_seed: int = 0

    def __post_init__(self) -> None:
        impulses = (self.x1_impulse, self.x2_impulse)
        if any(not float(i).is_integer() or not 0 <= i <= TRACE_MAX for i in impulses):
            raise ValueError(f"trace impulses must be integers in [0, {TRACE_MAX}] (fractional impulses, which Lava "
                             f"rounds stochastically, are not modelled), got {impulses}")
        if len({p.decimate for p in (*self.dw, *self.dd, *self.dt)}) > 1:
            raise ValueError("all products of a rule must share one decimation u_k (Lava refuses mixed decimation)")

    def lava_string(self, var: str) -> str | None:
        products = getattr(self, var)
        return "".join(p.lava() for p in products).lstrip("+") if products else None

    def lava_kwargs(self) -> dict:
        """Keyword arguments of Lava's ``Loihi3FLearningRule`` for this rule."""
        return {"dw": self.lava_string("dw"), "dd": self.lava_string("dd"), "dt": self.lava_string("dt"),
                "x1_impulse": self.x1_impulse, "x1_tau": self.x1_tau, "x2_impulse": self.x2_impulse,
                "x2_tau": self.x2_tau, "t_epoch": 1, "rng_seed": self.rng_seed}


class _TraceRandom:
    """Lava's TraceRandom: a decay number in [0, 1) and an impulse number in [0, 128), drawn on advance."""

    def __init__(self, seed: int) -> None:
        self._decay, self._impulse = np.random.default_rng(seed), np.random.default_rng(seed + 1)
        self.decay, self.impulse = self._decay.random(1)[0], self._impulse.integers(0, 2**7, size=1, dtype=int)[0]

    def advance(self) -> None:
        self.decay = self._decay.random(1)[0]
        self.impulse = self._impulse.integers(0, 2**7, size=1, dtype=int)[0]


def stochastic_round(values: np.ndarray, random: float) -> np.ndarray:
    """floor(v) + [random < frac(v)] (Lava's ``stochastic_round`` with its fractional part)."""
    return (np.floor(values) + (random < values % 1)).astype(np.int64)


@dataclass
class LearningEngineState:
    """Per chip of a batch: weights, tags (batch, post, pre) and presynaptic traces (batch, pre)."""

    w: np.ndarray
    d: np.ndarray
    t: np.ndarray
    x1: np.ndarray
    x2: np.ndarray
    updates: int = 0  # synapse-variable updates applied (for the energy model)
    saturations: dict[str, int] = field(default_factory=dict)


class LearningEngine:
    """Steps a batch of LearningDense synapse matrices exactly as Lava's bit-approximate model."""

    def __init__(self, rule: LearningRule, weights: np.ndarray, batch: int, mask: np.ndarray | None = None,
                 num_weight_bits: int = MAX_WEIGHT_BITS) -> None:
        """``weights`` (post, pre) mantissas, truncated as the mixed sign mode stores them (module docstring);
        ``mask`` (post, pre): the synapses that exist; the others stay 0 (Lava's LearningDense with sparse
        weights updates only stored entries)."""
        stored = truncate_lsbs(np.asarray(weights, dtype=np.int64), MAX_WEIGHT_BITS - num_weight_bits + 1)
        w = np.broadcast_to(stored, (batch, *np.shape(weights))).copy()
        self.mask = None if mask is None else np.asarray(mask, dtype=bool)
        self.rule = rule
        self.state = LearningEngineState(w=w, d=np.zeros_like(w), t=np.zeros_like(w),
                                         x1=np.zeros((batch, w.shape[2]), np.int64), x2=np.zeros((batch, w.shape[2]), np.int64))
        self._x, self._y = _TraceRandom(rule.rng_seed), _TraceRandom(rule.rng_seed + 2)
        self._conn = np.random.default_rng(CONN_SEED)
        self._conn_value = self._conn.random(1)[0]
        self.time_step = 0  # Lava's time_step of the last step (1-based)

    def reset_traces(self) -> None:
        """Zero the presynaptic traces and both tags (between sequences; on the chip, a write by the host)."""
        for name in ("x1", "x2", "d", "t"):
            getattr(self.state, name)[...] = 0

    def step(self, pre_spikes: np.ndarray, y: np.ndarray) -> None:
        """One learning epoch after the Dense pass: ``pre_spikes`` (batch, pre) 0/1, ``y`` (3, batch, post) the
        y1..y3 the post-synaptic neurons sent this step."""
        self.time_step += 1
        for _ in range(2):  # recv_traces advances the trace generators before and after the post traces
            self._x.advance()
            self._y.advance()
        self._conn_value = self._conn.random(1)[0]
        spiked = np.asarray(pre_spikes).astype(bool)
        x1 = self._trace(self.state.x1, self.rule.x1_tau, self.rule.x1_impulse, spiked)
        x2 = self._trace(self.state.x2, self.rule.x2_tau, self.rule.x2_impulse, spiked)
        ys = stochastic_round(np.asarray(y, dtype=np.float64) * np.exp(-1.0 / Y_TAU), self._y.decay)
        values = {"xs": np.stack([x1, x2]), "ys": np.ascontiguousarray(ys, dtype=np.int64),
                  "w": self.state.w, "d": self.state.d, "t": self.state.t}
        new = {var: self._apply(var, getattr(self.rule, f"d{var}"), values) for var in ("w", "d", "t")}
        for var, value in new.items():
            if value is not None and self.mask is not None:
                value = np.where(self.mask, value, 0)
            if value is not None:
                setattr(self.state, var, value)
                self.state.updates += value.size
        self.state.x1, self.state.x2 = x1, x2

    def _trace(self, trace: np.ndarray, tau: int, impulse: int, spiked: np.ndarray) -> np.ndarray:
        if tau == 0:
            decayed = np.zeros_like(trace)
        else:
            decayed = stochastic_round(np.exp(-1.0 / tau) * trace, self._x.decay)
        return np.where(spiked, np.clip(decayed + int(impulse), 0, TRACE_MAX), decayed)

    def _apply(self, var: str, products: tuple[Product, ...], values: dict) -> np.ndarray | None:
        """The module docstring's update of one synaptic variable (compiled: kernels.learning_rule_update)."""
        from neuroport.emulator.kernels import learning_rule_update

        if not products:
            return None
        target = values[var]
        n_factors = max(len(p.factors) for p in products)
        factors = np.full((len(products), n_factors), -1, dtype=np.int64)
        for row, product in enumerate(products):
            factors[row, :len(product.factors)] = [FACTOR_ORDER.index(name) for name in product.factors]
        gates = np.array([int(self.time_step % 2**p.decimate == 0) for p in products], dtype=np.int64)
        if not gates.any():  # every product gated off: acc = var << 7 rounds back to var exactly
            return target
        low, high = VAR_RANGE[var]
        new, clipped = learning_rule_update(
            np.ascontiguousarray(target, dtype=np.int64), values["xs"], values["ys"], self.state.w, self.state.d,
            self.state.t, factors, FACTOR_WIDTHS,
            np.array([p.mantissa for p in products], dtype=np.int64), np.array([p.exponent for p in products], dtype=np.int64),
            gates, var == "d", float(self._conn_value), low, high)
        self.state.saturations[var] = self.state.saturations.get(var, 0) + int(clipped)
        return new


# The fused on-chip kernel (neuroport.emulator.onchip_kernel) steps these engines in compiled code; these helpers
# hand it their state and bring its counters back.


def _table(rule: LearningRule) -> tuple[np.ndarray, np.ndarray, int]:
    """The products of w, d, t as (3, P, 6) rows for onchip_kernel._row, their counts, and the rule's decimation."""
    kinds = {"x1": (0, 0), "x2": (0, 1), "y1": (1, 0), "y2": (1, 1), "y3": (1, 2), "w": (2, 0), "d": (2, 1), "t": (2, 2)}
    per_var = [getattr(rule, f"d{var}") for var in ("w", "d", "t")]
    table = np.zeros((3, max(1, *map(len, per_var)), 6), dtype=np.int64)
    decimate = 0
    for var, products in enumerate(per_var):
        for p, product in enumerate(products):
            codes = [-1, -1, -1]
            for name in product.factors:
                kind, code = kinds[name]
                if codes[kind] >= 0:
                    raise NotImplementedError(f"the fused kernel takes one factor of each kind per product: {product}")
                codes[kind] = code
            width = 4 + sum(FACTOR_BITS[f] for f in product.factors)
            table[var, p] = (*codes, product.mantissa, max(0, width - 15), product.exponent + 7)
            decimate = product.decimate
    return table, np.array([len(p) for p in per_var], dtype=np.int64), decimate


def _draws(trace_random, steps: int) -> np.ndarray:
    """The decay numbers of ``steps`` steps (two advances each), drawn in bulk; the generator ends where Lava's
    one-at-a-time draws leave it."""
    decays = trace_random._decay.random(2 * steps)
    impulses = trace_random._impulse.integers(0, 2**7, size=2 * steps, dtype=int)
    trace_random.decay, trace_random.impulse = decays[-1], impulses[-1]
    return decays[1::2]


def kernel_view(engine: LearningEngine, steps: int, learn: bool, clipped: np.ndarray) -> tuple:
    """The view of a :class:`LearningEngine` that :mod:`neuroport.emulator.onchip_kernel` steps, for a run of ``steps``
    steps; with ``learn`` it draws the run's random numbers and advances the engine's clock."""
    st, rule = engine.state, engine.rule
    if min(st.w.min(initial=0), st.d.min(initial=0), st.t.min(initial=0)) < -512 or max(st.w.max(initial=0), st.d.max(initial=0), st.t.max(initial=0)) > 511:
        raise ValueError("synaptic variables outside their 9 bits")
    table, n_prod, decimate = _table(rule)
    rnd, gates = np.zeros((3, 0)), np.zeros(0, dtype=np.int64)
    if learn:
        rnd = np.stack([_draws(engine._x, steps), _draws(engine._y, steps), engine._conn.random(steps)])
        engine._conn_value = rnd[2, -1]
        gates = ((engine.time_step + 1 + np.arange(steps)) % 2**decimate == 0).astype(np.int64)
        engine.time_step += steps
    mask = np.ones(st.w.shape[1:], np.int64) if engine.mask is None else engine.mask.astype(np.int64)
    taus = (rule.x1_tau, rule.x2_tau)
    ints = np.array([rule.x1_impulse, rule.x1_tau != 0, rule.x2_impulse, rule.x2_tau != 0], dtype=np.int64)
    floats = np.array([np.exp(-1.0 / tau) if tau else 0.0 for tau in taus] + [np.exp(-1.0 / Y_TAU)])
    ranges = np.array([VAR_RANGE[v] for v in ("w", "d", "t")], dtype=np.int64)
    return ((st.w, st.d, st.t), (st.x1, st.x2), mask, table, ints, floats, rnd, n_prod, gates, ranges, clipped)


def book_kernel_run(engine: LearningEngine, view: tuple, clipped: np.ndarray, steps: int) -> None:
    """After a kernel run of ``steps`` steps: the engine's counters as its own steps would have left them."""
    n_prod, gates = view[7], view[8]
    for var, count in zip(("w", "d", "t"), n_prod, strict=True):
        if count:
            engine.state.updates += steps * engine.state.w.size
            if gates.any():
                engine.state.saturations[var] = engine.state.saturations.get(var, 0) + int(clipped[:, "wdt".index(var)].sum())
