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


def write_yaml(folder: Path, doc: dict, name: str = "model.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def tiny_doc() -> dict:
    import copy

    return copy.deepcopy(TINY)


@pytest.fixture
def tiny_model(tmp_path, tiny_doc) -> Path:
    return write_yaml(tmp_path, tiny_doc)
