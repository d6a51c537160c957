"""Bulk host I/O (backends/loihi/host_io.py) against Lava's own value-by-value Var I/O: what a DUMP copies out of a
running process model equals ``Var.get``, and what a LOAD writes is what ``Var.get`` then reads — for neuroport's
neuron (recorded tables and states) and for Lava's own Dense buffer."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from neuroport.hw import load_hw
from neuroport.ir import load_model
from neuroport.pipeline import quantize, task_batch

pytestmark = pytest.mark.lava


def test_bulk_io_equals_lavas_var_io(tiny_model):
    from neuroport.backends.loihi.host_io import attach, release, with_host_io
    from neuroport.backends.loihi.runner import _fixed_pt_model, _import_lava, _inference_graph, lava_session

    _import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    graph = load_model(tiny_model)
    fixed = quantize(graph, load_hw("loihi2"))
    x = task_batch(graph, 1, seed=3).inputs[:, :30]
    procs = _inference_graph(fixed, x)
    neurons, w_rec = procs["neurons"], procs["dense"]["w_rec"]
    io = attach(neurons, out=("v_rec", "z_rec", "v"), into=("v", "a"))
    io_dense = attach(w_rec, out=("a_buff",), into=("a_buff",))
    others = [attach(d) for name, d in procs["dense"].items() if name != "w_rec"]  # every process of a mapped type
    models = {type(p): with_host_io(_fixed_pt_model(p)) for p in (neurons, w_rec)}
    try:
        with lava_session(neurons, Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=models)):
            neurons.run(condition=RunSteps(num_steps=31))
            dumped = io.dump()
            for name in ("v_rec", "z_rec", "v"):
                np.testing.assert_array_equal(dumped[name], getattr(neurons, name).get(), err_msg=name)
            assert np.count_nonzero(dumped["v_rec"]) > 10 and dumped["z_rec"].sum() > 0
            np.testing.assert_array_equal(io_dense.dump()["a_buff"], w_rec.a_buff.get())
            io.into["v"][:] = np.arange(len(io.into["v"])) - 3
            io.into["a"][:] = 7
            io.load()
            np.testing.assert_array_equal(neurons.v.get(), np.arange(len(io.into["v"])) - 3)
            np.testing.assert_array_equal(neurons.a.get(), 7)
            io_dense.zero()
            np.testing.assert_array_equal(w_rec.a_buff.get(), 0)
    finally:
        for each in (io, io_dense, *others):
            release(each)
    assert multiprocessing.active_children() == []
