"""The learning chip of :mod:`.onchip` paused between two sequences and rebuilt from what it held: the streaming
loop of ``neuroport train --on-chip --target loihi-sim`` runs one Lava runtime per stretch of sequences and
carries the chip state from one runtime to the next (and through a checkpoint file).

At a sequence boundary the host has zeroed the neurons, the readout, the Dense buffers and the learning traces
and tags (:meth:`LavaOnChipNetwork._reset_between_sequences`); what the chip still holds is, per learning synapse
matrix, its weights and its learning engine's clock and random streams
(:mod:`neuroport.emulator.engine_state`).  :class:`ResumableOnChipNetwork` reads all of that back at the end of a
stretch (weights, tags and traces through the bulk host I/O, the engine state as a value the process model
computes) and, given such a state, starts its learning synapses from it: at their first step the process models
set their clock and streams from it and mark their weights as already stored, so Lava does not truncate the
learned weights again (it truncates initial weights once, at the first step: ``lava.utils.weightutils``).  A
stretch that starts from a state therefore continues exactly where the previous one stopped — the chunk
boundary changes nothing (the emulator streaming the same sequences in one piece is the check).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroport.emulator.engine_state import SIZE, lava_state, restore_lava

from .host_io import attach, release
from .onchip import LavaOnChipNetwork

ENGINE_STATE = "engine_state"
TRACES = ("tag_1", "tag_2", "x1", "x2")  # what the host zeroes between sequences, read back as Lava holds it
_START: dict[int, np.ndarray] = {}  # host-I/O key → engine state to start from (inherited by Lava's forked processes)
_MODELS: dict[type, type] = {}


@dataclass
class SynapseState:
    """One learning synapse matrix between two sequences: weights (post, pre) with absent synapses 0, its tags
    and traces by name, and its engine state vector (clock and random streams)."""

    weights: np.ndarray
    traces: dict[str, np.ndarray]
    engine: np.ndarray


class _EngineStateModel:
    """Mixin for a Lava learning-synapse process model: ``engine_state`` (read by the host) and, at the first
    step, the start state the host registered for it."""

    _engine_started = False

    @property
    def engine_state(self) -> np.ndarray:
        return lava_state(self)

    def run_spk(self) -> None:
        if not self._engine_started:
            self._engine_started = True
            start = _START.get(int(self.host_io[0]))
            if start is not None:
                restore_lava(self, start, self.time_step)
                self.weights_set = True  # the chip's learned weights: stored already, not truncated again
        super().run_spk()


def with_engine_state(model: type) -> type:
    """The subclass of learning-synapse model ``model`` with :class:`_EngineStateModel`."""
    if model not in _MODELS:
        _MODELS[model] = type(f"EngineState{model.__name__}", (_EngineStateModel, model), {"__module__": model.__module__})
    return _MODELS[model]


class ResumableOnChipNetwork(LavaOnChipNetwork):
    """:class:`LavaOnChipNetwork` whose learning synapses start from ``start`` ({matrix: engine state}; the weights
    are the graph's) and whose :meth:`state` reads back every learning synapse's :class:`SynapseState`."""

    def __init__(self, graph, rule, batch, tau_m_steps: float, tau_out_steps: float,
                 start: dict[str, np.ndarray] | None = None) -> None:
        self._start = dict(start or {})
        self._keys: list[int] = []
        super().__init__(graph, rule, batch, tau_m_steps, tau_out_steps, record_spikes=False)

    def _synapse_io(self, name: str, synapse):
        if not self._learns(name):
            return super()._synapse_io(name, synapse)
        io = attach(synapse, out=("weights", *TRACES), into=self._learning_state(name), computed={ENGINE_STATE: (SIZE,)})
        self._keys.append(io.key)
        if name in self._start:
            _START[io.key] = np.asarray(self._start[name], dtype=np.int64)
        return io

    def _model_overrides(self, models: dict) -> dict:
        from lava.proc.dense.process import LearningDense
        from lava.proc.sparse.process import LearningSparse

        return {p: with_engine_state(models[p]) for p in (LearningDense, LearningSparse)}

    def learning(self) -> list[str]:
        """The matrices that learn (an empty one is a plain Dense)."""
        return [name for name in self.synapses if self._learns(name)]

    def state(self) -> dict[str, SynapseState]:
        """Every learning matrix's state now (the runtime paused between sequences)."""
        states = {}
        for name in self.learning():
            values = self.io[name].dump()
            mask = self.masks[name]
            states[name] = SynapseState(weights=values["weights"].astype(np.int64) * mask,
                                        traces={t: values[t].astype(np.int64) for t in TRACES},
                                        engine=values[ENGINE_STATE].copy())
        return states

    def close(self) -> None:
        """Forget the start states registered for this network."""
        for key in self._keys:
            _START.pop(key, None)
        for io in self.io.values():
            release(io)
