"""On-chip e-prop on loihi-sim: the process graph of :mod:`.graph` with learning synapses, run on Lava's CPU
simulation; it must end with the weights of :class:`neuroport.emulator.onchip.OnChipTrainer` (one chip), bit for bit.

    RingBuffer(x) ─LearningDense(w_in)──► NeuroportLearningALIF ──LearningDense(w_out)──► NeuroportErrorReadout
                                  ▲  │ ▲ └─LearningDense(w_rec)─┘      y1 = ψ, y2 = L             │ y1 = ẽ >> out_err_shift
                                  │  └─┴──────────── y1, y2 to w_in and w_rec                      │
                                  └──────────── a_third ◄── Dense(B), 8-bit graded messages ◄── s_err (ẽ)

Lava's own: RingBuffer, Dense(B), and the learning synapses with Lava's learning engine (``LearningDense``, or
``LearningSparse`` for a matrix with absent synapses, e.g. no autapses, so that they stay absent) running the
rule strings of :meth:`OnChipRule.engines`.  neuroport's: the learning neuron and the error readout
(:mod:`.lava_procs`).  The chip streams sequences one after another; between two sequences the host zeroes the
neuron, readout and trace states and the Dense buffers, as the emulator does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroport.emulator.onchip import OnChipRule, refuse_delays
from neuroport.errors import UnsupportedError
from neuroport.ir.fixed_graph import FixedDense, FixedGraph
from neuroport.tasks import Batch

from .runner import _import_lava, lava_session, run_steps

FEEDBACK_MESSAGE_BITS = 8


@dataclass
class LavaOnChipResult:
    weights: dict[str, np.ndarray]  # learned mantissas (post, pre)
    readout: np.ndarray  # (n_sequences, n_steps, n_out) integers, the emulator's alignment
    spikes: np.ndarray  # (n_sequences, n_steps + 1, n_rec)


def target_table(batch: Batch, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the readout's target table, one per chip step: per sequence a first step without error, then the
    targets (in readout units) and loss mask of each step."""
    targets = np.round(batch.targets * scale).astype(np.int64)
    pad = np.zeros((batch.size, 1, targets.shape[2]), np.int64)
    table = np.concatenate([pad, targets], axis=1).reshape(-1, targets.shape[2])
    active = np.concatenate([np.zeros((batch.size, 1), bool), batch.loss_mask], axis=1).reshape(-1)
    return table, active.astype(np.int64)


SOFTMAX_UNIT = {"mse": lambda rule: 0, "softmax": lambda rule: int(round(rule.target_scale))}


def regularization_window(batch: Batch, gated: bool) -> np.ndarray:
    """Per chip step, whether the rate term joins L: always, or (``reg_window``) where the error that reaches the
    neurons this step was scored — the loss mask two steps back."""
    if not gated:
        return np.ones(batch.size * (batch.n_steps + 1), np.int64)
    lag = np.zeros((batch.size, 2), bool)
    return np.concatenate([lag, batch.loss_mask[:, :-1]], axis=1).reshape(-1).astype(np.int64)


def input_table(batch: Batch) -> np.ndarray:
    """(n_in, n_sequences · (n_steps + 1)) spikes: each sequence followed by one silent step."""
    x = np.concatenate([batch.inputs, np.zeros((batch.size, 1, batch.inputs.shape[2]), batch.inputs.dtype)], axis=1)
    return x.reshape(-1, x.shape[2]).T.astype(np.int32)


def _learning_connection(dense: FixedDense, rule):
    """LearningDense for a full matrix; LearningSparse with the mask as its (explicit-zero) structure otherwise,
    both in mixed sign mode (learned weights may change sign; see neuroport.emulator.loihi_learning).  A matrix
    without any synapse has nothing to learn: it is a plain Dense of zeros, no learning process (Lava's
    LearningSparse cannot hold an empty structure)."""
    from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
    from lava.proc.dense.process import Dense, LearningDense
    from lava.proc.sparse.process import LearningSparse
    from lava.utils.weightutils import SignMode
    from scipy.sparse import csr_matrix

    if not dense.mask.any():
        return Dense(weights=np.zeros(dense.weights.shape, np.int32), num_message_bits=0)
    kwargs = dict(weight_exp=dense.weight_exp, num_weight_bits=dense.num_weight_bits, num_message_bits=0,
                  sign_mode=SignMode.MIXED, learning_rule=Loihi3FLearningRule(**rule.lava_kwargs()))
    if dense.mask.all():
        return LearningDense(weights=dense.weights.astype(np.int32), **kwargs)
    rows, cols = np.nonzero(dense.mask)
    structure = lambda values: csr_matrix((values, (rows, cols)), shape=dense.weights.shape)  # noqa: E731
    zeros = np.zeros(len(rows), np.int32)
    return LearningSparse(weights=structure(dense.weights[rows, cols].astype(np.int32)), tag_1=structure(zeros),
                          tag_2=structure(zeros), **kwargs)


def _zeros_like(values):
    """Zeros with the (explicit-zero) structure of a sparse matrix, or a dense zero array."""
    from lava.utils.sparse import find
    from scipy.sparse import csr_matrix, issparse

    if not issparse(values):
        return np.zeros(np.shape(values))
    rows, cols, _ = find(values, explicit_zeros=True)
    return csr_matrix((np.zeros(len(rows)), (rows, cols)), shape=values.shape)


def _learned_weights(connection, mask: np.ndarray) -> np.ndarray:
    """The weights of a learning connection as a dense (post, pre) array.  For LearningSparse, read the stored
    values directly: ``Var.get`` drops the explicit zeros of the structure and then fails.  An empty matrix: 0."""
    if not mask.any():
        return np.zeros(mask.shape, np.int64)
    if mask.all():
        return np.asarray(connection.weights.get()).astype(np.int64)
    values = np.zeros(mask.shape, np.int64)
    values[np.nonzero(mask)] = connection.runtime.get_var(connection.weights.id)
    return values


class LavaOnChipNetwork:
    """The learning process graph for one chip; :meth:`train` streams a batch of sequences through it."""

    def __init__(self, graph: FixedGraph, rule: OnChipRule, batch: Batch, tau_m_steps: float, tau_out_steps: float,
                 record_spikes: bool = True):
        _import_lava()
        from lava.proc.dense.process import Dense
        from lava.proc.io.source import RingBuffer

        from .lava_procs.error_readout import NeuroportErrorReadout
        from .lava_procs.learning_alif import NeuroportLearningALIF

        refuse_delays(graph)
        if np.any(rule.feedback % 2):
            raise UnsupportedError("Lava's Dense holds mixed-sign 8-bit weights even-only: the feedback matrix B "
                                   "must be even to run on loihi-sim")
        self.n_steps = batch.n_steps + 1
        total = batch.size * self.n_steps
        n = graph.neurons
        self.source = RingBuffer(data=input_table(batch))
        alif_y3 = ((np.asarray(n.a_inc) > 0) & (rule.alif_impulse > 0)).astype(np.int64)
        self.neurons = NeuroportLearningALIF(dv=n.dv, vth=n.vth, da=n.da, a_inc=n.a_inc, n_ref=n.n_ref,
                                             psi_mult=rule.psi_mult, l_shift=rule.l_shift, n_steps=total, alif_y3=alif_y3,
                                             record_steps=total if record_spikes else 0,
                                             reg=(rule.reg_target, rule.reg_shift, int(rule.reg_target != 0)),
                                             window=regularization_window(batch, rule.reg_window))
        targets, active = target_table(batch, rule.target_scale)
        self.readout = NeuroportErrorReadout(dy=graph.readout.dy, targets=targets, active=active, err_shift=rule.err_shift,
                                             out_err_shift=rule.out_err_shift, softmax_unit=SOFTMAX_UNIT[rule.error](rule))
        rules = rule.engines(tau_m_steps, tau_out_steps)
        self.masks = {name: d.mask for name, d in graph.dense().items()}
        self.synapses = {name: _learning_connection(d, rules[name]) for name, d in graph.dense().items()}
        self.feedback = Dense(weights=rule.feedback.astype(np.int32), num_message_bits=FEEDBACK_MESSAGE_BITS)
        self._connect()

    def _learns(self, name: str) -> bool:
        return bool(self.masks[name].any())

    def _connect(self) -> None:
        syn, neurons, readout = self.synapses, self.neurons, self.readout
        self.source.s_out.connect(syn["w_in"].s_in)
        for name in ("w_in", "w_rec"):
            syn[name].a_out.connect(neurons.a_in)
            for k in (1, 2, 3) if self._learns(name) else ():
                getattr(neurons, f"s_out_y{k}").connect(getattr(syn[name], f"s_in_y{k}"))
        neurons.s_out.connect(syn["w_rec"].s_in)
        neurons.s_out.connect(syn["w_out"].s_in)
        syn["w_out"].a_out.connect(readout.a_in)
        for k in (1, 2, 3) if self._learns("w_out") else ():
            getattr(readout, f"s_out_y{k}").connect(getattr(syn["w_out"], f"s_in_y{k}"))
        readout.s_err.connect(self.feedback.s_in)
        self.feedback.a_out.connect(neurons.a_third)

    def _reset_between_sequences(self) -> None:
        """Zero what the emulator zeroes between sequences (a host write on the chip)."""
        for var in (self.neurons.v, self.neurons.a, self.neurons.r, self.neurons.z, self.neurons.rate, self.readout.y,
                    self.feedback.a_buff):
            var.set(np.zeros(var.shape))
        for key, syn in self.synapses.items():
            syn.a_buff.set(np.zeros(syn.a_buff.shape))
            if not self._learns(key):
                continue
            for name in ("x1", "x2"):
                getattr(syn, name).set(np.zeros(getattr(syn, name).shape))
            for name in ("tag_1", "tag_2"):
                var = getattr(syn, name)
                var.set(_zeros_like(var.init))

    def weights(self) -> dict[str, np.ndarray]:
        """The learned weights now (the runtime paused between sequences)."""
        return {name: _learned_weights(syn, self.masks[name]) for name, syn in self.synapses.items()}

    def train(self, n_sequences: int, on_sequence=None) -> LavaOnChipResult:
        """Stream ``n_sequences`` sequences; ``on_sequence(k, self)`` after each (e.g. to read :meth:`weights`)."""
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.sparse.process import LearningSparse

        from .lava_procs.learning_sparse import PyLearningSparseModelFixed

        run_cfg = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map={LearningSparse: PyLearningSparseModelFixed})
        with lava_session(self.neurons, run_cfg):
            for k in range(n_sequences):
                run_steps(self.neurons, self.n_steps)
                self._reset_between_sequences()
                if on_sequence:
                    on_sequence(k, self)
            weights = self.weights()
            y = self.readout.y_rec.get().astype(np.int64).reshape(n_sequences, self.n_steps, -1)[:, 1:]
            z = self.neurons.z_rec.get().astype(np.int64)
            z = z.reshape(n_sequences, self.n_steps, -1) if len(z) == n_sequences * self.n_steps else z[:0]
        return LavaOnChipResult(weights=weights, readout=y, spikes=z)


def train_on_loihi_sim(graph: FixedGraph, rule: OnChipRule, batch: Batch, tau_m_steps: float, tau_out_steps: float,
                       on_sequence=None) -> LavaOnChipResult:
    """Stream the sequences of ``batch`` one after another through one learning chip on loihi-sim."""
    network = LavaOnChipNetwork(graph, rule, batch, tau_m_steps, tau_out_steps)
    return network.train(batch.size, on_sequence)
