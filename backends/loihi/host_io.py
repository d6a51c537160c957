"""Bulk host I/O for Lava processes: whole arrays through shared memory instead of Lava's value-by-value Var I/O.

lava-nc 0.10.0 moves a Var between the host and a process model one value per channel message, in both
directions (``PyLoihiProcessModel._get_var`` / ``_set_var`` and ``Runtime.get_var`` / ``set_var``: "FIXME: send a
whole vector"), ~55–60 µs per value here — reading back a recorded (steps × n) table or writing N² zero tags costs
seconds.  This module gives a process a side channel:

- :class:`HostBuffers` — named int64 arrays in one anonymous ``MAP_SHARED`` mapping, allocated by the host before
  Lava forks its processes, so the host and the forked process model address the same pages (nothing in /dev/shm,
  nothing to unlink);
- :func:`attach` — adds a 2-value Var ``host_io`` = [key, command] to a Lava process (as Lava's own
  ``lava.proc.io.reset.Reset.connect_var`` adds a port) and registers its buffers under ``key``;
- :func:`with_host_io` — the process model subclass that answers a command: after Lava's own ``_set_var`` of
  ``host_io`` it copies the ``out`` Vars into the buffers (DUMP) or the buffers into the ``in`` Vars (LOAD).

A command is one ``set`` of 2 values plus one ``get`` of 2 values (the model answers commands in order, so the
``get`` returns after the copy is done) — a fixed few round trips, whatever the array sizes.  Values are copied
exactly (int64, the fixed-point models' integer states); a CSR Var (``LearningSparse``) is dumped dense and loaded
over its own stored structure, so absent synapses stay absent.
"""

from __future__ import annotations

import itertools
import mmap
from dataclasses import dataclass, field

import numpy as np

DUMP, LOAD = 1, 2
_REGISTRY: dict[int, HostBuffers] = {}  # inherited by Lava's forked processes (start method 'fork')
_KEYS = itertools.count(1)


@dataclass
class HostBuffers:
    """Shared int64 arrays: ``out`` (process → host) and ``into`` (host → process), by Var name."""

    out: dict[str, np.ndarray] = field(default_factory=dict)
    into: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def allocate(cls, out: dict[str, tuple], into: dict[str, tuple]) -> HostBuffers:
        shapes = [*out.values(), *into.values()]
        sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
        memory = mmap.mmap(-1, max(8 * sum(sizes), 8))  # anonymous, MAP_SHARED: shared with forked children
        flat = np.frombuffer(memory, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        arrays = [flat[a:b].reshape(s) for a, b, s in zip(offsets[:-1], offsets[1:], shapes, strict=True)]
        return cls(dict(zip(out, arrays[:len(out)], strict=True)), dict(zip(into, arrays[len(out):], strict=True)))


class HostIO:
    """The host side of one attached process: :meth:`dump` then read :attr:`out`; write :attr:`into` then :meth:`load`."""

    def __init__(self, process, key: int, buffers: HostBuffers):
        self.process, self.key, self.buffers, self._count = process, key, buffers, 0

    @property
    def out(self) -> dict[str, np.ndarray]:
        return self.buffers.out

    @property
    def into(self) -> dict[str, np.ndarray]:
        return self.buffers.into

    def _command(self, op: int) -> None:
        self._count += 1
        self.process.host_io.set(np.array([self.key, 4 * self._count + op], dtype=np.int64))
        self.process.host_io.get()  # answered after the model has run the command

    def dump(self) -> dict[str, np.ndarray]:
        """Copies of the ``out`` Vars now (the runtime paused)."""
        self._command(DUMP)
        return {name: values.copy() for name, values in self.out.items()}

    def load(self) -> None:
        """Write :attr:`into` to the ``in`` Vars (the runtime paused)."""
        self._command(LOAD)

    def zero(self) -> None:
        """Zero every ``in`` Var in one command."""
        for values in self.into.values():
            values[...] = 0
        self.load()


def _dense_shape(var) -> tuple:
    return tuple(var.shape)


def attach(process, out: tuple[str, ...] = (), into: tuple[str, ...] = (),
           computed: dict[str, tuple] | None = None) -> HostIO:
    """Give ``process`` (before its runtime is created) bulk access to its Vars ``out`` (read) and ``into`` (write);
    its model must be :func:`with_host_io` of the usual one (``exception_proc_model_map``).  ``computed``: more
    values read like ``out``, {name: shape}, that the model computes (a property of the model, not a Var)."""
    from lava.magma.core.process.variable import Var

    key = next(_KEYS)
    buffers = HostBuffers.allocate({**{n: _dense_shape(getattr(process, n)) for n in out}, **(computed or {})},
                                   {n: _dense_shape(getattr(process, n)) for n in into})
    _REGISTRY[key] = buffers
    process.host_io = Var(shape=(2,), init=np.array([key, 0], dtype=np.int64))
    process._post_init()  # register the new Var, as lava.proc.io.reset.Reset.connect_var does
    return HostIO(process, key, buffers)


def release(io: HostIO) -> None:
    """Forget the buffers of ``io`` (the mapping is freed with its last array)."""
    _REGISTRY.pop(io.key, None)


def _dump_var(value, buffer: np.ndarray) -> None:
    if hasattr(value, "toarray"):  # CSR: absent entries read as 0 (the host knows the mask)
        value = value.toarray()
    buffer[...] = np.asarray(value).reshape(buffer.shape)


def _loaded(value, buffer: np.ndarray):
    """``buffer`` in the form of the Var's current ``value``: in place for an array, over its structure for CSR."""
    if hasattr(value, "toarray"):
        from lava.utils.sparse import find
        from scipy.sparse import csr_matrix

        dst, src, _ = find(value, explicit_zeros=True)
        return csr_matrix((buffer[dst, src].astype(value.dtype), (dst, src)), shape=value.shape)
    value[...] = buffer.reshape(value.shape).astype(value.dtype)
    return value


class _HostIOModel:
    """Mixin for a process model: run the host's command after Lava's own ``_set_var`` of ``host_io``."""

    _host_io_done = 0

    def _set_var(self) -> None:
        super()._set_var()
        command = int(self.host_io[1])
        if command == self._host_io_done:
            return
        self._host_io_done = command
        buffers = _REGISTRY[int(self.host_io[0])]
        if command % 4 == DUMP:
            for name, buffer in buffers.out.items():
                _dump_var(getattr(self, name), buffer)
        elif command % 4 == LOAD:
            for name, buffer in buffers.into.items():
                setattr(self, name, _loaded(getattr(self, name), buffer))


_MODELS: dict[type, type] = {}


def with_host_io(model: type) -> type:
    """The subclass of process model ``model`` that has the ``host_io`` Var and answers its commands.  Lava maps a
    process class to one model, and its builder requires the process to have every Var the model types: every
    process of a class mapped to this model must be :func:`attach`-ed (with nothing to move if need be)."""
    if model not in _MODELS:
        from lava.magma.core.model.py.type import LavaPyType

        _MODELS[model] = type(f"HostIO{model.__name__}", (_HostIOModel, model),
                              {"host_io": LavaPyType(np.ndarray, np.int64), "__module__": model.__module__,
                               "__annotations__": {"host_io": np.ndarray}})
    return _MODELS[model]
