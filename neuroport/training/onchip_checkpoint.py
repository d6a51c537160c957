"""Checkpoints of on-chip training on loihi-sim: the chip state between two sequences, written atomically and
refused whole when it is corrupt or belongs to another run.

A checkpoint is an artifact (:mod:`neuroport.ir.artifact`: manifest with sha256 of every array) of the model with
the chip's learned weights, plus, as extra arrays, per learning synapse matrix its tags and traces as Lava holds
them (zero: the host zeroes them between sequences) and its learning engine's clock and random streams
(:mod:`neuroport.emulator.engine_state`); the manifest's ``extra`` holds the sequence index, the state of the
generator the training sequences are drawn from, the schedule phase (the sequence its stage began at, −1 before
the first) and the fingerprint of the run: sha256 of the quantized model with its task and feedback matrix, the hw
config's sha256, and sha256 of the run's settings (hw name, rates, schedule, seed).

Layout under the run's folder: ``checkpoints/seq-NNNNNN/`` (one artifact) and ``checkpoints/LATEST`` (the name
of the newest).  A checkpoint is written into a hidden temporary folder, renamed into place, then LATEST is
replaced (``os.replace``, atomic) and older checkpoints are removed: a run killed at any moment leaves LATEST
naming a complete checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from neuroport.emulator.engine_state import SIZE
from neuroport.errors import ArtifactError
from neuroport.ir.artifact import graph_sha256, load_artifact_extra, save_artifact
from neuroport.ir.fixed_graph import FixedGraph

KIND = "neuroport-onchip-checkpoint"
VERSION = 1
LATEST = "LATEST"
NAME = re.compile(r"seq-\d{6}")
TRACES = ("tag_1", "tag_2", "x1", "x2")


@dataclass
class ChipState:
    """The chip between two sequences (module docstring); ``engines`` empty: a chip not started yet."""

    sequence: int
    weights: dict[str, np.ndarray]  # learning matrices: (post, pre) mantissas, absent synapses 0
    traces: dict[str, np.ndarray] = field(default_factory=dict)  # "<matrix>.<trace>"
    engines: dict[str, np.ndarray] = field(default_factory=dict)  # matrix → engine state vector
    data_rng: dict[str, Any] = field(default_factory=dict)  # bit_generator.state of the sequence stream
    phase: int = -1  # the sequence the schedule stage in effect began at, −1: the base rates


def fingerprint(fixed: FixedGraph, task: dict, feedback: np.ndarray, run: dict) -> dict[str, str]:
    """sha256 of the model (quantized graph, task, feedback matrix), the hw config and the run's settings."""
    def sha(value) -> str:
        return hashlib.sha256(value if isinstance(value, bytes) else
                              json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()

    model = sha(json.dumps([graph_sha256(fixed), task, sha(np.ascontiguousarray(feedback, np.int64).tobytes())]).encode())
    return {"model_sha256": model, "hw_sha256": str(fixed.hw_sha256), "run_sha256": sha(run)}


def with_weights(fixed: FixedGraph, weights: dict[str, np.ndarray]) -> FixedGraph:
    """``fixed`` with the Dense matrices named in ``weights`` holding those weights."""
    return replace(fixed, **{k: replace(getattr(fixed, k), weights=np.asarray(w, np.int64)) for k, w in weights.items()})


def save_checkpoint(root: Path, fixed: FixedGraph, state: ChipState, prints: dict[str, str]) -> Path:
    """Write ``state`` of the chip running ``fixed`` under ``root`` (module docstring: atomic); returns its folder."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"seq-{state.sequence:06d}"
    tmp, final = root / f".{name}.tmp-{os.getpid()}", root / name
    shutil.rmtree(tmp, ignore_errors=True)
    arrays = {**{f"trace.{k}": v for k, v in state.traces.items()}, **{f"engine.{k}": v for k, v in state.engines.items()}}
    extra = {"kind": KIND, "version": VERSION, "sequence": state.sequence, "phase": state.phase,
             "data_rng": state.data_rng, "learning": sorted(state.weights), **prints}
    save_artifact(with_weights(fixed, state.weights), tmp, extra=extra, extra_arrays=arrays)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer = root / f".{LATEST}.tmp-{os.getpid()}"
    pointer.write_text(name + "\n", encoding="utf-8")
    os.replace(pointer, root / LATEST)
    for old in root.iterdir():
        if old.is_dir() and NAME.fullmatch(old.name) and old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest(root: Path) -> Path:
    """The folder LATEST names; an ArtifactError when there is none."""
    pointer = root / LATEST
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ArtifactError("no checkpoint to resume from (no checkpoints/LATEST): run without --resume",
                            file=str(root)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"unreadable checkpoint pointer ({exc})", file=str(pointer)) from None
    if not NAME.fullmatch(name):
        raise ArtifactError(f"corrupt checkpoint pointer: {name[:40]!r} is not a checkpoint name (seq-NNNNNN)", file=str(pointer))
    return root / name


def load_checkpoint(root: Path, fixed: FixedGraph, learning: list[str], prints: dict[str, str], total: int) -> ChipState:
    """The newest checkpoint under ``root``, verified whole against the run (``fixed``: the model as quantized,
    ``learning``: its learning matrices, ``prints``: the run's :func:`fingerprint`, ``total``: sequences asked
    for) before any of it is used; an ArtifactError naming the first problem otherwise."""
    folder = latest(root)
    graph, extra, arrays = load_artifact_extra(folder)
    problem = _problem(graph, extra, arrays, fixed, learning, prints, total)
    if problem:
        raise ArtifactError(f"checkpoint refused: {problem}", file=str(folder))
    return ChipState(sequence=int(extra["sequence"]), weights={k: getattr(graph, k).weights for k in learning},
                     traces={k[len("trace."):]: v.astype(np.int64) for k, v in arrays.items() if k.startswith("trace.")},
                     engines={k[len("engine."):]: v.astype(np.int64) for k, v in arrays.items() if k.startswith("engine.")},
                     data_rng=extra["data_rng"], phase=int(extra["phase"]))


def _problem(graph, extra, arrays, fixed, learning, prints, total) -> str | None:
    """Why a loaded checkpoint does not belong to this run, or None."""
    return _run_problem(extra, prints, total) or _state_problem(graph, extra, arrays, fixed, learning)


def _run_problem(extra: dict, prints: dict[str, str], total: int) -> str | None:
    """Kind, version, fingerprint, sequence index, phase and data generator of the manifest's ``extra``."""
    if extra.get("kind") != KIND or extra.get("version") != VERSION:
        return f"not an on-chip checkpoint of version {VERSION} (kind {extra.get('kind')!r}, version {extra.get('version')!r})"
    for key, value in prints.items():
        if extra.get(key) != value:
            what = {"model_sha256": "model (quantized weights, task or feedback)", "hw_sha256": "hw config",
                    "run_sha256": "run settings (--hw, --rates, --schedule or --seed)"}[key]
            return f"it was written for a different {what}: {key} {str(extra.get(key))[:12]}… ≠ {value[:12]}…"
    sequence = extra.get("sequence")
    if not isinstance(sequence, int) or isinstance(sequence, bool) or not 0 < sequence <= total:
        return f"its sequence index {sequence!r} is not in 1…{total} (--sequences {total})"
    if not isinstance(extra.get("phase"), int) or not isinstance(extra.get("data_rng"), dict):
        return "its schedule phase or data generator state is missing"
    try:
        np.random.default_rng().bit_generator.state = extra["data_rng"]
    except (TypeError, ValueError, KeyError) as exc:
        return f"its data generator state is malformed ({exc})"
    return None


def _state_problem(graph, extra, arrays, fixed, learning) -> str | None:
    """The chip state: the learning matrices, engine vectors, zero traces and tags, weights on the model's synapses
    within the 9-bit learning range."""
    if sorted(extra.get("learning", [])) != sorted(learning):
        return f"it holds learning matrices {extra.get('learning')}, this model learns {sorted(learning)}"
    expected = {**{f"engine.{k}": (SIZE,) for k in learning},
                **{f"trace.{k}.{t}": None for k in learning for t in TRACES}}
    if set(arrays) != set(expected):
        return f"its arrays {sorted(arrays)} are not the chip state of {sorted(learning)}"
    for key, shape in expected.items():
        if shape is not None and arrays[key].shape != shape:
            return f"array {key} has shape {list(arrays[key].shape)}, not {list(shape)}"
        if shape is None and np.any(arrays[key]):
            return f"{key} is not zero: not a state between two sequences"
    for name in learning:
        start, got = getattr(fixed, name), getattr(graph, name)
        if got.weights.shape != start.weights.shape or not np.array_equal(got.mask, start.mask):
            return f"{name}: weights of shape {list(got.weights.shape)} or synapses other than the model's"
        if np.any(got.weights[~start.mask]) or got.weights.min() < -256 or got.weights.max() > 255:
            return f"{name}: weights outside the 9-bit learning range or on absent synapses"
    return None
