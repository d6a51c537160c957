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
Initial weights are taken as Lava's Dense holds them after its first step (mixed-sign weights even-only:
:func:`neuroport.quantization.loihi.lava_dense_weights`); learned weights are not truncated again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TRACE_MAX = 127  # 7-bit traces
ACC_BITS = 15  # accumulator magnitude bits (16-bit signed)
VAR_SHIFT = 7  # accumulator LSBs below a synaptic variable's LSB
FACTOR_BITS = {"x1": 7, "x2": 7, "y1": 7, "y2": 7, "y3": 7, "w": 9, "d": 9, "t": 9}
MANTISSA_BITS = 4
VAR_RANGE = {"w": (-256, 255), "d": (0, 255), "t": (-257, 255)}
Y_TAU = 65535  # Loihi3FLearningRule's y1..y3 time constant (np.iinfo(np.uint16).max)
CONN_SEED = 2  # lava.magma.core.learning.random.ConnVarRandom's default seed


@dataclass(frozen=True)
class Product:
    """mantissa · 2^exponent · Π factors, evaluated every step (dependency u0)."""

    factors: tuple[str, ...]
    mantissa: int = 1  # −8 … 7
    exponent: int = 0  # −7 … 8

    def __post_init__(self) -> None:
        unknown = set(self.factors) - set(FACTOR_BITS)
        if unknown or not -8 <= self.mantissa <= 7 or not -7 <= self.exponent <= 8:
            raise ValueError(f"not a Loihi learning-rule product: {self}")

    def lava(self) -> str:
        """This product in Lava's rule syntax."""
        terms = "*".join(("u0", *self.factors))
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

    def __init__(self, rule: LearningRule, weights: np.ndarray, batch: int) -> None:
        w = np.broadcast_to(np.asarray(weights, dtype=np.int64), (batch, *np.shape(weights))).copy()
        self.rule = rule
        self.state = LearningEngineState(w=w, d=np.zeros_like(w), t=np.zeros_like(w),
                                         x1=np.zeros((batch, w.shape[2]), np.int64), x2=np.zeros((batch, w.shape[2]), np.int64))
        self._x, self._y = _TraceRandom(rule.rng_seed), _TraceRandom(rule.rng_seed + 2)
        self._conn = np.random.default_rng(CONN_SEED)
        self._conn_value = self._conn.random(1)[0]

    def step(self, pre_spikes: np.ndarray, y: np.ndarray) -> None:
        """One learning epoch after the Dense pass: ``pre_spikes`` (batch, pre) 0/1, ``y`` (3, batch, post) the
        y1..y3 the post-synaptic neurons sent this step."""
        for _ in range(2):  # recv_traces advances the trace generators before and after the post traces
            self._x.advance()
            self._y.advance()
        self._conn_value = self._conn.random(1)[0]
        spiked = np.asarray(pre_spikes).astype(bool)
        x1 = self._trace(self.state.x1, self.rule.x1_tau, self.rule.x1_impulse, spiked)
        x2 = self._trace(self.state.x2, self.rule.x2_tau, self.rule.x2_impulse, spiked)
        ys = stochastic_round(np.asarray(y, dtype=np.float64) * np.exp(-1.0 / Y_TAU), self._y.decay)
        values = {"x1": x1[:, None, :], "x2": x2[:, None, :], "y1": ys[0][:, :, None], "y2": ys[1][:, :, None],
                  "y3": ys[2][:, :, None], "w": self.state.w, "d": self.state.d, "t": self.state.t}
        new = {var: self._apply(var, getattr(self.rule, f"d{var}"), values) for var in ("w", "d", "t")}
        for var, value in new.items():
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
        if not products:
            return None
        limit = 2**ACC_BITS
        acc = values[var] << VAR_SHIFT
        for product in products:
            term = np.full(acc.shape, product.mantissa, dtype=np.int64)
            width = MANTISSA_BITS
            for name in product.factors:
                bits = FACTOR_BITS[name]
                term = term * np.clip(values[name], -(2**bits), 2**bits - 1)
                width += bits
            term = (term >> max(0, width - ACC_BITS)) << (product.exponent + 7)
            acc = np.clip(acc + np.clip(term, -limit - 1, limit - 1), -limit - 1, limit - 1)
        if var == "d":
            acc = np.maximum(acc, 0)
        rounded = stochastic_round(acc / 2**VAR_SHIFT, self._conn_value)
        low, high = VAR_RANGE[var]
        clipped = np.clip(rounded, low, high)
        self.state.saturations[var] = self.state.saturations.get(var, 0) + int(np.count_nonzero(clipped != rounded))
        return clipped
