"""Data-parallel training: a batch split into shards gives the single-process run's loss curve and weights to
1e-12 (supervised e-prop in both modes, reward-based e-prop, BPTT in float64) and on-chip training bit for bit;
Dask workers give the in-process shard split bit for bit; a real `dask scheduler` + 2 `dask worker` processes
train through the CLI to the single-process weights."""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from neuroport.cli import main
from neuroport.ir import load_model
from neuroport.training.eprop import train_eprop
from neuroport.training.onchip import train_onchip
from neuroport.training.parallel import InProcessShards, shard_bounds, split_batch
from tests.conftest import TINY
from tests.test_reward_eprop import tiny_doc as reward_doc

pytest.importorskip("distributed")


def load(tmp_path, doc, name="model.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return load_model(path)


def supervised(tmp_path, batch_size=6):
    doc = copy.deepcopy(TINY)
    doc["learning"]["batch_size"] = batch_size
    return load(tmp_path, doc)


def assert_same_run(a, b, rtol: float) -> None:
    """Weights of every projection and the loss curve agree to ``rtol`` relative (0: bit for bit)."""
    for pa, pb in zip(a.graph.projections, b.graph.projections, strict=True):
        scale = np.max(np.abs(pa.weights))
        assert np.max(np.abs(pa.weights - pb.weights)) <= rtol * scale, pa.name
    la, lb = np.array([h.loss for h in a.history]), np.array([h.loss for h in b.history])
    np.testing.assert_allclose(lb, la, rtol=rtol, atol=0)
    assert [h.error for h in a.history] == [h.error for h in b.history]


def test_shards_cover_the_batch_in_order():
    assert shard_bounds(7, 3) == [(0, 3), (3, 5), (5, 7)]
    assert shard_bounds(2, 4) == [(0, 1), (1, 2)]  # never an empty shard
    from neuroport.tasks import make_task

    b = make_task("evidence_accumulation", {"n_cues": 3, "cue_ms": 5, "gap_ms": 5, "delay_ms": 5, "recall_ms": 5},
                  n_in=8, n_out=2, dt_ms=1.0).batch(np.random.default_rng(0), 5)
    parts = split_batch(b, 2)
    assert np.array_equal(np.concatenate([p.inputs for p in parts]), b.inputs)
    assert np.array_equal(np.concatenate([p.labels for p in parts]), b.labels)


@pytest.mark.parametrize("mode", ["sequence", "online"])
def test_supervised_shards_equal_single_process(tmp_path, mode):
    graph = supervised(tmp_path)
    single = train_eprop(graph, 4, mode=mode)
    assert_same_run(single, train_eprop(graph, 4, mode=mode, shards=InProcessShards(3)), rtol=1e-12)


def test_reward_based_shards_equal_single_process(tmp_path):
    graph = load(tmp_path, reward_doc())
    single = train_eprop(graph, 4)
    sharded = train_eprop(graph, 4, shards=InProcessShards(2))
    assert_same_run(single, sharded, rtol=1e-12)
    assert [h.train_error for h in single.history] == [h.train_error for h in sharded.history]  # same sampled actions
    np.testing.assert_allclose(sharded.graph.learning.reward.value_weights, single.graph.learning.reward.value_weights,
                               rtol=1e-12, atol=1e-15)


def test_bptt_shards_equal_single_process_in_float64(tmp_path):
    pytest.importorskip("torch")
    import torch

    from neuroport.ir.network import assemble
    from neuroport.training.bptt import bptt_train_on_batches
    from neuroport.training.eprop import draw_batches

    graph = supervised(tmp_path)
    net, batches = assemble(graph), draw_batches(graph, 3)
    single = bptt_train_on_batches(net, graph.learning, batches, dtype=torch.float64)
    sharded = bptt_train_on_batches(net, graph.learning, batches, dtype=torch.float64, shards=InProcessShards(2))
    for name, w in single.weights.items():
        assert np.max(np.abs(sharded.weights[name] - w)) <= 1e-12 * np.max(np.abs(w)), name
    np.testing.assert_allclose([h.loss for h in sharded.history], [h.loss for h in single.history], rtol=1e-12)


def test_on_chip_shards_equal_single_process_bit_for_bit(tmp_path):
    graph = supervised(tmp_path)
    single = train_onchip(graph, 3, chips=5, held_out=3)
    sharded = train_onchip(graph, 3, chips=5, held_out=3, shards=InProcessShards(2))
    assert single.history == sharded.history
    for name, dense in single.fixed.dense().items():
        assert np.array_equal(dense.weights, sharded.fixed.dense()[name].weights), name


def test_dask_workers_equal_the_in_process_split(tmp_path):
    from distributed import Client, LocalCluster

    from neuroport.training.parallel import DaskShards

    graph, reward = supervised(tmp_path), load(tmp_path, reward_doc(), "reward.yaml")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            Client(lc, set_as_default=False) as client:
        shards = DaskShards(client)
        assert shards.n_shards == 2
        assert_same_run(train_eprop(graph, 2, shards=InProcessShards(2)), train_eprop(graph, 2, shards=shards), rtol=0)
        assert_same_run(train_eprop(reward, 2, shards=InProcessShards(2)), train_eprop(reward, 2, shards=shards), rtol=0)
        on_chip = train_onchip(graph, 2, chips=4, held_out=2, shards=shards)
    assert on_chip.history == train_onchip(graph, 2, chips=4, held_out=2).history


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dask_scheduler_and_two_workers_train_to_the_single_process_weights(tmp_path, capsys):
    from distributed import Client

    doc = copy.deepcopy(TINY)
    doc["learning"]["batch_size"] = 6
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(doc))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = []
    try:
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                       "--port", str(port), "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                           "--host", "127.0.0.1", "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while True:  # the scheduler takes a moment to listen
            try:
                with Client(address, timeout="5s", set_as_default=False) as client:
                    client.wait_for_workers(2, timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        with Client(address, timeout="5s", set_as_default=False) as client:
            counter = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
            main(["train", str(tmp_path / "model.yaml"), "-i", "2", "--scheduler", address, "-o", str(tmp_path / "dask"), "--json"])
            assert json.loads(capsys.readouterr().out)["iterations"] == 2
            # the scheduler ran the shards: 2 iterations × 2 shard tasks, each through several transitions
            assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter) >= counter + 4 * 3
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    one = train_eprop(load_model(tmp_path / "model.yaml"), 2)  # the single-process run (what `train` without workers runs)
    dask_w = np.load(tmp_path / "dask/model.weights.npz")
    for proj in one.graph.projections:
        scale = np.max(np.abs(proj.weights))
        assert np.max(np.abs(dask_w[proj.name] - proj.weights)) <= 1e-12 * scale, proj.name
    dask_curve = json.loads((tmp_path / "dask/curve.json").read_text())["history"]
    np.testing.assert_allclose([h["loss"] for h in dask_curve], [h.loss for h in one.history], rtol=1e-12)


def test_train_refuses_workers_for_nest_and_unsupported_variants(tmp_path, capsys):
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(copy.deepcopy(TINY)))
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(path), "--engine", "nest", "--workers", "2", "-i", "1"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--engine nest does not split batches across Dask workers" in err
    from neuroport.errors import UnsupportedError
    from neuroport.training.eprop import refuse_shards

    with pytest.raises(UnsupportedError, match="does not support 'eprop_plus' models"):
        refuse_shards(InProcessShards(2), "eprop_plus")


def test_worker_thread_pools_share_the_cores_unless_told(monkeypatch):
    """Each LocalCluster worker's numba/BLAS pools: the cores divided among the workers, or ``threads`` if given
    (benchmarks/explore_scaling.py compares 1 worker × 1 thread with 2 workers × 1 thread)."""
    from neuroport.explore import cluster

    monkeypatch.setattr(cluster, "default_workers", lambda: 8)
    assert cluster.worker_env(2)["NUMBA_NUM_THREADS"] == "4"
    assert cluster.worker_env(16)["OMP_NUM_THREADS"] == "1"
    assert set(cluster.worker_env(1, threads=1).values()) == {"1"}
    assert set(cluster.worker_env(2, threads=3).values()) == {"3"}
