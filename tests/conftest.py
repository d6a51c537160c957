"""Shared fixtures: small seeded models written into temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))

TINY = {
    "neuroport": 1,
    "name": "tiny",
    "dt_ms": 1.0,
    "seed": 3,
    "input": {"name": "in", "size": 8},
    "populations": [
        {"name": "lif", "model": "lif", "size": 6, "tau_m_ms": 20.0, "v_th": 0.6, "t_ref_ms": 2.0},
        {"name": "alif", "model": "alif", "size": 4, "tau_m_ms": 20.0, "v_th": 0.6, "t_ref_ms": 2.0,
         "tau_a_ms": 200.0, "beta": 0.2},
    ],
    "readout": {"name": "out", "size": 2, "tau_out_ms": 20.0, "loss": "cross_entropy"},
    "projections": [
        {"name": "input", "source": "in", "target": ["lif", "alif"], "init": {"distribution": "normal", "gain": 3.0}},
        {"name": "rec", "source": ["lif", "alif"], "target": ["lif", "alif"], "init": {"distribution": "normal"},
         "zero_diagonal": True},
        {"name": "out", "source": ["lif", "alif"], "target": "out", "init": {"distribution": "glorot_uniform"}},
    ],
    "learning": {"feedback": "random", "optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 4,
                 "regularization": {"c_reg": 1.0, "f_target_hz": 10.0}},
    "task": {"name": "evidence_accumulation",
             "params": {"n_cues": 3, "cue_ms": 20, "gap_ms": 10, "delay_ms": 30, "recall_ms": 20}},
}

# examples/multilayer.yaml in miniature: clock → l1, l1 ↔ l1, l1 → l2, l2 ↔ l2, l2 → readout.  Every layer is a
# block of the assembled w_rec (l1: neurons 0–5, l2: 6–10); a spike of l1 at step t reaches l2 at t + 1; there is no
# l2 → l1 block and no input to l2, so those entries of w_rec and w_in are absent synapses.  Random feedback gives
# l1 its own rows of B (it has no readout synapses).
TWO_LAYER = {
    "neuroport": 1,
    "name": "two_layer",
    "dt_ms": 1.0,
    "seed": 6,
    "input": {"name": "clock", "size": 4},
    "populations": [
        {"name": "l1", "model": "lif", "size": 6, "tau_m_ms": 20.0, "v_th": 0.6, "t_ref_ms": 0.0,
         "surrogate": {"function": "piecewise_linear", "gamma": 0.3, "beta": 1.0}},
        {"name": "l2", "model": "lif", "size": 5, "tau_m_ms": 20.0, "v_th": 0.6, "t_ref_ms": 0.0,
         "surrogate": {"function": "piecewise_linear", "gamma": 0.3, "beta": 1.0}},
    ],
    "readout": {"name": "signal", "size": 1, "tau_out_ms": 20.0, "loss": "mse"},
    "projections": [
        {"name": "input", "source": "clock", "target": "l1", "init": {"distribution": "normal", "gain": 3.0}},
        {"name": "l1_recurrent", "source": "l1", "target": "l1", "init": {"distribution": "normal", "gain": 1.0},
         "zero_diagonal": True},
        {"name": "l1_to_l2", "source": "l1", "target": "l2", "init": {"distribution": "normal", "gain": 3.0}},
        {"name": "l2_recurrent", "source": "l2", "target": "l2", "init": {"distribution": "normal", "gain": 1.0},
         "zero_diagonal": True},
        {"name": "output", "source": "l2", "target": "signal", "init": {"distribution": "normal", "gain": 0.5}},
    ],
    "learning": {"feedback": "random", "feedback_init": {"distribution": "normal"},
                 "optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 2,
                 "regularization": {"c_reg": 1.0, "f_target_hz": 10.0}},
    "task": {"name": "pattern_generation",
             "params": {"duration_ms": 60, "n_groups": 2, "rate_hz": 200.0, "frozen_input": False, "pattern_seed": 1}},
}


def write_yaml(folder: Path, doc: dict, name: str = "model.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def tiny_doc() -> dict:
    import copy

    return copy.deepcopy(TINY)


@pytest.fixture
def two_layer_doc() -> dict:
    import copy

    return copy.deepcopy(TWO_LAYER)


@pytest.fixture
def tiny_model(tmp_path, tiny_doc) -> Path:
    return write_yaml(tmp_path, tiny_doc)
