"""Lava backends: ``loihi-sim`` (Lava CPU simulation, bit-exact with the emulator) and ``loihi2`` (compile-only)."""

from .backend import Loihi2Backend, LoihiSimBackend

__all__ = ["LoihiSimBackend", "Loihi2Backend"]
