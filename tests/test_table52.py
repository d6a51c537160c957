"""Evidence accumulation as Bellec et al.'s TensorFlow tutorial generates it (``gap_before_cue``), the example
model of that code (examples/evidence_accumulation_bellec2020.yaml) and the Table 5.2 benchmark's criterion."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from neuroport.errors import ModelError
from neuroport.ir.loader import load_model
from neuroport.tasks import make_task, task_of
from neuroport.tasks.poisson import SILENT_STEPS

ROOT = Path(__file__).resolve().parents[1]
BELLEC = ROOT / "examples/evidence_accumulation_bellec2020.yaml"
# A rate of 1000 Hz at dt = 1 ms spikes with probability 1: the spikes are the generator's rate pattern itself.
CERTAIN_HZ = 1000.0


def tf_click_task_rates(cues: np.ndarray, n_in: int = 40, seq_len: int = 2250, recall: int = 150, t_cue: int = 100,
                        t_interval: int = 150) -> np.ndarray:
    """Where generate_click_task_data (IGITUGraz/eligibility_propagation, e_prop_tutorials_Figure3_and_S7/tools.py)
    puts input spikes, written out from that code: cue k of side c on channels [c n, (c + 1) n) during
    [d + k t_interval, d + k t_interval + t_cue) with d = t_interval − t_cue; recall channels in the last ``recall``
    steps (background channels left out here: rate 0)."""
    n = n_in // 4
    on = np.zeros((cues.shape[0], seq_len, n_in), dtype=np.uint8)
    d = t_interval - t_cue
    for b, row in enumerate(cues):
        for k, c in enumerate(row):
            on[b, d + k * t_interval: d + k * t_interval + t_cue, c * n:(c + 1) * n] = 1
    on[:, -recall:, 2 * n:3 * n] = 1
    return on


def certain_task(**params):
    base = {"cue_rate_hz": CERTAIN_HZ, "background_rate_hz": 0.0, "side_probabilities": [0.3, 0.7]}
    return make_task("evidence_accumulation", base | params, n_in=40, n_out=2, dt_ms=1.0)


def cue_sides(inputs: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Side (0 left, 1 right) of every cue, read from the first step of each cue."""
    return (inputs[:, starts, 10:20].sum(axis=-1) > 0).astype(int)


def test_gap_before_cue_is_the_tensorflow_generator():
    batch = certain_task(gap_before_cue=True).batch(np.random.default_rng(3), 16)
    starts = 50 + 150 * np.arange(7)
    sides = cue_sides(batch.inputs, starts)
    expected = tf_click_task_rates(sides)
    expected[:, :SILENT_STEPS] = 0  # neuroport's Poisson trains leave the first steps silent (poisson.py)
    assert batch.inputs.shape == (16, 2250, 40)
    assert np.array_equal(batch.inputs, expected)
    assert np.array_equal(batch.labels, (sides.sum(axis=1) > 3).astype(int))  # TF: sum of cue sides > n_cues // 2
    assert np.all(batch.loss_mask[:, -150:]) and not np.any(batch.loss_mask[:, :-150])
    # the last cue ends at 1050 ms and 1050 ms of background come before the recall cue
    assert not batch.inputs[:, 1050:2100, :30].any() and batch.inputs[:, 1049, :20].any(axis=-1).all()


def test_without_gap_before_cue_the_cue_leads_its_period():
    batch = certain_task().batch(np.random.default_rng(3), 8)
    starts = 150 * np.arange(7) + SILENT_STEPS  # cue k from 150 k (the first steps are silent)
    assert batch.inputs[:, starts, :20].any(axis=-1).all()
    assert not batch.inputs[:, 100:150, :20].any()


def test_side_probabilities_are_drawn_per_sequence():
    batch = certain_task(gap_before_cue=True).batch(np.random.default_rng(0), 4000)
    left_share = 1 - cue_sides(batch.inputs, 50 + 150 * np.arange(7)).mean(axis=1)
    assert abs(np.mean(left_share) - 0.5) < 0.02
    assert abs(np.mean(left_share[left_share > 0.5]) - np.mean(left_share[left_share < 0.5]) - 0.4) < 0.15


def test_bellec2020_example_is_the_tensorflow_setting():
    graph = load_model(BELLEC)
    task = task_of(graph)
    assert task.n_steps == 7 * 150 + 1200 and task.cue_offset == 50
    assert graph.task.params["side_probabilities"] == [0.3, 0.7]
    assert not graph.readout.regular_spike_arrival and graph.learning.average_gradient
    assert graph.learning.c_reg == 2 * 150 * 1.0  # reg_f 1 in TF's loss scale (the YAML's comment)
    assert graph.learning.optimizer.learning_rate == 0.005 and graph.learning.batch_size == 64


def test_gap_before_cue_must_be_a_bool(tmp_path):
    data = yaml.safe_load(BELLEC.read_text())
    data["task"]["params"]["gap_before_cue"] = "yes"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ModelError, match="gap_before_cue"):
        load_model(bad)
    cli = subprocess.run([sys.executable, "-m", "neuroport.cli", "check", str(bad)], capture_output=True, text=True)
    assert cli.returncode == 2 and "task.params.gap_before_cue" in cli.stderr and "Traceback" not in cli.stderr


def _benchmark():
    """benchmarks/reproduce_table_5_2.py as a module (registered first: its dataclass looks itself up there)."""
    name = "reproduce_table_5_2"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks/reproduce_table_5_2.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def test_criterion_is_a_window_of_eight_batches():
    bench = _benchmark()
    assert bench.solved_at([0.5] * 20) is None
    errors = [0.5] * 10 + [0.0] * 7  # iterations 10–17 (1-based) average 0.5 / 8 = 0.0625
    assert bench.solved_at(errors) == 17
    assert bench.solved_at([0.5] * 10 + [0.0] * 6) is None


@pytest.mark.parametrize("row", ["bptt", "random", "random_tf_b", "symmetric", "adaptive", "rewiring", "reward"])
def test_every_row_builds_its_model(row):
    bench = _benchmark()
    graph = bench.row_graph(bench.ROWS[row], seed=2)
    assert graph.seed == 2 and task_of(graph).n_steps == 2250


def test_a_run_stopped_by_sigterm_is_saved(tmp_path, monkeypatch):
    import json
    import os
    import signal

    from neuroport.training.eprop import IterationStats

    bench = _benchmark()

    def engine(_graph, _cap, on_iteration):
        for it in range(3):
            on_iteration(IterationStats(it, 1.0, 0.5, 10.0))
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setitem(bench.ENGINES, "numpy", engine)
    before = signal.getsignal(signal.SIGTERM)
    record = bench.run("random", 1, 800, tmp_path)
    saved = json.loads((tmp_path / "random-seed1.json").read_text())
    assert record["stopped_by"] == saved["stopped_by"] == "SIGTERM"
    assert saved["cap"] == saved["iterations_run"] == 3 and saved["solved_at"] is None
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is restored


def test_a_stopped_unsolved_run_is_left_out_of_the_median(tmp_path):
    from neuroport import jsonio

    bench = _benchmark()
    runs = [("random", 1, 400, 900, None), ("random", 2, None, 250, "SIGTERM"), ("symmetric", 1, None, 800, None)]
    for row, seed, solved, cap, stopped in runs:
        (tmp_path / f"{row}-seed{seed}.json").write_text(jsonio.dumps(
            {"row": row, "seed": seed, "cap": cap, "solved_at": solved, "seconds": 1.0, "stopped_by": stopped,
             "history": []}))
    summary, _ = bench.summarize(tmp_path)
    assert summary["rows"]["random"]["median"] == 400 and summary["rows"]["random"]["within_30_percent"]
    assert summary["rows"]["symmetric"]["median"] is None  # reached its cap unsolved: no count
    text = bench.table(summary)
    assert "| random e-prop | 400, > 250 (stopped) | 400 | 308 | 1.30 | yes |" in text
    assert "| symmetric e-prop | > 800 | — | 309 | — | no |" in text
