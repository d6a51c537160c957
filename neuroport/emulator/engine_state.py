"""The hidden state of one learning engine — its clock and random streams — as one int64 vector, the same for
Lava's learning synapses (lava-nc 0.10.0, ``LearningConnectionModelBitApproximate``) and the emulator's
:class:`~neuroport.emulator.loihi_learning.LearningEngine`, so that a chip paused between two sequences can be
written to a checkpoint and rebuilt exactly.

Besides the weights (and the traces and tags, which the host zeroes between sequences), a learning synapse holds:

    clock      Lava's ``time_step`` of its last step: the u_k decimation gates are time_step mod 2^k == 0
    streams    five numpy ``default_rng`` (PCG64) generators: the x traces' decay and impulse rounding
               (``TraceRandom(seed, seed + 1)``), the y traces' (``seed + 2``, ``seed + 3``) and the synaptic
               variables' stochastic rounding (``ConnVarRandom``, seed 2)
    values     the number each generator drew last (the one its next use reads)

Layout (``SIZE`` int64): [clock, then per generator in the order above: PCG64 state low 64 bits, high 64 bits,
increment low, high, has_uint32, uinteger; then the five last values: x decay (float64 bits), x impulse, y decay
(float64 bits), y impulse, synaptic rounding (float64 bits)].  A 128-bit PCG64 word is split into two 64-bit
halves, each stored as the int64 of the same bits.
"""

from __future__ import annotations

import numpy as np

N_GENERATORS = 5
WORDS_PER_GENERATOR = 6
SIZE = 1 + N_GENERATORS * WORDS_PER_GENERATOR + N_GENERATORS
MASK64 = (1 << 64) - 1
FLOAT_VALUES = (0, 2, 4)  # the last values stored as float64 bits (decays, rounding); 1 and 3 are integers


def _int64(word: int) -> int:
    """The int64 with the bits of the unsigned 64-bit ``word``."""
    return int(np.array([word & MASK64], dtype=np.uint64).view(np.int64)[0])


def _uint64(value: int) -> int:
    return int(np.array([value], dtype=np.int64).view(np.uint64)[0])


def _generator_words(rng: np.random.Generator) -> list[int]:
    state = rng.bit_generator.state
    if state["bit_generator"] != "PCG64":
        raise ValueError(f"a learning engine's stream is {state['bit_generator']}, not PCG64")
    s, inc = state["state"]["state"], state["state"]["inc"]
    return [_int64(s), _int64(s >> 64), _int64(inc), _int64(inc >> 64), int(state["has_uint32"]), _int64(state["uinteger"])]


def _set_generator(rng: np.random.Generator, words: np.ndarray) -> None:
    lo, hi, inc_lo, inc_hi, has32, uint = (int(w) for w in words)
    rng.bit_generator.state = {"bit_generator": "PCG64",
                               "state": {"state": _uint64(lo) | _uint64(hi) << 64, "inc": _uint64(inc_lo) | _uint64(inc_hi) << 64},
                               "has_uint32": has32, "uinteger": _uint64(uint)}


def pack(clock: int, generators: list[np.random.Generator], values: list[float | int]) -> np.ndarray:
    """The state vector of an engine: its clock, its five generators and their last values (module docstring)."""
    words = [int(clock)]
    for rng in generators:
        words += _generator_words(rng)
    for i, value in enumerate(values):
        words.append(int(np.array([value], np.float64).view(np.int64)[0]) if i in FLOAT_VALUES else int(value))
    return np.array(words, dtype=np.int64)


def unpack(state: np.ndarray, generators: list[np.random.Generator]) -> tuple[int, list[float | int]]:
    """Set ``generators`` from ``state``; returns the clock and the five last values."""
    state = np.asarray(state, dtype=np.int64)
    if state.shape != (SIZE,):
        raise ValueError(f"an engine state has {SIZE} values, not {state.size}")
    for g, rng in enumerate(generators):
        _set_generator(rng, state[1 + g * WORDS_PER_GENERATOR:1 + (g + 1) * WORDS_PER_GENERATOR])
    tail = state[1 + N_GENERATORS * WORDS_PER_GENERATOR:]
    values = [float(tail[i:i + 1].view(np.float64)[0]) if i in FLOAT_VALUES else int(tail[i]) for i in range(N_GENERATORS)]
    return int(state[0]), values


def emulator_state(engine) -> np.ndarray:
    """The state vector of an emulator :class:`~neuroport.emulator.loihi_learning.LearningEngine`."""
    x, y = engine._x, engine._y
    return pack(engine.time_step, [x._decay, x._impulse, y._decay, y._impulse, engine._conn],
                [x.decay, x.impulse, y.decay, y.impulse, engine._conn_value])


def restore_emulator(engine, state: np.ndarray) -> None:
    """Put ``state`` into an emulator LearningEngine (its weights, traces and tags are set apart)."""
    x, y = engine._x, engine._y
    clock, values = unpack(state, [x._decay, x._impulse, y._decay, y._impulse, engine._conn])
    engine.time_step = clock
    x.decay, x.impulse, y.decay, y.impulse, engine._conn_value = values


def lava_state(model) -> np.ndarray:
    """The state vector of a Lava learning-synapse process model (inside its process, between two runs)."""
    x, y, conn = model._x_random, model._y_random, model._conn_var_random
    return pack(model.time_step, [x._rng_trace_decay, x._rng_impulse_addition, y._rng_trace_decay,
                                  y._rng_impulse_addition, conn._rng],
                [x._random_trace_decay, x._random_impulse_addition, y._random_trace_decay, y._random_impulse_addition,
                 conn._random_stochastic_round])


def restore_lava(model, state: np.ndarray, steps_begun: int) -> None:
    """Put ``state`` into a Lava learning-synapse model at the start of its first step (``steps_begun`` = the
    model's time_step then, 1): its clock continues from the saved one."""
    x, y, conn = model._x_random, model._y_random, model._conn_var_random
    clock, values = unpack(state, [x._rng_trace_decay, x._rng_impulse_addition, y._rng_trace_decay,
                                   y._rng_impulse_addition, conn._rng])
    model.time_step = clock + steps_begun
    (x._random_trace_decay, x._random_impulse_addition, y._random_trace_decay, y._random_impulse_addition,
     conn._random_stochastic_round) = values
