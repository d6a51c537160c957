"""Save and load a FixedGraph as a versioned artifact: ``manifest.json`` + ``arrays.npz`` in a folder.

The manifest holds the format version, the hw config's name and sha256, every scalar field, and a sha256 of
every array; ``<dense>.storage`` says whether a Dense is stored as matrices (``weights``, ``mask``: absent or
'dense') or as its synapse list (``sparse``: ``targets``, ``sources`` int32, ``weights`` int16 mantissas, optional
``delays``, with ``<dense>.shape``); loading checks all of it, so a corrupt, truncated or newer-version artifact fails with an
ArtifactError that says what is wrong, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from neuroport.errors import ArtifactError
from neuroport.ir.fixed_graph import FIXED_FORMAT_VERSION, FixedDense, FixedGraph, FixedNeurons, FixedReadout
from neuroport.ir.synapses import Synapses, synapse_problem

MANIFEST, ARRAYS = "manifest.json", "arrays.npz"
KIND = "neuroport-fixed-graph"
DENSES = ("w_in", "w_rec", "w_out")
SPARSE_FIELDS = ("targets", "sources", "weights", "delays")  # arrays of a Dense in the sparse form


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _flatten(graph: FixedGraph) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    for f in fields(FixedNeurons):
        value = getattr(graph.neurons, f.name)
        if isinstance(value, np.ndarray):
            arrays[f"neurons.{f.name}"] = value
        else:
            scalars[f"neurons.{f.name}"] = value
    arrays["readout.dy"] = graph.readout.dy
    for name in DENSES:
        dense = getattr(graph, name)
        scalars[f"{name}.weight_exp"], scalars[f"{name}.num_weight_bits"] = dense.weight_exp, dense.num_weight_bits
        if dense.is_sparse:  # the synapse list as it is: int32 indices, int16 mantissas (+ delays), no matrix
            scalars[f"{name}.storage"], scalars[f"{name}.shape"] = "sparse", list(dense.shape)
            syn = dense.synapses
            arrays.update({f"{name}.{k}": getattr(syn, k) for k in SPARSE_FIELDS if getattr(syn, k) is not None})
            continue
        # mantissas are at most 9 bits: stored as int16 (exact), read back as int64
        arrays[f"{name}.weights"], arrays[f"{name}.mask"] = dense.weights.astype(np.int16), dense.mask
        if dense.delays is not None:  # synaptic delays (steps ≤ 64): only when present, so plain artifacts are unchanged
            arrays[f"{name}.delays"] = dense.delays.astype(np.int16)
    for key in ("name", "profile", "hw_name", "hw_sha256", "dt_ms", "v_scale", "loss"):
        scalars[key] = getattr(graph, key)
    return arrays, scalars


def save_artifact(graph: FixedGraph, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the artifact into ``folder`` (created); ``extra`` (JSON-able) goes into the manifest."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    arrays, scalars = _flatten(graph)
    # synapse lists (random indices) barely compress and zlib costs seconds per 10^7 synapses: stored plain
    (np.savez if graph_is_sparse(graph) else np.savez_compressed)(out / ARRAYS, **arrays)
    manifest = {"kind": KIND, "format_version": FIXED_FORMAT_VERSION, "scalars": scalars,
                "checksums": {k: _digest(v) for k, v in arrays.items()}, "extra": extra or {}}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, default=list))
    return out


def graph_is_sparse(graph: FixedGraph) -> bool:
    return any(getattr(graph, name).is_sparse for name in DENSES)


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"not an artifact: no {MANIFEST}", file=str(folder)) from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"unreadable manifest ({exc})", file=str(path)) from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise ArtifactError(f"not a neuroport fixed-graph artifact (kind is {manifest.get('kind') if isinstance(manifest, dict) else None!r})", file=str(path))
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FIXED_FORMAT_VERSION:
        raise ArtifactError(f"artifact format version {version!r} is newer than this neuroport reads ({FIXED_FORMAT_VERSION}); upgrade neuroport", file=str(path))
    return manifest


def _read_arrays(folder: Path, checksums: dict[str, str]) -> dict[str, np.ndarray]:
    path = folder / ARRAYS
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise ArtifactError(f"missing {ARRAYS}", file=str(folder)) from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ArtifactError(f"corrupt or truncated arrays ({exc.__class__.__name__}: {exc})", file=str(path)) from None
    for key, digest in checksums.items():
        if key not in arrays:
            raise ArtifactError(f"array '{key}' is missing", file=str(path))
        if _digest(arrays[key]) != digest:
            raise ArtifactError(f"array '{key}' does not match its checksum: the artifact is corrupt", file=str(path))
    return arrays


def load_artifact(folder: str | Path) -> FixedGraph:
    """Read and verify an artifact written by :func:`save_artifact`."""
    folder = Path(folder)
    manifest = _read_manifest(folder)
    arrays = _read_arrays(folder, manifest.get("checksums", {}))
    s = manifest["scalars"]
    try:
        neurons = FixedNeurons(
            kind=s["neurons.kind"], populations=tuple(tuple(p) for p in s["neurons.populations"]),
            **{f.name: arrays[f"neurons.{f.name}"] for f in fields(FixedNeurons) if f"neurons.{f.name}" in arrays},
        )
        denses = {n: _dense(n, arrays, s, folder) for n in DENSES}
        return FixedGraph(name=s["name"], profile=s["profile"], hw_name=s["hw_name"], hw_sha256=s["hw_sha256"],
                          dt_ms=float(s["dt_ms"]), neurons=neurons, readout=FixedReadout(dy=arrays["readout.dy"]),
                          v_scale=float(s["v_scale"]), loss=s["loss"], **denses)
    except (KeyError, TypeError) as exc:
        raise ArtifactError(f"manifest lacks field {exc}", file=str(folder / MANIFEST)) from None


def _dense(name: str, arrays: dict[str, np.ndarray], s: dict[str, Any], folder: Path) -> FixedDense:
    """One Dense of the artifact, in the form the manifest names (``<name>.storage``: dense unless 'sparse')."""
    exp, bits = int(s[f"{name}.weight_exp"]), int(s[f"{name}.num_weight_bits"])
    delays = arrays.get(f"{name}.delays")
    if s.get(f"{name}.storage", "dense") != "sparse":
        return FixedDense(weights=arrays[f"{name}.weights"].astype(np.int64), mask=arrays[f"{name}.mask"], weight_exp=exp,
                          num_weight_bits=bits, delays=None if delays is None else delays.astype(np.int64))
    shape = tuple(int(v) for v in s[f"{name}.shape"])
    problem = synapse_problem(shape, arrays[f"{name}.targets"], arrays[f"{name}.sources"], arrays[f"{name}.weights"], delays)
    if problem:
        raise ArtifactError(f"{name}: {problem}", file=str(folder / ARRAYS))
    syn = Synapses(shape, arrays[f"{name}.targets"], arrays[f"{name}.sources"], arrays[f"{name}.weights"], delays)
    return FixedDense(weights=None, mask=None, weight_exp=exp, num_weight_bits=bits, synapses=syn)
