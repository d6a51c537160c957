"""What a run produces: the Trace (spikes, readout, probed states) and ActivityStats (operation counts).

ActivityStats is what the reporters turn into energy and latency: every synaptic event, neuron update, spike,
learning update, and every wrap or saturation of a hardware state, summed over the batch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Trace:
    """spikes (batch, T, n_rec) uint8; readout (batch, T, n_out) integers (or floats for a float run);
    states: name → (batch, T, n_rec) probed integer states."""

    spikes: np.ndarray
    readout: np.ndarray
    states: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class ActivityStats:
    """Operation counts of a run, summed over ``batch`` samples of ``n_steps`` steps."""

    batch: int
    n_steps: int
    n_neurons: int
    populations: tuple[tuple[str, str, int, int], ...]
    synaptic_ops: Counter = field(default_factory=Counter)  # per Dense: spikes × existing synapses they reach
    synaptic_ops_per_target: dict[str, np.ndarray] = field(default_factory=dict)  # per Dense: events at each target
    active_neuron_updates: int = 0  # neuron-steps with non-zero input or state
    learning_updates: int = 0  # synapse updates by on-chip learning
    overflow: Counter = field(default_factory=Counter)  # state → wrap/saturation events
    spikes_per_population: dict[str, int] = field(default_factory=dict)
    spikes_per_neuron: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    input_spikes_per_source: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per input channel

    @classmethod
    def empty(cls, graph: Any, batch: int, n_steps: int) -> ActivityStats:
        return cls(batch=batch, n_steps=n_steps, n_neurons=graph.n_rec, populations=graph.neurons.populations)

    def add_synaptic_ops(self, dense: str, per_target: np.ndarray) -> None:
        if dense in self.synaptic_ops_per_target:
            self.synaptic_ops_per_target[dense] = self.synaptic_ops_per_target[dense] + per_target
        else:
            self.synaptic_ops_per_target[dense] = per_target.copy()
        self.synaptic_ops[dense] += int(per_target.sum())

    def count(self, state: str, events: int) -> None:
        if events:
            self.overflow[state] += events

    def finish(self, spikes: np.ndarray) -> None:
        """Fill the per-population spike counts from the run's spikes."""
        totals = spikes.sum(axis=(0, 1)).astype(np.int64)
        self.spikes_per_neuron = totals
        self.spikes_per_population = {name: int(totals[start:stop].sum()) for name, _, start, stop in self.populations}

    @property
    def neuron_updates(self) -> int:
        return self.batch * self.n_steps * self.n_neurons

    @property
    def spikes(self) -> int:
        return sum(self.spikes_per_population.values())

    def per_sample(self) -> dict[str, float]:
        """Counts per inference (one sample), as the reporters use them."""
        b = max(self.batch, 1)
        return {
            "synaptic_ops": sum(self.synaptic_ops.values()) / b,
            "neuron_updates": self.neuron_updates / b,
            "active_neuron_updates": self.active_neuron_updates / b,
            "spikes": self.spikes / b,
            "learning_updates": self.learning_updates / b,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch, "n_steps": self.n_steps, "n_neurons": self.n_neurons,
            "synaptic_ops": dict(self.synaptic_ops), "neuron_updates": self.neuron_updates,
            "active_neuron_updates": self.active_neuron_updates, "learning_updates": self.learning_updates,
            "spikes_per_population": self.spikes_per_population, "overflow": dict(self.overflow),
        }
