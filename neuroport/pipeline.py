"""The chain, one pass, one direction: load → quantize → emulate → compare → report.  The CLI calls these.

Each function is pure: it takes the objects of the previous stage and returns new ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from neuroport.emulator.fixed import emulate
from neuroport.emulator.float_run import simulate_graph
from neuroport.emulator.spinnaker import emulate_spinnaker
from neuroport.emulator.trace import ActivityStats, Trace
from neuroport.errors import NeuroportError, UnsupportedError
from neuroport.hw import HwConfig
from neuroport.ir.fixed_graph import FixedGraph
from neuroport.ir.float_graph import FloatGraph
from neuroport.mapping import map_graph, refuse_oversized_fan_in
from neuroport.reporters.energy import EnergyReport, energy_report
from neuroport.reporters.neurobench import NeuroBenchMetrics, float_metrics, neurobench_metrics
from neuroport.tasks import Batch, task_of

CALIBRATION_SAMPLES = 4  # task sequences simulated in float to calibrate the fixed-point ranges
CALIBRATION_SEED = 777  # distinct from the verification seed, so calibration never sees the test data


def _quantizers() -> dict[str, Callable[..., FixedGraph]]:
    from neuroport.quantization.loihi import quantize_loihi
    from neuroport.quantization.spinnaker import quantize_spinnaker

    return {"loihi": quantize_loihi, "spinnaker": quantize_spinnaker}


EMULATORS: dict[str, Callable[..., tuple[Trace, ActivityStats]]] = {"loihi": emulate, "spinnaker": emulate_spinnaker}


def emulate_fixed(fixed: Any, inputs: np.ndarray, probe_states: bool = False) -> tuple[Trace, ActivityStats]:
    """Run the bit-accurate emulator of the graph's numeric profile (Loihi or SpiNNaker s16.15); a graph in the
    sparse form runs on the event-driven engine (:func:`neuroport.emulator.sparse.emulate_sparse`, bit for bit
    the dense one)."""
    if getattr(fixed, "is_sparse", False):
        if any(d.max_delay > 1 for d in fixed.dense().values()):  # delays: the dense engine's ring buffer
            return EMULATORS[fixed.profile](fixed.to_dense(), inputs, probe_states=probe_states)
        from neuroport.emulator.sparse import emulate_sparse

        return emulate_sparse(fixed, inputs, probe_states=probe_states)
    return EMULATORS[fixed.profile](fixed, inputs, probe_states=probe_states)


def quant_errors(graph: FloatGraph, fixed: Any) -> list[Any]:
    """Per-tensor quantization error, by numeric profile."""
    from neuroport.quantization.report import quant_report
    from neuroport.quantization.spinnaker import spinnaker_quant_report

    return {"loihi": quant_report, "spinnaker": spinnaker_quant_report}[fixed.profile](graph, fixed)


class LossyQuantizationError(NeuroportError):
    """Quantization lost a tensor (error above the bound, all zeros, a zero scale, NaN)."""


def quantization_losses(graph: FloatGraph, fixed: Any) -> list[str]:
    """One message per tensor that quantization lost (quantization.report.TensorError.lost), else []."""
    return [e.loss_message() for e in quant_errors(graph, fixed) if e.lost()]


def quantize(graph: FloatGraph, hw: HwConfig, calibrate: bool = True, allow_lossy: bool = False) -> FixedGraph:
    """FloatGraph → FixedGraph with the numeric profile of the config's family, calibrated on the model's task
    data (``CALIBRATION_SAMPLES`` float runs) when the model has a task.

    A tensor the quantization loses (relative RMS error above ``quantization.report.LOSS_BOUND``, every value
    rounded to 0, a zero or non-finite scale) is a :class:`LossyQuantizationError` naming it, its float range and
    what the format can represent — unless ``allow_lossy``, where the caller reports :func:`quantization_losses`."""
    table = _quantizers()
    if hw.family not in table:
        raise UnsupportedError(f"no quantizer for the '{hw.family}' family yet (config {hw.name}); available: {', '.join(table)}")
    inputs = task_batch(graph, CALIBRATION_SAMPLES, CALIBRATION_SEED).inputs if calibrate and graph.task else None
    fixed = table[hw.family](graph, hw, calibration_inputs=inputs)
    losses = [] if allow_lossy else quantization_losses(graph, fixed)
    if losses:
        raise LossyQuantizationError(f"{hw.name} cannot hold {len(losses)} tensor(s) of {graph.name!r}: " + "; ".join(losses)
                                     + " — change the model, or pass --allow-lossy to go on anyway")
    return fixed


def task_batch(graph: FloatGraph, n_samples: int, seed: int) -> Batch:
    """A seeded batch of the model's task (the same data for every engine), refused before it is drawn when the
    memory it and the runs on it need exceed the limit (:mod:`neuroport.resources`)."""
    from neuroport.ir.preflight import graph_sizes
    from neuroport.resources import estimate, require

    require(estimate(graph_sizes(graph, batch=n_samples, batch_field="--samples")))
    return task_of(graph).batch(np.random.default_rng(seed), n_samples)


def score(loss: str, readout: np.ndarray, batch: Batch) -> dict[str, float]:
    """Accuracy (classification: class with the largest readout summed over the loss window) or MSE."""
    if loss == "cross_entropy":
        evidence = np.sum(readout * batch.loss_mask[..., None], axis=1)
        return {"accuracy": float(np.mean(np.argmax(evidence, axis=1) == batch.labels))}
    err = (readout - batch.targets) * batch.loss_mask[..., None]
    return {"mse": float(np.sum(err**2) / max(np.count_nonzero(batch.loss_mask) * readout.shape[2], 1))}


@dataclass(frozen=True, eq=False)
class Comparison:
    """Float reference vs fixed-point emulator on the same task data."""

    float_score: dict[str, float]
    fixed_score: dict[str, float]
    spike_agreement: float  # fraction of (sample, step, neuron) with equal spikes
    float_rate_hz: float
    fixed_rate_hz: float
    stats: ActivityStats
    fixed_trace: Trace

    def drop(self) -> dict[str, float]:
        """Accuracy drop in percentage points, or relative MSE increase in percent."""
        if "accuracy" in self.float_score:
            return {"accuracy_drop_pp": 100 * (self.float_score["accuracy"] - self.fixed_score["accuracy"])}
        f, q = self.float_score["mse"], self.fixed_score["mse"]
        return {"mse_increase_pct": 100 * (q - f) / f if f > 0 else float("inf")}

    def to_dict(self) -> dict[str, Any]:
        return {"float": self.float_score, "fixed": self.fixed_score, **self.drop(),
                "spike_agreement": self.spike_agreement, "float_rate_hz": self.float_rate_hz,
                "fixed_rate_hz": self.fixed_rate_hz, "saturation_events": dict(self.stats.overflow)}


def compare(graph: FloatGraph, fixed: FixedGraph, batch: Batch) -> Comparison:
    """Run the float reference and the emulator on ``batch`` and score both.

    On the chip the readout's Dense delays spikes by one step, so the emulator's readout at step t + 1 is the
    counterpart of the float readout y[t]: the emulator runs one step longer (with no input) and its readout is
    scored from its second step on; its spikes are compared over the sequence.
    """
    run = simulate_graph(graph, batch.inputs)  # the float model of the graph's neuron model
    padded = np.concatenate([batch.inputs, np.zeros_like(batch.inputs[:, :1])], axis=1)
    trace, stats = emulate_fixed(fixed, padded)
    with np.errstate(divide="ignore", invalid="ignore"):  # v_scale 0 only under --allow-lossy, reported there
        y_fixed = trace.readout[:, 1:] / fixed.v_scale
    trace = Trace(spikes=trace.spikes[:, :-1], readout=trace.readout[:, 1:])
    steps_s = graph.dt_ms * 1e-3
    return Comparison(
        float_score=score(graph.readout.loss, run.y, batch), fixed_score=score(fixed.loss, y_fixed, batch),
        spike_agreement=float(np.mean(run.z == trace.spikes)),
        float_rate_hz=float(run.z.mean() / steps_s), fixed_rate_hz=float(trace.spikes.mean() / steps_s),
        stats=stats, fixed_trace=trace,
    )


@dataclass(frozen=True, eq=False)
class Prepared:
    """A model made ready for a target: the float graph, the backend, the config and the fixed-point graph."""

    graph: FloatGraph
    backend: Any
    hw: HwConfig
    fixed: FixedGraph
    losses: tuple[str, ...] = ()  # tensors quantization lost, when allowed (--allow-lossy): warned in every output


def prepare(graph: FloatGraph, target: str, hw_name: str | None, allow_lossy: bool = False) -> Prepared:
    """Load the backend and the hw config (the backend's default unless given) and quantize."""
    from neuroport.backend import load_backend
    from neuroport.hw import load_hw

    backend = load_backend(target)
    hw = load_hw(hw_name or backend.capabilities(None).default_hw)
    refuse_oversized_fan_in(graph, hw)  # before quantizing: names the projection
    fixed = quantize(graph, hw, allow_lossy=allow_lossy)
    return Prepared(graph, backend, hw, fixed, tuple(quantization_losses(graph, fixed)) if allow_lossy else ())


def cost_report(prepared: Prepared, target: str, stats: ActivityStats) -> Any:
    """Energy, latency and EDP per inference for the prepared model, from a run's ActivityStats."""
    return energy_report(target, prepared.fixed, stats, prepared.hw, map_graph(prepared.fixed, prepared.hw))


@dataclass(frozen=True, eq=False)
class Costs:
    """What ``report`` shows for one hardware config."""

    energy: EnergyReport
    metrics: NeuroBenchMetrics
    activity_source: str
    rates_hz: dict[str, float]  # mean firing rate per population
    losses: tuple[str, ...] = ()  # tensors quantization lost (--allow-lossy)


def _rates(graph: FloatGraph, stats: ActivityStats) -> dict[str, float]:
    seconds = stats.batch * stats.n_steps * graph.dt_ms * 1e-3
    return {p.name: stats.spikes_per_population[p.name] / (p.size * seconds) for p in graph.populations}


def _costs_fixed(graph: FloatGraph, target: str, hw: HwConfig, inputs: np.ndarray, allow_lossy: bool = False) -> Costs:
    fixed = quantize(graph, hw, allow_lossy=allow_lossy)
    trace, stats = emulate_fixed(fixed, inputs)
    return Costs(energy_report(target, fixed, stats, hw, map_graph(fixed, hw)), neurobench_metrics(fixed, inputs, trace.spikes),
                 f"bit-accurate emulator ({hw.family} profile)", _rates(graph, stats),
                 tuple(quantization_losses(graph, fixed)) if allow_lossy else ())


def _costs_spinnaker(graph: FloatGraph, target: str, hw: HwConfig, inputs: np.ndarray, allow_lossy: bool = False) -> Costs:
    """Activity of the s16.15 emulator (what sPyNNaker computes); metrics on the weights the board holds."""
    fixed = quantize(graph, hw, allow_lossy=allow_lossy)
    trace, stats = emulate_fixed(fixed, inputs)
    held = SimpleNamespace(n_rec=fixed.n_rec, n_out=fixed.n_out, **{d: fixed.weights_na(d) for d in ("w_in", "w_rec", "w_out")})
    metrics = float_metrics(held, inputs, trace.spikes, hw.fmt("weight").bits, hw.fmt("v").bits)
    return Costs(energy_report(target, fixed, stats, hw, map_graph(fixed, hw)), metrics,
                 f"bit-accurate emulator ({hw.family} s16.15 profile)", _rates(graph, stats),
                 tuple(quantization_losses(graph, fixed)) if allow_lossy else ())


COST_PATHS = {"loihi": _costs_fixed, "spinnaker": _costs_spinnaker}


def costs(graph: FloatGraph, target: str, hw: HwConfig, inputs: np.ndarray, allow_lossy: bool = False) -> Costs:
    """Energy, latency, EDP and NeuroBench-style metrics for one hardware config."""
    return COST_PATHS[hw.family](graph, target, hw, inputs, allow_lossy)
