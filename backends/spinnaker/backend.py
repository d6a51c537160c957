"""The ``spinnaker`` target: sPyNNaker 1!7.4.1 through PyNN 0.13, s16.15 numerics, mapping on a virtual board.

What maps exactly onto stock sPyNNaker: LIF populations as ``IF_curr_delta`` (delta synapses) with a leaky readout
as an ``IF_curr_delta`` that never fires (its V is the output), weights as 16-bit magnitudes split into
excitatory and inhibitory projections; Izhikevich networks trained with ``integration: spinnaker_rk2`` as
``IZK_curr_exp`` (sPyNNaker's RK2 cell with exponential current synapses, :mod:`neuroport.quantization.spinnaker_izhikevich`);
``lif_ca2_adaptive`` populations as ``IF_curr_delta_ca2_adaptive`` (:mod:`neuroport.quantization.spinnaker_ca2`).
The s16.15 emulator (:mod:`neuroport.emulator.spinnaker`) computes what
that network computes — including sPyNNaker's reset to V_reset (the float model resets by subtraction), its
refractory clamp and its ring-buffer saturation.  Refused, with the reason (``capabilities().unsupported``):
ALIF (no adaptive-threshold neuron in the release; the refusal names lif_ca2_adaptive) and on-chip e-prop (no e-prop in the release).
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from neuroport.backend import Capabilities, Diagnostic
from neuroport.emulator.trace import Trace
from neuroport.errors import NeuroportError, UnsupportedError
from neuroport.hw import HwConfig, load_hw
from neuroport.ir.spinnaker_graph import SpiNNakerGraph
from neuroport.mapping import map_graph

from .board import HOST_ENV, BoardReport, execute
from .network import PyNNNetwork, lower_network

UNSUPPORTED = {
    "alif": "sPyNNaker 1!7.4.1 has no neuron with an adaptive threshold; its adaptive neuron is "
            "IF_curr_delta_ca2_adaptive (a spike-triggered adaptation current): use `model: lif_ca2_adaptive` for the "
            "adaptive populations and train that (examples/evidence_accumulation_spinnaker.yaml) to deploy adaptation "
            "on SpiNNaker; the s16.15 emulator runs neuroport's custom ALIF contract (V_th + a, a ← ρ·a + b_inc·z) "
            "for verify only",
    "on-chip e-prop": "sPyNNaker 1!7.4.1 has no e-prop (it exists only on unreleased development branches); "
                      "host-in-the-loop e-prop is not built",
    "reset by subtraction": "sPyNNaker's LIF resets V to V_reset (0): the emulator models that, so verify measures it",
    "spikes without a board": "a virtual board maps but runs no neuron: spikes and readouts need a SpiNNaker machine",
}


def _rule_models(graph: SpiNNakerGraph, hw: HwConfig) -> list[Diagnostic]:
    return [Diagnostic("error", f"population '{name}' is {kind}: {UNSUPPORTED['alif']}", f"populations.{name}")
            for name, kind, _, _ in graph.neurons.populations if kind not in graph.neurons.kinds]


def _rule_delays(graph: SpiNNakerGraph, hw: HwConfig) -> list[Diagnostic]:
    top = hw.resource("max_delay_steps")
    return [Diagnostic("error", f"delay of {p.delay_steps} steps outside [1, {top}] (resources.max_delay_steps)", p.name)
            for p in graph.projections if not 1 <= p.delay_steps <= top]


def _cores(graph: SpiNNakerGraph, hw: HwConfig) -> dict[str, int]:
    per_core = hw.resource("neurons_per_core")
    return {k: -(-n // per_core) for k, n in (("input", graph.n_in), ("recurrent", graph.n_rec), ("readout", graph.n_out))}


def _rule_cores(graph: SpiNNakerGraph, hw: HwConfig) -> list[Diagnostic]:
    cores, capacity = sum(_cores(graph, hw).values()), hw.resource("chips_per_board") * hw.resource("cores_per_chip")
    if cores > capacity:
        return [Diagnostic("error", f"needs {cores} cores at {hw.resource('neurons_per_core')} neurons per core, a board of "
                                    f"{hw.name} has {capacity} (resources.chips_per_board × cores_per_chip)", "mapping")]
    return []


def _rule_routing(graph: SpiNNakerGraph, hw: HwConfig) -> list[Diagnostic]:
    """Upper bound: one entry per sending core on a chip; above the table size, only the real mapping can tell."""
    sources, table = _cores(graph, hw)["input"] + _cores(graph, hw)["recurrent"], hw.resource("router_entries_per_chip")
    if sources > table:
        return [Diagnostic("warning", f"{sources} sending cores could need more than the {table} routing entries of a chip "
                                      "(resources.router_entries_per_chip) before compression", "routing")]
    return []


def _rule_weights(graph: SpiNNakerGraph, hw: HwConfig) -> list[Diagnostic]:
    top = 2 ** hw.param("weight_bits") - 1
    return [Diagnostic("error", f"stored weight {int(p.weights.max())} exceeds {top}", p.name)
            for p in graph.projections if p.weights.max(initial=0) > top]


def _rule_mapping(graph: SpiNNakerGraph, hw: HwConfig) -> list[Diagnostic]:
    try:
        map_graph(graph, hw)
    except NeuroportError as err:
        return [Diagnostic("error", str(err), "mapping")]
    return []


RULES = (_rule_models, _rule_delays, _rule_cores, _rule_routing, _rule_weights, _rule_mapping)


def weight_check(net: PyNNNetwork, report: BoardReport) -> dict[str, Any]:
    """Our stored weights (× LSB) against sPyNNaker's ``Projection.get``: every magnitude, and the signed matrix
    rebuilt as excitatory − inhibitory against ours, exactly."""
    graph, mismatches = net.fixed, {}
    signed = {d: np.zeros((graph.n_out if d == "w_out" else graph.n_rec, graph.n_rec if d != "w_in" else graph.n_in))
              for d in ("w_in", "w_rec", "w_out")}
    board = {p.name: np.full(p.weights.shape, np.nan) for p in graph.projections}  # (n_post, n_pre), as ours
    for spec in net.projections:
        board[spec.source][slice(*spec.post_range), slice(*spec.pre_range)] = report.weights[spec.label].T
    for p in graph.projections:
        ours = np.where(p.mask, p.weights * 2.0**p.weight_exp, np.nan)
        same = (board[p.name] == ours) | (np.isnan(board[p.name]) & np.isnan(ours))
        mismatches[p.name] = int(np.count_nonzero(~same))
        signed[p.dense] += p.sign * np.nan_to_num(board[p.name])
    sign_errors = {d: int(np.count_nonzero(signed[d] != graph.weights_na(d))) for d in signed}
    compared = sum(p.n_synapses for p in graph.projections)
    return {"weights_equal": not any(mismatches.values()) and not any(sign_errors.values()), "synapses_compared": compared,
            "magnitude_mismatches": mismatches, "signed_mismatches": sign_errors}


def parameter_check(net: PyNNNetwork, report: BoardReport) -> dict[str, Any]:
    """Every neuron parameter we lower (each exactly an s16.15 value) as its word, against the word sPyNNaker's
    structs pack for that field (``parameters.npz`` of run_pynn.py), population by population."""
    mismatches, compared = {}, 0
    for spec in net.populations:
        for k in spec.parameters:
            stored = report.parameters.get(f"{spec.label}.{k}")
            if stored is None:  # a PyNN parameter stored under another field name (IZK_curr_exp's tau_syn_E)
                continue
            ours = np.rint(np.asarray(net.arrays[f"{spec.label}.{k}"]) * 2.0**net.fixed.frac_bits).astype(np.int64)
            mismatches[f"{spec.label}.{k}"] = int(np.count_nonzero(np.broadcast_to(ours, stored.shape) != stored))
            compared += int(stored.size)
    return {"parameters_equal": compared > 0 and not any(mismatches.values()), "parameters_compared": compared,
            "parameter_mismatches": {k: v for k, v in mismatches.items() if v}}


class SpiNNakerBackend:
    name: ClassVar[str] = "spinnaker"

    def capabilities(self, hw: HwConfig | None = None) -> Capabilities:
        return Capabilities(neuron_models=("lif", "izhikevich", "lif_ca2_adaptive"), on_chip_learning=False, bit_exact=False, default_hw="spinnaker1",
                            requires=("pyNN", "spynnaker"), extra="spinnaker", unsupported=dict(UNSUPPORTED))

    def check(self, graph: SpiNNakerGraph, hw: HwConfig) -> list[Diagnostic]:
        """Design rules from the hw config (neuron models, delays, cores, routing entries, weights); no SDK import."""
        return [d for rule in RULES for d in rule(graph, hw)]

    def lower(self, graph: SpiNNakerGraph, hw: HwConfig) -> PyNNNetwork:
        return lower_network(graph, hw.resource("neurons_per_core"), hw.resource("max_synapses_per_row"))

    def map_on_board(self, artifact: PyNNNetwork, inputs: np.ndarray | None = None) -> BoardReport:
        """Map (and, on a board, run) one sample; without ``inputs`` a single spike on channel 0 at step 1."""
        if inputs is None:
            inputs = np.zeros((1, 2, artifact.fixed.n_in), dtype=np.uint8)
            inputs[0, 1, 0] = 1
        report = execute(artifact, np.asarray(inputs)[:1], load_hw(artifact.fixed.hw_name))
        weights = weight_check(artifact, report)
        stored = {"weights_equal": weights["weights_equal"], "synapses_compared": weights["synapses_compared"],
                  **(parameter_check(artifact, report) if report.parameters else {})}
        return replace(report, stored=stored)

    def run(self, artifact: PyNNNetwork, inputs: np.ndarray, probes: tuple[str, ...] = (), learn: bool = False) -> Trace:
        if learn:
            raise UnsupportedError(UNSUPPORTED["on-chip e-prop"])
        report = self.map_on_board(artifact, inputs)
        where = "a board" if HOST_ENV in os.environ else "a virtual board"
        raise UnsupportedError(f"mapped on {where} ({report.cores} cores on {report.chips} chips); reading spikes back "
                               f"into a Trace needs a SpiNNaker machine and is not built: {UNSUPPORTED['spikes without a board']}")

    def verify_against_emulator(self, graph: SpiNNakerGraph, inputs: np.ndarray, max_samples: int = 2) -> dict[str, Any]:
        """Map on the (virtual) board, compare the weights sPyNNaker stores with ours; say what could not run."""
        hw = load_hw(graph.hw_name)
        refused = [d.format() for d in self.check(graph, hw) if d.severity == "error"]
        if refused:
            return {"bit_exact": None, "ran_on_board": False, "not_run": "not mapped: " + "; ".join(refused),
                    "detail": "the s16.15 emulator ran (custom contract for what sPyNNaker lacks); the board mapping did not"}
        net = self.lower(graph, hw)
        report = self.map_on_board(net, inputs[:1])
        weights = {**weight_check(net, report), **{k: v for k, v in report.stored.items() if k.startswith("param")}}
        return {"bit_exact": None, "ran_on_board": False, **weights, "mapping": report.to_dict(),
                "not_run": UNSUPPORTED["spikes without a board"] + "; spikes, V and readout of the chip were not compared "
                           "with the s16.15 emulator (the emulator's expk/kdivk words are unverified against a board)",
                "detail": f"{weights['synapses_compared']:,} stored weights compared with Projection.get on a virtual "
                          f"{report.chips}-chip mapping: equal = {weights['weights_equal']}"
                          + (f"; {weights['parameters_compared']:,} stored parameter words: equal = "
                             f"{weights['parameters_equal']}" if "parameters_equal" in weights else "")}
