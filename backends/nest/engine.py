"""``neuroport train --engine nest``: train a FloatGraph with NEST's own e-prop models (``*_bsshslm_2020``; for
``learning.variant: eprop_plus`` NEST's e-prop+ models, :mod:`.engine_plus`, chosen by :data:`NEST_TRAINERS`).

This is the independent reference the numpy trainer is held to.  :func:`nest_spec` lowers a network, its
e-prop rule and a list of batches to plain arrays (NEST's units and parameter names); :mod:`.runner` builds and
runs the NEST network from them in a subprocess; :func:`train_nest` draws exactly the batches
:func:`neuroport.training.eprop.train_eprop` draws for the same seed and reads back per-iteration losses and the
final weights.

Mapping (neuroport → NEST):
    LIF (β = 0) → ``eprop_iaf_bsshslm_2020``; ALIF → ``eprop_iaf_adapt_bsshslm_2020`` (adapt_beta = β,
    adapt_tau = τ_a); readout → ``eprop_readout_bsshslm_2020`` (MSE → mean_squared_error, cross-entropy →
    cross_entropy); surrogate height h = γ / v_th and width w = v_th / β_surrogate; ``regular_spike_arrival``
    per neuron and readout as the model sets it (False: NEST's input factor ζ = 1 − α / 1 − κ, the network's
    ``input_scale_rec`` / ``input_scale_out``); E_L = 0, C_m = 1; one update interval per sequence;
    the task's loss window (a suffix of every sequence) → ``eprop_learning_window``; random feedback B →
    ``eprop_learning_signal_connection_bsshslm_2020``; SGD → gradient_descent, Adam → adam.

What NEST's bsshslm_2020 models cannot express is refused with the reason (:func:`refusals`): symmetric and
adaptive feedback (NEST's feedback weights are fixed), weight decay, per-readout time constants (the e-prop
synapse has one ``tau_m_readout``), loss windows that are not a suffix of equal length in every sequence.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from neuroport.errors import ModelError, NeuroportError
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.learning_rule import EpropRule
from neuroport.ir.network import Network, assemble, with_weights
from neuroport.tasks import Batch
from neuroport.training.eprop import (
    IterationStats,
    TrainedWeights,
    TrainResult,
    draw_batches,
    nest_loss,
    rule_of,
)

NEST_OPTIMIZERS = {"sgd": "gradient_descent", "adam": "adam"}
# learning.variant → NEST trainer ("module:function", imported when used): bsshslm_2020 here, e-prop+ in engine_plus
NEST_TRAINERS = {
    "bsshslm_2020": "neuroport.backends.nest.engine:nest_train_on_batches",
    "eprop_plus": "neuroport.backends.nest.engine_plus:nest_plus_train_on_batches",
}


def refusals(net: Network, rule: EpropRule) -> list[str]:
    """Why this network and rule cannot be trained by NEST's bsshslm_2020 models (empty: it can)."""
    reasons = []
    if rule.feedback != "random":
        reasons.append(f"learning.feedback '{rule.feedback}': NEST's learning-signal connections have fixed weights, "
                       "so only random feedback can be expressed")
    if rule.weight_decay:
        reasons.append("learning.weight_decay: NEST's e-prop optimizers have no weight decay")
    if rule.optimizer.decays:
        reasons.append("learning.optimizer.decay: NEST's e-prop optimizers keep the learning rate constant")
    if np.unique(net.tau_out_ms).size != 1:
        reasons.append("readout time constants differ: NEST's e-prop synapse has one tau_m_readout")
    if not np.all(net.w_out_plastic == net.w_out_mask) or not np.all(net.w_in_plastic == net.w_in_mask) \
            or not np.all(net.w_rec_plastic == net.w_rec_mask):
        reasons.append("frozen projections: every NEST e-prop synapse learns")
    if rule.rewiring is not None:
        reasons.append("learning.rewiring: NEST's e-prop synapses have a fixed connectivity (no DEEP R)")
    if net.delays is not None:
        reasons.append("projections[].delay_steps: NEST's e-prop synapses need a delay of exactly one step")
    return reasons


def regular_arrival(scale: np.ndarray | None, size: int) -> np.ndarray:
    """NEST's ``regular_spike_arrival`` per neuron from the network's input scale ζ (None: all True)."""
    return np.full(size, True) if scale is None else scale == 1.0


def learning_window(batches: list[Batch]) -> int:
    """The loss window as NEST expresses it: the last W steps of every sequence."""
    windows = set()
    for batch in batches:
        for mask in batch.loss_mask:
            first = int(np.argmax(mask)) if mask.any() else mask.size
            if not mask[first:].all():
                raise ModelError("NEST counts the error in the last steps of each sequence only; this task's loss "
                                 "mask is not a suffix of the sequence", path="task")
            windows.add(mask.size - first)
    if len(windows) != 1:
        raise ModelError(f"NEST needs one learning window for all sequences, got {sorted(windows)} steps", path="task")
    return windows.pop()


def nest_spec(net: Network, rule: EpropRule, batches: list[Batch], *, threads: int = 1,
              record_recurrent: bool = False) -> tuple[dict[str, np.ndarray], dict]:
    """Plain arrays and settings for :mod:`.runner` (see the module docstring for the mapping)."""
    reasons = refusals(net, rule)
    if reasons:
        raise NeuroportError("NEST's e-prop models cannot train this model: " + "; ".join(reasons))
    inputs = np.concatenate([b.inputs for b in batches]).astype(np.uint8)
    spec = {
        "inputs": inputs, "targets": np.concatenate([b.targets for b in batches]).astype(np.float64),
        "w_in": net.w_in, "w_rec": net.w_rec, "w_out": net.w_out, "feedback": rule.feedback_weights,
        "w_in_mask": net.w_in_mask, "w_rec_mask": net.w_rec_mask, "w_out_mask": net.w_out_mask,
        "tau_m_ms": net.tau_m_ms, "v_th": net.v_th, "t_ref_ms": net.t_ref_ms,
        "surrogate_height": net.surrogate_gamma / net.v_th, "surrogate_width": net.v_th / net.surrogate_beta,
        "adaptive": net.beta != 0, "adapt_beta": net.beta, "adapt_tau_ms": net.tau_a_ms, "tau_out_ms": net.tau_out_ms,
        "regular_spike_arrival": regular_arrival(net.input_scale_rec, net.n_rec),
        "readout_regular_spike_arrival": regular_arrival(net.input_scale_out, net.n_out),
    }
    opt = rule.optimizer
    meta = {"dt_ms": net.dt_ms, "sequence_steps": int(inputs.shape[1]), "loss": net.loss,
            "learning_window_steps": learning_window(batches), "c_reg": rule.c_reg,
            "f_target_hz": rule.f_target_hz, "surrogate_function": net.surrogate_function,
            "optimizer": NEST_OPTIMIZERS[opt.name], "batch_size": batches[0].size, "learning_rate": opt.learning_rate,
            "beta1": opt.beta1, "beta2": opt.beta2, "epsilon": opt.epsilon, "weight_min": rule.weight_min,
            "weight_max": rule.weight_max, "average_gradient": rule.average_gradient, "threads": threads,
            "record_recurrent": record_recurrent}
    return spec, meta


def run_nest(spec: dict[str, np.ndarray], meta: dict, *, timeout_s: float | None = None,
             runner: str = "neuroport.backends.nest.runner", ranks: int = 1) -> dict[str, np.ndarray]:
    """Run ``runner`` (:mod:`.runner`, or :mod:`.runner_plus` for e-prop+) in a subprocess, or under ``mpirun`` on
    ``ranks`` MPI ranks (:mod:`.mpi`; :mod:`.runner` writes the ranks' shares); return what it saved (the ranks' shares merged)."""
    from neuroport.backends.nest import mpi

    launch = mpi.require_mpi(ranks) if ranks > 1 else []
    with tempfile.TemporaryDirectory(prefix="neuroport-nest-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.npz", Path(tmp) / "out.npz"
        np.savez(spec_path, meta=json.dumps(meta), **spec)
        proc = subprocess.run([*launch, sys.executable, "-m", runner, str(spec_path), str(out_path)],
                              capture_output=True, text=True, timeout=timeout_s, env=mpi.runner_env())
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise NeuroportError(f"NEST run failed (exit {proc.returncode}):\n{tail}")
        if ranks > 1:
            from neuroport.backends.nest.runner import assemble as assemble_ranks
            from neuroport.backends.nest.runner import merge_ranks

            return assemble_ranks(merge_ranks(mpi.rank_outputs(out_path, ranks)), *spec["inputs"].shape[:2])
        with np.load(out_path) as data:
            return {k: data[k] for k in data.files}


def sequence_losses(loss: str, readout: np.ndarray, batches: list[Batch]) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence loss and misclassification from NEST's readout signals (y for MSE, softmax π for
    cross-entropy), over each sequence's loss mask — the numbers :func:`~neuroport.training.gradients.output_error`
    computes for the numpy engine."""
    mask = np.concatenate([b.loss_mask for b in batches])[..., None]
    targets = np.concatenate([b.targets for b in batches])
    if loss == "mse":
        return 0.5 * np.sum(((readout - targets) * mask) ** 2, axis=(1, 2)), np.zeros(len(mask), dtype=bool)
    log_pi = np.log(readout + 1e-12)
    labels = np.concatenate([b.labels for b in batches])
    wrong = np.argmax(np.sum(log_pi * mask, axis=1), axis=1) != labels  # Σ_t log π ranks classes as Σ_t y does
    return -np.sum(mask * targets * log_pi, axis=(1, 2)), wrong


def nest_train_on_batches(net: Network, rule: EpropRule, batches: list[Batch], *, threads: int = 1, ranks: int = 1,
                          on_iteration: Callable[[IterationStats], None] | None = None) -> TrainedWeights:
    """Train in NEST (``ranks`` MPI ranks × ``threads`` threads each), one update interval per sequence and one
    optimizer step per batch (the numbers :func:`~neuroport.training.eprop.train_on_batches` computes)."""
    out = run_nest(*nest_spec(net, rule, batches, threads=threads), ranks=ranks)
    losses, wrong = sequence_losses(net.loss, out["readout_signal"], batches)
    history, start = [], 0
    for it, batch in enumerate(batches):
        part = slice(start, start + batch.size)
        start += batch.size
        error = float(wrong[part].mean()) if net.loss == "cross_entropy" else float("nan")
        rate = float(out["spike_counts"][part].sum() / (batch.size * net.n_rec * batch.n_steps) * 1e3 / net.dt_ms)
        stats = IterationStats(it, float(losses[part].mean()), error, rate,
                               nest_loss=nest_loss(net.loss, float(losses[part].sum()), batch, net.n_out))
        history.append(stats)
        if on_iteration:
            on_iteration(stats)
    return TrainedWeights({name: out[name] for name in ("w_in", "w_rec", "w_out")}, rule.feedback_weights, history)


def train_nest(graph: FloatGraph, iterations: int, *, seed: int | None = None, batch_size: int | None = None,
               threads: int = 1, ranks: int = 1,
               on_iteration: Callable[[IterationStats], None] | None = None) -> TrainResult:
    """Train ``graph`` in NEST (``ranks`` MPI ranks × ``threads`` threads) on the batches ``train_eprop`` would
    draw with the same seed."""
    batches = draw_batches(graph, iterations, seed=seed, batch_size=batch_size)
    rule = rule_of(graph)
    if rule.variant not in NEST_TRAINERS:
        raise ModelError(f"--engine nest trains variants {', '.join(NEST_TRAINERS)}, not '{rule.variant}'",
                         path="learning.variant")
    module, name = NEST_TRAINERS[rule.variant].split(":")
    train_on = getattr(importlib.import_module(module), name)
    ranks_arg = {"ranks": ranks} if ranks > 1 else {}  # e-prop+ (engine_plus) runs in one process
    if ranks > 1 and rule.variant != "bsshslm_2020":
        raise ModelError(f"--ranks {ranks}: NEST's e-prop+ models train in one process here (--threads)",
                         path="learning.variant")
    result = train_on(assemble(graph, reset_kinds=rule.variant == "eprop_plus"), rule, batches, threads=threads,
                      on_iteration=on_iteration, **ranks_arg)
    w = result.weights
    return TrainResult(with_weights(graph, w["w_in"], w["w_rec"], w["w_out"]), result.history)
