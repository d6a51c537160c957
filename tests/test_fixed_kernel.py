"""The compiled emulator (fixed_kernel) equals the numpy specification (emulate_reference) bit for bit:
spikes, readout, probed v/a/u and every ActivityStats field (the overflow counters in the same order), on the
conformance cases, on random graphs of both neuron kinds pushed over every wrap and saturation boundary,
batched and single, states probed and not."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields

import numpy as np
import pytest

from neuroport import numerics
from neuroport.emulator import fixed_kernel
from neuroport.emulator.fixed import emulate, emulate_reference, kernel_network
from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.ir.fixed_graph import FixedDense, FixedGraph, FixedNeurons, FixedReadout
from neuroport.pipeline import quantize, task_batch
from neuroport.testing.conformance import CASES

SEEDS = range(16)


def assert_same_run(graph: FixedGraph, x: np.ndarray, probe_states: bool = True) -> Counter:
    """Compare emulate with emulate_reference exactly; return the overflow counts (for coverage checks)."""
    (trace, stats), (ref_trace, ref_stats) = (f(graph, x, probe_states=probe_states) for f in (emulate, emulate_reference))
    for name in ("spikes", "readout"):
        got, want = getattr(trace, name), getattr(ref_trace, name)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert list(trace.states) == list(ref_trace.states)
    for name, want in ref_trace.states.items():
        assert trace.states[name].dtype == want.dtype
        np.testing.assert_array_equal(trace.states[name], want, err_msg=name)
    for field in fields(stats):
        got, want = getattr(stats, field.name), getattr(ref_stats, field.name)
        if isinstance(want, dict):  # Counters and dicts: same keys in the same order, same values
            assert list(got) == list(want), field.name
            for key, value in want.items():
                np.testing.assert_array_equal(got[key], value, err_msg=f"{field.name}[{key}]")
                assert np.asarray(got[key]).dtype == np.asarray(value).dtype
        elif isinstance(want, np.ndarray):
            assert got.dtype == want.dtype, field.name
            np.testing.assert_array_equal(got, want, err_msg=field.name)
        else:
            assert got == want, field.name
    return ref_stats.overflow


def random_graph(rng: np.random.Generator, kind: str, n_in: int, n: int, n_out: int) -> FixedGraph:
    """Mixed-sign weights (masks independent of them), decays 0 … 4095, and exponents, thresholds, adaptation
    and bias drawn so that some graphs wrap activations (exponent ≥ 22: |W s| << e > 2^31) and saturate or wrap
    every state."""
    big = rng.random() < 0.3
    pick = lambda lo, hi, size=n: rng.integers(lo, hi + 1, size).astype(np.int64)  # noqa: E731
    corners = lambda size: rng.choice([0, 1, 2047, 4094, 4095], size) if rng.random() < 0.5 else pick(0, 4095, size)  # noqa: E731

    def dense(n_target, n_source):
        e = int(rng.integers(20, 27)) if big and rng.random() < 0.6 else int(rng.integers(-8, 8))
        return FixedDense(weights=pick(-256, 255, (n_target, n_source)), mask=rng.random((n_target, n_source)) < 0.7,
                          weight_exp=e)

    neurons = FixedNeurons(kind=kind, dv=corners(n), vth=pick(0, 2**17 - 1) >> int(rng.integers(0, 12)),
                           da=corners(n), a_inc=pick(0, 2**23) >> int(rng.integers(0, 16)), n_ref=pick(0, 4),
                           du=corners(n), bias=pick(-(2**23), 2**23) >> int(rng.integers(0, 24)),
                           populations=(("p", kind, 0, n // 2), ("q", kind, n // 2, n)),
                           **KIND_WORDS.get(kind, lambda _rng, _n: {})(rng, n))
    return FixedGraph(name="random", profile="loihi", hw_name="loihi2", hw_sha256="", dt_ms=1.0, neurons=neurons,
                      readout=FixedReadout(dy=corners(n_out)), w_in=dense(n, n_in), w_rec=dense(n, n),
                      w_out=dense(n_out, n), v_scale=64.0, loss="mse")


def izhikevich_words(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Random words of kind 'izhikevich' inside the bounds of fixed_izhikevich (k ≥ 5, p2 < 2^20, the others
    < 2^24, states in 24 bits), scaled down by random shifts so that some runs stay in range and some saturate."""
    pick = lambda lo, hi: rng.integers(lo, hi + 1, n).astype(np.int64) >> int(rng.integers(0, 16))  # noqa: E731
    state = lambda: pick(-(2**23) + 1, 2**23 - 1)  # noqa: E731
    return {"izh_p2": pick(0, 2**20 - 1), "izh_p1": pick(0, 2**24 - 1), "izh_pu": pick(0, 2**24 - 1),
            "izh_c0": pick(-(2**23), 2**23), "izh_pab": pick(-(2**24) + 1, 2**24 - 1), "izh_pa": pick(0, 2**24 - 1),
            "izh_c": state(), "izh_d": pick(-(2**23), 2**23), "izh_sq_shift": rng.integers(5, 19, n).astype(np.int64),
            "izh_v0": state(), "izh_u0": state()}


KIND_WORDS = {"izhikevich": izhikevich_words}  # the extra FixedNeurons fields a kind needs


def random_run(seed: int, kind: str, batch: int) -> tuple[FixedGraph, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_in, n, n_out, steps = (int(v) for v in rng.integers([1, 2, 1, 1], [12, 24, 5, 40]))
    x = (rng.random((batch, steps, n_in)) < rng.uniform(0.05, 0.9)).astype(np.int64)
    return random_graph(rng, kind, n_in, n, n_out), x


def boundary_values() -> np.ndarray:
    """Integers at and around ±2^k for every k < 40, and 0."""
    powers = np.int64(1) << np.arange(40, dtype=np.int64)
    near = (powers[:, None] + np.arange(-2, 3)).ravel()
    return np.unique(np.concatenate([near, -near, [0]]))


def test_helpers_mirror_numerics():
    """Each scalar helper equals its numerics function on every boundary value."""
    x = boundary_values()
    helper = lambda f, *args: np.array([f(v, *args) for v in x], dtype=np.int64)  # noqa: E731
    for d in (0, 1, 7, 2047, 4095, 4096):
        np.testing.assert_array_equal(helper(fixed_kernel._decay12, d), numerics.decay12(x, d))
    for e in range(-9, 10):
        np.testing.assert_array_equal(helper(fixed_kernel._shift, e), numerics.shift(x, e))
    for bits in (24, 32):
        np.testing.assert_array_equal(helper(fixed_kernel._wrap_signed, bits), numerics.wrap_signed(x, bits)[0])
        np.testing.assert_array_equal(helper(fixed_kernel._saturate_signed, bits), numerics.saturate_signed(x, bits)[0])
    np.testing.assert_array_equal(helper(fixed_kernel._wrap_lava_u, 24), numerics.wrap_lava_u(x, 24)[0])


def one_layer(kind: str, w_in: list[list[int]], e_in: int, vth: int, a_inc: int = 0) -> FixedGraph:
    """n = len(w_in) neurons without decay (u: full decay, du + 1 = 4096), no recurrence, one readout."""
    n = len(w_in)
    full = lambda v: np.full(n, v, dtype=np.int64)  # noqa: E731
    dense = lambda w, e: FixedDense(np.array(w, np.int64), np.ones(np.shape(w), bool), e)  # noqa: E731
    neurons = FixedNeurons(kind=kind, dv=full(0), vth=full(vth), da=full(0), a_inc=full(a_inc), n_ref=full(0),
                           du=full(4095), bias=full(0), populations=(("p", kind, 0, n),))
    return FixedGraph(name="edge", profile="loihi", hw_name="loihi2", hw_sha256="", dt_ms=1.0, neurons=neurons,
                      readout=FixedReadout(dy=np.zeros(1, np.int64)), w_in=dense(w_in, e_in),
                      w_rec=dense(np.zeros((n, n)), 0), w_out=dense(np.ones((1, n)), 0), v_scale=64.0, loss="mse")


def test_lava_u_wraps_at_lavas_boundaries():
    """u = a_in << 6 = −2^23 becomes +2^23, +2^23 stays, ±(2^23 + 2^15) fold: one input per step."""
    graph = one_layer("lava_lif", [[-256, 256, -257, 257]], 9, vth=2**17 - 1)
    x = np.eye(4, dtype=np.int64)[None]
    overflow = assert_same_run(graph, x)
    np.testing.assert_array_equal(emulate(graph, x)[0].states["u"][0, :, 0], [2**23, 2**23, 2**23 - 2**15, -(2**23) + 2**15])
    assert overflow["u"] == 3


def test_overflow_counters_in_the_references_order():
    """v and a saturate first in the same step (t1): the counters keep the step's order v, a."""
    graph = one_layer("alif", [[1, 255]], 10, vth=1000, a_inc=2**24)
    x = np.array([[[1, 0], [0, 1], [0, 1]]], dtype=np.int64)
    assert list(assert_same_run(graph, x)) == ["v", "a"]


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("probe_states", [True, False])
def test_conformance_cases_equal_reference(name, probe_states):
    graph, x = CASES[name]()
    assert_same_run(graph, x, probe_states)
    assert_same_run(graph, np.concatenate([x] * 3), probe_states)  # batched (threads)


@pytest.mark.parametrize("kind", sorted(fixed_kernel.KIND_CODES))
def test_random_graphs_equal_reference_at_every_boundary(kind):
    overflow = Counter()
    for seed in SEEDS:
        for batch in (1, 4):
            overflow.update(assert_same_run(*random_run(seed, kind, batch), probe_states=seed % 3 != 0))
    neuron_states = {"alif": ("v", "a"), "lava_lif": ("u", "v"), "izhikevich": ("v", "u"), "eprop_plus": ("v", "a")}[kind]
    reached = [k for k in ("activation_w_in", "activation_w_rec", "activation_w_out", "y", *neuron_states) if overflow[k]]
    assert len(reached) == 4 + len(neuron_states), f"boundaries not reached: {overflow}"


@pytest.mark.parametrize("shape", [(1, 0), (0, 5), (2, 1)])
def test_empty_and_one_step_runs(shape):
    graph, _ = random_run(3, "alif", 1)
    assert_same_run(graph, np.ones((*shape, graph.n_in), dtype=np.int64))


def test_serial_and_parallel_kernels_agree():
    graph, x = random_run(5, "lava_lif", 6)
    net = kernel_network(graph)
    for a, b in zip(fixed_kernel.run_batch(x, net, True), fixed_kernel.run_batch_parallel(x, net, True), strict=True):
        np.testing.assert_array_equal(a, b)


def test_quantized_model_equals_reference(tiny_model):
    graph = load_model(tiny_model)
    fixed = quantize(graph, load_hw("loihi2"))
    x = task_batch(graph, 3, seed=2).inputs
    assert_same_run(fixed, x)
    assert_same_run(fixed, x[:1], probe_states=False)


def test_inputs_must_be_three_dimensional():
    graph, x = random_run(1, "alif", 1)
    with pytest.raises(ValueError, match="batch, n_steps, n_in"):
        emulate(graph, x[0])
