"""The learning engine's hidden state (clock, five random streams, their last draws) packed into one int64 vector
and put into a new engine: an emulator chip rebuilt from it after 2 sequences ends, after 3 more, with every
weight and every stream of a chip that never stopped (no Lava: the Lava side is tests/lava/test_train_loihi_sim.py)."""

from __future__ import annotations

import numpy as np

from neuroport.emulator.engine_state import SIZE, emulator_state, pack, restore_emulator, unpack
from neuroport.emulator.onchip import OnChipTrainer
from neuroport.ir import load_model
from neuroport.tasks import Batch
from neuroport.training.eprop import draw_batches
from neuroport.training.onchip import onchip_setup
from neuroport.training.onchip_checkpoint import with_weights


def test_pack_round_trips_every_generator_and_value():
    generators = [np.random.default_rng(s) for s in range(5)]
    for g in generators:
        g.random(3)
        g.integers(0, 2**31)  # leaves has_uint32 / uinteger set in some
    values = [0.25, 17, 0.75, 3, 1e-300]
    state = pack(2**40 + 3, generators, values)
    assert state.shape == (SIZE,) and state.dtype == np.int64
    copies = [np.random.default_rng(99) for _ in range(5)]
    clock, got = unpack(state, copies)
    assert clock == 2**40 + 3 and got == values
    for a, b in zip(generators, copies, strict=True):
        assert a.bit_generator.state == b.bit_generator.state and a.random() == b.random()


def test_emulator_chip_rebuilt_from_its_state_continues_exactly(tiny_model):
    graph = load_model(tiny_model)
    chip = onchip_setup(graph, rates={"w_exponent": -5, "out_exponent": -5, "decimate": 1, "tag_exponent": -6})
    batch = draw_batches(graph, 1, batch_size=5, seed=11)[0]
    one = [Batch(batch.inputs[k:k + 1], batch.targets[k:k + 1], batch.loss_mask[k:k + 1]) for k in range(5)]
    whole = chip.trainer(1)
    first = chip.trainer(1)
    for sequence in one[:2]:
        whole.run(sequence)
        first.run(sequence)
    weights = {n: first.weights(n)[0].copy() for n in first.engines}
    rebuilt = OnChipTrainer(with_weights(chip.fixed, weights), chip.rule, 1, chip.tau_m_steps, chip.tau_out_steps)
    for name, engine in rebuilt.engines.items():
        engine.state.w[0] = weights[name]
        restore_emulator(engine, emulator_state(first.engines[name]))
    for sequence in one[2:]:
        a, b = whole.run(sequence), rebuilt.run(sequence)
        np.testing.assert_array_equal(a.readout, b.readout)
    for name in whole.engines:
        np.testing.assert_array_equal(rebuilt.weights(name), whole.weights(name), err_msg=name)
        np.testing.assert_array_equal(emulator_state(rebuilt.engines[name]), emulator_state(whole.engines[name]))
        assert np.count_nonzero(whole.weights(name)[0] != chip.fixed.dense()[name].weights) >= 5, name
