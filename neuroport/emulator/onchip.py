"""On-chip e-prop in fixed point: the network of :mod:`neuroport.emulator.fixed` learning on-line with Lava's
learning engine (:mod:`neuroport.emulator.loihi_learning`), one chip per sample stream, a batch of chips at once.

Per chip step τ (what each Loihi-style process does; Dense outputs arrive one step later):

    neurons   a_in = shift(W_in x[τ−1], e_in) + shift(W_rec z[τ−1], e_rec);  ALIF step → z[τ]
              ψ[τ] = max(0, 127 − ((|v − (vth << 6) − a| · ψ_mult) >> 16)) while not refractory   (y1)
              L[τ] = clip((B ẽ[τ−1]) >> l_shift, ±127), B the 8-bit feedback Dense of graded messages (y2)
    readout   y[τ] = sat24(decay12(y, dy) + (shift(W_out z[τ−1], e_out) << 6))
              ẽ[τ] = clip((y[τ] − round(y*·v_scale)) >> err_shift, ±127) inside the loss window, else 0
    learning  W_in: pre x[τ], post (ψ[τ], L[τ]);  W_rec: pre z[τ], post (ψ[τ], L[τ]);
              W_out: pre z[τ], post ẽ[τ] >> out_err_shift
              tag_1 (t) = filtered eligibility:  dt = x1·y1·2^−7 − 3·t·2^−6          (κ ≈ 1 − 3/64 ≈ e^−1/20)
              weights:                          dw = −m_w · t · y2 · 2^e_w
              readout weights:                  dw = −m_o · x1 · y1 · 2^e_o
              (Lava's engine has one decimation u_k per rule, and the tag needs every step: all products are u0.)
              x1 (presynaptic trace) impulse 16, τ = the post-synaptic τ_m (readout: τ_out).

The float counterpart is e-prop with random feedback and an MSE error on the readout (classification against
one-hot targets); the deviations from float e-prop — integer ψ, 8-bit L and ẽ, a tag filter of 3/64 instead of
1 − κ, the one-step offsets of the Dense pipeline (L reaches a neuron one step after the error that caused it),
no firing-rate regularization, no ALIF adaptation eligibility — are the chip's and are measured by
benchmarks/onchip_vs_float.py.  Neuron states and learning traces are reset between sequences.

Options beyond that rule (OnChipRule fields; their defaults give the rule above, bit for bit), next to float e-prop:

    float                                        integer, per step τ (u_k: only when 2^k divides Lava's time step)
    ē = κ ē + ψ (x̄ − β ε_a)                      dt = u_k·(x1·y1·2^tag_exponent + m_a·x2·y3·2^e_a + m_t·t·2^e_t)
    ε_a ← ψ x̄ + (ρ − ψ β) ε_a  (τ_a)             ε_a ≈ x2: presynaptic trace, impulse alif_impulse, τ = alif_tau;
                                                 y3 = ψ on ALIF neurons, 0 on LIF; (m_a, e_a) = alif_scale, m_a < 0
    Δw = −η Σ_τ L ē                              dw = −u_k · m_w · t · y2 · 2^e_w,   k = decimate
    Δw_out = −η Σ_τ ẽ z̄                          dw_out = −u_k' · m_o · x1 · y1 · 2^e_o,   k' = out_decimate

Decimation lowers the learning rate by 2^k without coarser per-update steps (each update still rounds
stochastically), and the tag then decays by m_t·2^e_t per 2^k steps (``tag_decay``).  The fused kernel
(:mod:`neuroport.emulator.onchip_kernel`) runs :meth:`OnChipTrainer.run`; :meth:`OnChipTrainer.run_reference` is this
module's numpy specification of the same thing.  :meth:`OnChipTrainer.set_rule` swaps the rule between sequences
(a learning-rate schedule: the host rewriting the engines' rules), keeping weights, tags, traces, clocks and the
engines' random streams; every stretch is an ordinary OnChipRule, so the per-step semantics are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from neuroport.emulator.fixed import ACT_SHIFT, VTH_SHIFT, ActivityStats, _saturate, step_alif
from neuroport.emulator.loihi_learning import LearningEngine, LearningRule, Product
from neuroport.errors import UnsupportedError
from neuroport.ir.fixed_graph import FixedGraph
from neuroport.numerics import decay12, shift
from neuroport.tasks import Batch

DELAYS_REFUSAL = ("on-chip learning with synaptic delays is not supported: the learning engine's pre-synaptic "
                  "traces see spikes when they are sent, not when a delayed synapse delivers them; train with float "
                  "e-prop (`neuroport train`) and deploy the trained model")


def refuse_delays(graph: FixedGraph) -> None:
    """Raise UnsupportedError (:data:`DELAYS_REFUSAL`) for a graph with synaptic delays."""
    if any(d.delays is not None for d in graph.dense().values()):
        raise UnsupportedError(DELAYS_REFUSAL)

PSI_MAX = 127
PSI_SHIFT = 16
MESSAGE_MAX = 127  # 8-bit graded messages
FEEDBACK_SCALE = 32  # B ~ N(0, 1) → 8-bit mantissas
X1_IMPULSE = 16
RATE_TAU_SHIFT = 8  # the neurons' rate trace: τ = 256 steps
RATE_IMPULSE_SHIFT = 7


@dataclass(frozen=True)
class OnChipRule:
    """Integer e-prop settings (module docstring); learning rates as mantissa and exponent, plus trace impulses
    and shifts."""

    psi_mult: np.ndarray  # (n,) ψ slope
    err_shift: int
    target_scale: float  # float target → readout integer units (v_scale)
    feedback: np.ndarray  # (n, n_out) 8-bit mantissas
    l_shift: int
    w_mantissa: int = 1
    w_exponent: int = -7
    out_mantissa: int = 1
    out_exponent: int = -7
    hidden_impulse: int = X1_IMPULSE  # x1 impulse of the input and recurrent engines (scales their rate)
    out_impulse: int = X1_IMPULSE  # x1 impulse of the readout engine
    out_err_shift: int = 0  # the readout's error as its own learning engine's y1: ẽ >> out_err_shift
    seed: int = 0
    # Slower learning without coarser steps: every product of the hidden rules (tag and weight) gated by u_k, k =
    # ``decimate`` (all products of a Lava rule share one u_k), the tag's input 2^tag_exponent and its decay
    # m·2^e = tag_decay then per 2^k steps (k = 3: tag_exponent −4, tag_decay (−3, −3) keep τ_tag ≈ 21 steps and
    # the tag's size); ``out_decimate`` gates the readout rule.  The defaults are the rule above.
    decimate: int = 0
    tag_exponent: int = -7
    tag_decay: tuple[int, int] = (-3, -6)
    out_decimate: int = 0
    # The ALIF eligibility component, −β ψ ε_a with ε_a ≈ a long presynaptic trace: with alif_impulse > 0 the
    # hidden engines keep x2 (impulse alif_impulse, τ = alif_tau steps), ALIF neurons send y3 = ψ (LIF: 0) and
    # the tag gains m·x2·y3·2^e, (m, e) = alif_scale.  0: no ALIF component (the rule above).
    alif_impulse: int = 0
    alif_tau: int = 2000
    alif_scale: tuple[int, int] = (-1, -7)
    # Firing-rate regularization (float: L_j += c_reg (f_j − f_target) / T): each neuron adds
    # R = (r̄ − reg_target) >> reg_shift to its L at every step, r̄ its rate trace (OnChipTrainer._rate_term);
    # reg_target = f_target · dt · 2^15 (10 Hz at 1 ms: 328).  0: off.
    reg_target: int = 0
    reg_shift: int = 7
    reg_window: bool = False  # R only while the error of the loss window arrives (the product's bias stays there)
    error: str = "mse"  # "softmax": the readout's error against a hard softmax of y (OnChipTrainer._scored)

    def engines(self, tau_m_steps: float, tau_out_steps: float) -> dict[str, LearningRule]:
        k = self.decimate
        tag = (Product(("x1", "y1"), 1, self.tag_exponent, k), Product(("t",), *self.tag_decay, k))
        if self.alif_impulse:
            tag = (*tag, Product(("x2", "y3"), *self.alif_scale, k))
        weight = (Product(("t", "y2"), -self.w_mantissa, self.w_exponent, k),)
        out = (Product(("x1", "y1"), -self.out_mantissa, self.out_exponent, self.out_decimate),)
        alif = {"x2_impulse": self.alif_impulse, "x2_tau": self.alif_tau} if self.alif_impulse else {}
        hidden = LearningRule(dt=tag, dw=weight, x1_impulse=self.hidden_impulse, x1_tau=int(round(tau_m_steps)),
                              rng_seed=self.seed, **alif)
        return {"w_in": hidden, "w_rec": replace(hidden, rng_seed=self.seed + 10),
                "w_out": LearningRule(dw=out, x1_impulse=self.out_impulse, x1_tau=int(round(tau_out_steps)), rng_seed=self.seed + 20)}


def default_rule(graph: FixedGraph, feedback_float: np.ndarray, beta_surrogate: np.ndarray, **rates) -> OnChipRule:
    """ψ slope from the float surrogate width (ψ reaches 0 at |v − A| = v_th / β), 8-bit feedback, error and
    learning-signal shifts that put an error of 1 (float units) near 64 and a typical L near 64."""
    vth_scaled = (graph.neurons.vth << VTH_SHIFT).astype(np.float64)
    psi_mult = np.round(PSI_MAX * beta_surrogate * 2**PSI_SHIFT / np.maximum(vth_scaled, 1)).astype(np.int64)
    err_shift = max(0, int(np.floor(np.log2(max(graph.v_scale, 1.0)))) - 6)
    # even mantissas: Lava's Dense holds mixed-sign 8-bit weights with the last bit dropped
    feedback = 2 * np.clip(np.round(feedback_float * FEEDBACK_SCALE / 2), -(MESSAGE_MAX // 2), MESSAGE_MAX // 2).astype(np.int64)
    return OnChipRule(psi_mult=psi_mult, err_shift=err_shift, target_scale=float(graph.v_scale), feedback=feedback,
                      **{"l_shift": 5, **rates})


@dataclass
class OnChipSample:
    """What one sequence did on each chip: the readout (batch, T, n_out) integers and spike count."""

    readout: np.ndarray
    spikes: int


class OnChipTrainer:
    """A batch of chips learning on-line; each :meth:`run` streams one sequence through every chip."""

    def __init__(self, graph: FixedGraph, rule: OnChipRule, batch: int, tau_m_steps: float, tau_out_steps: float) -> None:
        refuse_delays(graph)
        self.graph, self.rule, self.batch = graph, rule, batch
        dense = graph.dense()
        self.exponents = {name: d.weight_exp for name, d in dense.items()}
        rules = rule.engines(tau_m_steps, tau_out_steps)
        self.engines = {name: LearningEngine(rules[name], d.weights, batch, d.mask, d.num_weight_bits) for name, d in dense.items()}
        self.stats = ActivityStats.empty(graph, batch, 0)
        self.alif_y3 = ((np.asarray(graph.neurons.a_inc) > 0) & (rule.alif_impulse > 0)).astype(np.int64)  # y3 = ψ
        self.tau_steps = (tau_m_steps, tau_out_steps)

    def set_rule(self, rule: OnChipRule) -> None:
        """Switch to ``rule`` between sequences (on a chip: the host rewrites the learning rules and the neurons'
        settings), keeping weights, tags, traces, the engines' clocks and their random streams; the engines keep
        their seeds (the streams were drawn from them once, at the start)."""
        rules = rule.engines(*self.tau_steps)
        for name, engine in self.engines.items():
            engine.rule = replace(rules[name], rng_seed=engine.rule.rng_seed)
        self.rule = rule
        self.alif_y3 = ((np.asarray(self.graph.neurons.a_inc) > 0) & (rule.alif_impulse > 0)).astype(np.int64)

    def weights(self, name: str) -> np.ndarray:
        return self.engines[name].state.w

    def _activation(self, name: str, pre: np.ndarray) -> np.ndarray:
        w = self.engines[name].state.w
        return shift(np.einsum("bji,bi->bj", w, pre), self.exponents[name])

    def run(self, batch: Batch, learn: bool = True) -> OnChipSample:
        """Stream one sequence per chip (the batch's samples, one per chip); learning on or off.  Compiled
        (:func:`neuroport.emulator.onchip_kernel.run_fused`), bit for bit :meth:`run_reference`."""
        from neuroport.emulator.onchip_kernel import run_fused

        readout, counts = run_fused(self, batch, learn)
        return OnChipSample(readout=readout, spikes=int(counts[:, 3].sum()))

    def evaluate(self, batch: Batch) -> np.ndarray:
        """Every chip, learning off, on every sample of ``batch``: readout (chips, samples, T, n_out)."""
        from neuroport.emulator.onchip_kernel import run_fused

        size = batch.size
        tiled = Batch(inputs=np.tile(batch.inputs, (self.batch, 1, 1)), targets=np.tile(batch.targets, (self.batch, 1, 1)),
                      loss_mask=np.tile(batch.loss_mask, (self.batch, 1)))
        readout, _ = run_fused(self, tiled, learn=False, chip=np.repeat(np.arange(self.batch), size))
        return readout.reshape(self.batch, size, *readout.shape[1:])

    def _scored(self, y: np.ndarray) -> np.ndarray:
        """What the error compares with the target: y itself (``error="mse"``), or with ``error="softmax"`` a
        hard softmax, π_k = clip(u/K + (y_k − ⌊Σ_l y_l / K⌋) >> 1, 0, u), u = round(target_scale) (for K = 2 the
        tangent of softmax at 0: ½ + (y_0 − y_1)/4), so ẽ ≈ π − y*, cross-entropy's error."""
        if self.rule.error == "mse":
            return y
        unit, k = int(round(self.rule.target_scale)), y.shape[1]
        return np.clip(unit // k + ((y - y.sum(axis=1, keepdims=True) // k) >> 1), 0, unit)

    def _rate_term(self, rate: np.ndarray, z: np.ndarray) -> np.ndarray | int:
        """Firing-rate regularization on the neuron (``reg_target`` > 0): the rate trace r̄ ← r̄ − (r̄ >> 8) +
        (z << 7) (r̄ ≈ spikes per step · 2^15, in place) and R = (r̄ − reg_target) >> reg_shift, added to L."""
        if not self.rule.reg_target:
            return 0
        rate += (z << RATE_IMPULSE_SHIFT) - (rate >> RATE_TAU_SHIFT)
        return (rate - self.rule.reg_target) >> self.rule.reg_shift

    def run_reference(self, batch: Batch, learn: bool = True) -> OnChipSample:
        """:meth:`run` in numpy, step by step through :class:`LearningEngine` — the readable specification."""
        g, rule, n = self.graph, self.rule, self.graph.n_rec
        x = batch.inputs.astype(np.int64)
        n_steps = x.shape[1]
        s = {k: np.zeros((self.batch, n), np.int64) for k in ("v", "a", "r", "z")}
        y = np.zeros((self.batch, g.n_out), np.int64)
        x_prev, err_prev = np.zeros_like(x[:, 0]), np.zeros((self.batch, g.n_out), np.int64)
        targets = np.round(batch.targets * rule.target_scale).astype(np.int64)
        readout = np.zeros((self.batch, n_steps, g.n_out), np.int64)
        for engine in self.engines.values():
            engine.reset_traces()
        spikes = 0
        vth_scaled = g.neurons.vth << VTH_SHIFT
        a_in, a_out = np.zeros((self.batch, n), np.int64), np.zeros((self.batch, g.n_out), np.int64)
        rate = np.zeros((self.batch, n), np.int64)
        for t in range(n_steps + 1):  # one step more: the readout of the last input arrives a step later
            z = step_alif(g.neurons, s, a_in, self.stats)
            free = (z > 0) | (s["r"] == 0)
            psi = np.maximum(0, PSI_MAX - ((np.abs(s["v"] - vth_scaled - s["a"]) * rule.psi_mult) >> PSI_SHIFT)) * free
            window = (batch.loss_mask[:, t - 2, None] if t >= 2 else 0) if rule.reg_window else 1  # ẽ[τ−1]'s window
            learning_signal = np.clip(((err_prev @ rule.feedback.T) >> rule.l_shift) + self._rate_term(rate, z) * window,
                                      -MESSAGE_MAX, MESSAGE_MAX)
            y = _saturate(decay12(y, g.readout.dy) + (a_out << ACT_SHIFT), self.stats, "y")
            err = np.zeros_like(y)
            if t >= 1:
                readout[:, t - 1] = y
                mask = batch.loss_mask[:, t - 1, None]
                err = np.clip((self._scored(y) - targets[:, t - 1]) >> rule.err_shift, -MESSAGE_MAX, MESSAGE_MAX) * mask
            s["z"] = z
            spikes += int(z.sum())
            x_now = x[:, t] if t < n_steps else np.zeros_like(x_prev)
            # the Dense outputs of the next step, from the weights before this step's learning (Lava's order)
            a_in = self._activation("w_in", x_now) + self._activation("w_rec", z)
            a_out = self._activation("w_out", z)
            if learn:
                post = np.stack([psi, learning_signal, psi * self.alif_y3])
                self.engines["w_in"].step(x_now, post)
                self.engines["w_rec"].step(z, post)
                out_signal = err >> rule.out_err_shift
                self.engines["w_out"].step(z, np.stack([out_signal, np.zeros_like(err), np.zeros_like(err)]))
            x_prev, err_prev = x_now, err
        return OnChipSample(readout=readout, spikes=spikes)
