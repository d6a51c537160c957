"""neuroport explore: a real LocalCluster equals the serial run bit for bit, resuming recomputes nothing, a killed
worker loses nothing, bad spaces are one clear line, the Pareto front by hand."""

from __future__ import annotations

import copy
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from neuroport.cli import main
from tests.conftest import TINY

pytest.importorskip("distributed")


def tiny_space(folder: Path, axes: dict | None = None, **settings) -> Path:
    model = copy.deepcopy(TINY)
    (folder / "tiny.yaml").write_text(yaml.safe_dump(model))
    doc = {"explore": 1, "name": "tiny", "samples": 4, **settings,
           "axes": axes or {"model": ["tiny.yaml"], "hw": ["loihi1", "loihi2"], "weight_bits": [4, 8]}}
    (folder / "space.yaml").write_text(yaml.safe_dump(doc))
    return folder / "space.yaml"


def explore(capsys, *args) -> dict:
    main(["explore", *map(str, args), "--json"])
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            Client(lc, set_as_default=False) as client:
        yield lc, client


def test_local_cluster_equals_serial_bit_for_bit_and_resume_recomputes_nothing(tmp_path, capsys, cluster):
    space = tiny_space(tmp_path)
    serial = explore(capsys, space, "--serial", "-o", tmp_path / "serial")
    parallel = explore(capsys, space, "--scheduler", cluster[0].scheduler_address, "-o", tmp_path / "dask")
    assert serial["points"] == parallel["points"] == 4 and serial["failed"] == 0
    assert (tmp_path / "serial/results.csv").read_bytes() == (tmp_path / "dask/results.csv").read_bytes()
    assert serial["rows"] == parallel["rows"]
    if serial["parquet"]:  # pyarrow installed: the same table as Parquet
        import pyarrow.parquet as pq

        table = pq.read_table(serial["parquet"])
        assert table.num_rows == 4 and table.column("energy_j").to_pylist() == [r["energy_j"] for r in serial["rows"]]
    stored = sorted((tmp_path / "dask/points").glob("*.json"))
    mtimes = [p.stat().st_mtime_ns for p in stored]
    again = explore(capsys, space, "--scheduler", cluster[0].scheduler_address, "-o", tmp_path / "dask", "--resume")
    assert (again["computed"], again["reused"]) == (0, 4)
    assert [p.stat().st_mtime_ns for p in stored] == mtimes  # no point file rewritten
    assert again["rows"] == parallel["rows"]
    # weight width changes the fixed-point run: 4-bit weights differ from 8-bit ones in spikes
    by_bits = {(r["hw"], r["weight_bits"]): r for r in serial["rows"]}
    assert by_bits[("loihi2", 4)]["spike_agreement"] != by_bits[("loihi2", 8)]["spike_agreement"]
    assert by_bits[("loihi2", 4)]["float_score"] == by_bits[("loihi2", 8)]["float_score"]  # same float model


def test_resume_runs_only_missing_points(tmp_path, capsys):
    space = tiny_space(tmp_path, {"model": ["tiny.yaml"], "hw": ["loihi2"], "weight_bits": [6, 8]})
    first = explore(capsys, space, "--workers", 0, "-o", tmp_path / "out")
    victim = tmp_path / "out/points" / f"{first['rows'][0]['key']}.json"
    victim.unlink()
    again = explore(capsys, space, "--workers", 0, "-o", tmp_path / "out", "--resume")
    assert (again["computed"], again["reused"]) == (1, 1) and again["rows"] == first["rows"]


def test_point_axes_edit_the_model(tmp_path, capsys):
    from neuroport.explore.point import edited_model

    doc = edited_model(copy.deepcopy(TINY), {"size": 20, "connectivity": 0.5, "learning_rate": 0.02, "seed": 9})
    assert [p["size"] for p in doc["populations"]] == [12, 8]  # 6:4 scaled to 20
    assert [p.get("connection_probability") for p in doc["projections"]] == [None, 0.5, None]  # recurrent only
    assert doc["learning"]["optimizer"]["learning_rate"] == 0.02 and doc["seed"] == 9
    space = tiny_space(tmp_path, {"model": ["tiny.yaml"], "size": [6, 14], "train_iterations": [0, 1]},
                       train_batch_size=2)
    rows = explore(capsys, space, "--serial", "-o", tmp_path / "out")["rows"]
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert len({r["energy_j"] for r in rows if r["train_iterations"] == 0}) == 2  # the size changes the cost


def test_pareto_front_by_hand():
    from neuroport.explore.results import pareto_front

    rows = [{"key": k, "status": "ok", "metric": "accuracy", "edp_js": c, "fixed_score": s}
            for k, c, s in [("a", 1.0, 0.5), ("b", 2.0, 0.7), ("c", 2.0, 0.6), ("d", 3.0, 0.65), ("e", 4.0, 0.9)]]
    assert [r["key"] for r in pareto_front(rows, "edp_js")] == ["a", "b", "e"]
    mse = [dict(r, metric="mse") for r in rows]
    assert [r["key"] for r in pareto_front(mse, "edp_js")] == ["a"]


@pytest.mark.parametrize("axes, path, message", [
    ({"model": ["tiny.yaml"], "bits": [4]}, "axes.bits", "unknown axis 'bits'"),
    ({"model": ["tiny.yaml"], "hw": []}, "axes.hw", "empty axis"),
    ({"model": ["tiny.yaml"], "hw": ["loihi2"], "weight_bits": [8, 12]}, "axes.weight_bits[1]",
     "12 bits is more than loihi2 holds (numerics.weight.bits = 8)"),
    ({"model": ["tiny.yaml"], "hw": ["spinnaker2"], "v_bits": [16]}, "axes.v_bits[0]", "needs v_bits > params.weight_bits + 1"),
    ({"model": ["tiny.yaml"], "hw": ["loihi3"]}, "axes.hw[0]", "unknown hardware config 'loihi3'"),
    ({"model": ["tiny.yaml"], "connectivity": [1.5]}, "axes.connectivity[0]", "a probability in (0, 1]"),
    ({"hw": ["loihi2"]}, "axes", "needs at least one model"),
])
def test_bad_spaces_are_one_line(tmp_path, capsys, axes, path, message):
    space = tiny_space(tmp_path, axes)
    with pytest.raises(SystemExit) as exit_info:
        main(["explore", str(space), "--serial", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: {space}: {path}: ") and message in err


@pytest.mark.parametrize("command", ["explore", "train"])
def test_unreachable_scheduler_is_one_line_within_10_s(tmp_path, capsys, monkeypatch, command):
    """explore reads DASK_SCHEDULER_ADDRESS, train gets --scheduler: both answer in one line, exit 2, within 10 s."""
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    space = tiny_space(tmp_path)
    if command == "explore":
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", f"tcp://127.0.0.1:{port}")
        argv = ["explore", str(space), "-o", str(tmp_path / "o")]
    else:
        argv = ["train", str(tmp_path / "tiny.yaml"), "-i", "1", "--scheduler", f"tcp://127.0.0.1:{port}", "-o", str(tmp_path / "o")]
    start = time.monotonic()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert time.monotonic() - start < 10 and exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}") and err.count("\n") == 1


def test_a_failed_point_is_recorded_and_the_rest_go_on(tmp_path, capsys):
    space = tiny_space(tmp_path, {"model": ["tiny.yaml"], "hw": ["loihi2"], "size": [1, 10]})  # 1 < 2 populations
    out = explore(capsys, space, "--serial", "-o", tmp_path / "out")
    status = {r["size"]: (r["status"], r["error"]) for r in out["rows"]}
    assert status[10] == ("ok", None)
    assert status[1][0] == "failed" and "smaller than the model's 2 populations" in status[1][1]
    assert out["failed"] == 1 and len(list((tmp_path / "out/points").glob("*.json"))) == 2


def test_killed_worker_loses_nothing(tmp_path, cluster):
    """A worker is killed (SIGKILL) after the first point finishes: its running point is rescheduled, every point
    ends in the store, and the results equal the serial run's."""
    from neuroport.explore.run import run_points
    from neuroport.explore.space import load_space
    from neuroport.explore.store import PointStore

    lc, client = cluster
    space = load_space(tiny_space(tmp_path, {"model": ["tiny.yaml"], "hw": ["loihi1", "loihi2"], "weight_bits": [3, 5, 7]}))
    points = space.points()
    pids = client.run(os.getpid)
    killed = []

    def kill_one(record) -> None:
        if not killed:
            busy = [w for w, tasks in client.processing().items() if tasks]
            victim = busy[0] if busy else next(iter(pids))
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    store = PointStore(tmp_path / "dask")
    run_points(points, store, client, on_record=kill_one)
    assert killed and sorted(store.keys()) == sorted(p.key for p in points)
    records = [store.get(p.key) for p in points]
    assert all(r["status"] in ("ok", "failed") for r in records)
    serial = PointStore(tmp_path / "serial")
    run_points(points, serial)
    for rec in records:
        if rec["status"] == "ok":
            assert rec["results"] == serial.get(rec["key"])["results"]
    assert sum(r["status"] == "ok" for r in records) >= len(points) - 1
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker
    assert np.isfinite([r["results"]["energy_j"] for r in records if r["status"] == "ok"]).all()
