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
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from neuroport.emulator.fixed import ACT_SHIFT, VTH_SHIFT, ActivityStats, _saturate, step_alif
from neuroport.emulator.loihi_learning import LearningEngine, LearningRule, Product
from neuroport.ir.fixed_graph import FixedGraph
from neuroport.numerics import decay12, shift
from neuroport.tasks import Batch

PSI_MAX = 127
PSI_SHIFT = 16
MESSAGE_MAX = 127  # 8-bit graded messages
FEEDBACK_SCALE = 32  # B ~ N(0, 1) → 8-bit mantissas
X1_IMPULSE = 16


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

    def engines(self, tau_m_steps: float, tau_out_steps: float) -> dict[str, LearningRule]:
        tag = (Product(("x1", "y1"), 1, -7), Product(("t",), -3, -6))
        weight = (Product(("t", "y2"), -self.w_mantissa, self.w_exponent),)
        out = (Product(("x1", "y1"), -self.out_mantissa, self.out_exponent),)
        hidden = LearningRule(dt=tag, dw=weight, x1_impulse=self.hidden_impulse, x1_tau=int(round(tau_m_steps)),
                              rng_seed=self.seed)
        return {"w_in": hidden, "w_rec": replace(hidden, rng_seed=self.seed + 10),
                "w_out": LearningRule(dw=out, x1_impulse=self.out_impulse, x1_tau=int(round(tau_out_steps)), rng_seed=self.seed + 20)}


def default_rule(graph: FixedGraph, feedback_float: np.ndarray, beta_surrogate: np.ndarray, **rates) -> OnChipRule:
    """ψ slope from the float surrogate width (ψ reaches 0 at |v − A| = v_th / β), 8-bit feedback, error and
    learning-signal shifts that put an error of 1 (float units) near 64 and a typical L near 64."""
    vth_scaled = (graph.neurons.vth << VTH_SHIFT).astype(np.float64)
    psi_mult = np.round(PSI_MAX * beta_surrogate * 2**PSI_SHIFT / np.maximum(vth_scaled, 1)).astype(np.int64)
    err_shift = max(0, int(np.floor(np.log2(max(graph.v_scale, 1.0)))) - 6)
    feedback = np.clip(np.round(feedback_float * FEEDBACK_SCALE), -MESSAGE_MAX, MESSAGE_MAX).astype(np.int64)
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
        self.graph, self.rule, self.batch = graph, rule, batch
        dense = graph.dense()
        self.exponents = {name: d.weight_exp for name, d in dense.items()}
        rules = rule.engines(tau_m_steps, tau_out_steps)
        self.engines = {name: LearningEngine(rules[name], dense[name].weights, batch, dense[name].mask) for name in dense}
        self.stats = ActivityStats.empty(graph, batch, 0)

    def weights(self, name: str) -> np.ndarray:
        return self.engines[name].state.w

    def _activation(self, name: str, pre: np.ndarray) -> np.ndarray:
        w = self.engines[name].state.w
        return shift(np.einsum("bji,bi->bj", w, pre), self.exponents[name])

    def run(self, batch: Batch, learn: bool = True) -> OnChipSample:
        """Stream one sequence per chip (the batch's samples, one per chip); learning on or off."""
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
        for t in range(n_steps + 1):  # one step more: the readout of the last input arrives a step later
            z_prev = s["z"]
            a_in = self._activation("w_in", x_prev) + self._activation("w_rec", z_prev)
            a_out = self._activation("w_out", z_prev)
            z = step_alif(g.neurons, s, a_in, self.stats)
            free = (z > 0) | (s["r"] == 0)
            psi = np.maximum(0, PSI_MAX - ((np.abs(s["v"] - vth_scaled - s["a"]) * rule.psi_mult) >> PSI_SHIFT)) * free
            learning_signal = np.clip((err_prev @ rule.feedback.T) >> rule.l_shift, -MESSAGE_MAX, MESSAGE_MAX)
            y = _saturate(decay12(y, g.readout.dy) + (a_out << ACT_SHIFT), self.stats, "y")
            err = np.zeros_like(y)
            if t >= 1:
                readout[:, t - 1] = y
                mask = batch.loss_mask[:, t - 1, None]
                err = np.clip((y - targets[:, t - 1]) >> rule.err_shift, -MESSAGE_MAX, MESSAGE_MAX) * mask
            s["z"] = z
            spikes += int(z.sum())
            x_now = x[:, t] if t < n_steps else np.zeros_like(x_prev)
            if learn:
                post = np.stack([psi, learning_signal, np.zeros_like(psi)])
                self.engines["w_in"].step(x_now, post)
                self.engines["w_rec"].step(z, post)
                out_signal = err >> rule.out_err_shift
                self.engines["w_out"].step(z, np.stack([out_signal, np.zeros_like(err), np.zeros_like(err)]))
            x_prev, err_prev = x_now, err
        return OnChipSample(readout=readout, spikes=spikes)
