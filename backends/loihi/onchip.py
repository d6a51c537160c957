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

import time
from dataclasses import dataclass

import numpy as np

from neuroport.emulator.onchip import OnChipRule, refuse_delays
from neuroport.errors import UnsupportedError
from neuroport.ir.fixed_graph import FixedDense, FixedGraph
from neuroport.tasks import Batch

from .host_io import attach, release, with_host_io
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
        self._attach_host_io(record_spikes)

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

    def _attach_host_io(self, record_spikes: bool) -> None:
        """Bulk access (:mod:`.host_io`) to what the host zeroes between sequences and to what it reads back."""
        self.io = {"neurons": attach(self.neurons, out=("z_rec",) if record_spikes else (),
                                     into=("v", "a", "r", "z", "rate")),
                   "readout": attach(self.readout, out=("y_rec",), into=("y",)),
                   "feedback": attach(self.feedback, into=("a_buff",)),
                   **{name: self._synapse_io(name, syn) for name, syn in self.synapses.items()}}

    def _synapse_io(self, name: str, synapse):
        """Host I/O of synapse matrix ``name``: its weights read, its :meth:`_learning_state` zeroed."""
        return attach(synapse, out=("weights",), into=self._learning_state(name))

    def _learning_state(self, name: str) -> tuple[str, ...]:
        """What the host zeroes between sequences at synapse matrix ``name``: its input buffer, and its traces and
        tags when it learns (an empty matrix is a plain Dense, see :func:`_learning_connection`)."""
        return ("a_buff", "x1", "x2", "tag_1", "tag_2") if self._learns(name) else ("a_buff",)

    def _run_cfg(self):
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.dense.models import PyDenseModelBitAcc, PyLearningDenseModelBitApproximate
        from lava.proc.dense.process import Dense, LearningDense
        from lava.proc.sparse.process import LearningSparse

        from .lava_procs.error_readout import NeuroportErrorReadout, PyNeuroportErrorReadoutModelFixed
        from .lava_procs.learning_alif import NeuroportLearningALIF, PyNeuroportLearningALIFModelFixed
        from .lava_procs.learning_sparse import PyLearningSparseModelFixed

        models = {NeuroportLearningALIF: PyNeuroportLearningALIFModelFixed, Dense: PyDenseModelBitAcc,
                  NeuroportErrorReadout: PyNeuroportErrorReadoutModelFixed,
                  LearningDense: PyLearningDenseModelBitApproximate, LearningSparse: PyLearningSparseModelFixed}
        models = {**models, **self._model_overrides(models)}
        return Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map={p: with_host_io(m) for p, m in models.items()})

    def _model_overrides(self, models: dict) -> dict:
        """{process class: model} replacing entries of ``models`` (none here; a subclass's hook)."""
        return {}

    def _reset_between_sequences(self) -> None:
        """Zero what the emulator zeroes between sequences (a host write on the chip), one bulk write per process."""
        for io in self.io.values():
            io.zero()

    def weights(self) -> dict[str, np.ndarray]:
        """The learned weights now (the runtime paused between sequences), dense (post, pre); absent synapses 0."""
        return {name: self.io[name].dump()["weights"].astype(np.int64) * self.masks[name] for name in self.synapses}

    def train(self, n_sequences: int, on_sequence=None, timings: dict | None = None) -> LavaOnChipResult:
        """Stream ``n_sequences`` sequences; ``on_sequence(k, self)`` after each (e.g. to read :meth:`weights`).
        ``timings`` (if given) receives the seconds of runtime start-up, Lava's simulation loop and host I/O
        (resets between sequences and the final readback; ``on_sequence`` is in none of them)."""
        clock = {"startup_s": 0.0, "loop_s": 0.0, "io_s": 0.0}
        t = time.perf_counter()
        try:
            with lava_session(self.neurons, self._run_cfg()):
                clock["startup_s"] = time.perf_counter() - t
                for k in range(n_sequences):
                    t = time.perf_counter()
                    run_steps(self.neurons, self.n_steps)
                    clock["loop_s"] += time.perf_counter() - t
                    t = time.perf_counter()
                    self._reset_between_sequences()
                    clock["io_s"] += time.perf_counter() - t
                    if on_sequence:
                        on_sequence(k, self)
                t = time.perf_counter()
                weights = self.weights()
                y = self.io["readout"].dump()["y_rec"].reshape(n_sequences, self.n_steps, -1)[:, 1:]
                z = self.io["neurons"].dump().get("z_rec")
                z = z.reshape(n_sequences, self.n_steps, -1) if z is not None and len(z) == n_sequences * self.n_steps \
                    else np.zeros((0, self.n_steps, self.neurons.v.shape[0]), np.int64)
                clock["io_s"] += time.perf_counter() - t
        finally:
            for io in self.io.values():
                release(io)
        if timings is not None:
            timings.update(clock)
        return LavaOnChipResult(weights=weights, readout=y, spikes=z)


def train_on_loihi_sim(graph: FixedGraph, rule: OnChipRule, batch: Batch, tau_m_steps: float, tau_out_steps: float,
                       on_sequence=None) -> LavaOnChipResult:
    """Stream the sequences of ``batch`` one after another through one learning chip on loihi-sim."""
    network = LavaOnChipNetwork(graph, rule, batch, tau_m_steps, tau_out_steps)
    return network.train(batch.size, on_sequence)
