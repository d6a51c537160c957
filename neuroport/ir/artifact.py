"""Save and load a FixedGraph as a versioned artifact: ``manifest.json`` + ``arrays.npz`` in a folder.

The manifest holds the format version, the hw config's name and sha256, every scalar field, and per array its
dtype, shape and sha256.  Loading verifies all of it before anything is used, so a corrupt, truncated, unversioned,
older or newer artifact fails with an ArtifactError that says what is wrong, never a traceback:

* ``format_version`` is required, an integer in [OLDEST_FORMAT_VERSION, FORMAT_VERSION];
* every member of ``arrays.npz`` must be declared (dtype, shape) and have a sha256, and every declared array
  must be there;
* the archive is read with size limits: a member whose zip-directory size exceeds what its declared shape
  needs (``.npy`` header + shape × itemsize) is refused before it is decompressed, at most that many bytes are
  ever inflated, and the declared arrays together may not exceed ``MAX_ARRAY_BYTES`` — a decompression bomb
  costs nothing;
* bit flips (``zlib.error``, ``BadZipFile``, a CRC or checksum mismatch) are reported as corruption.

``<dense>.storage`` says whether a Dense is stored as matrices (``weights``, ``mask``: absent or 'dense') or as its
synapse list (``sparse``: ``targets``, ``sources`` int32, ``weights`` int16 mantissas, optional ``delays``, with
``<dense>.shape``); a synapse list is checked (indices in range, no duplicates) before use.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from neuroport import jsonio
from neuroport.errors import ArtifactError
from neuroport.ir.fixed_graph import FixedDense, FixedGraph, FixedNeurons, FixedReadout
from neuroport.ir.synapses import Synapses, synapse_problem
from neuroport.outputs import make_folder, open_output

MANIFEST, ARRAYS = "manifest.json", "arrays.npz"
KIND = "neuroport-fixed-graph"
DENSES = ("w_in", "w_rec", "w_out")
FORMAT_VERSION = 2  # 2: dtype and shape of every array declared (1: checksums only, unbounded reads)
OLDEST_FORMAT_VERSION = 2
NPY_HEADER_MAX_BYTES = 4096  # a .npy header (magic, version, dict) is 128 bytes for these arrays; generous
MAX_ARRAY_BYTES = 1 << 34  # 16 GiB of declared arrays (a 10^8-synapse list is 1 GB), refused beyond
MAX_MANIFEST_BYTES = 16 << 20
ARRAY_KINDS = "biuf"  # bool, signed, unsigned, float: no objects, strings or structured dtypes
SPARSE_FIELDS = ("targets", "sources", "weights", "delays")  # arrays of a Dense in the sparse form
MAX_ITEMSIZE = 16  # bytes per value of the widest of these (float128), for arrays of undeclared dtype


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


EXTRA_PREFIX = "extra."  # arrays a caller stores beside the graph (save_artifact's extra_arrays)


def save_artifact(graph: FixedGraph, folder: str | Path, extra: dict[str, Any] | None = None,
                  extra_arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write the artifact into ``folder`` (created); ``extra`` (JSON-able) goes into the manifest, ``extra_arrays``
    (numeric) into the archive beside the graph's, declared and checksummed like them
    (:func:`load_artifact_extra` reads them back)."""
    out = make_folder(folder)
    arrays, scalars = _flatten(graph)
    arrays.update({EXTRA_PREFIX + k: np.asarray(v) for k, v in (extra_arrays or {}).items()})
    # synapse lists (random indices) barely compress and zlib costs seconds per 10^7 synapses: stored plain
    with open_output(out / ARRAYS) as handle:
        (np.savez if graph_is_sparse(graph) else np.savez_compressed)(handle, **arrays)
    manifest = {"kind": KIND, "format_version": FORMAT_VERSION, "scalars": scalars,
                "arrays": {k: {"dtype": v.dtype.str, "shape": list(v.shape)} for k, v in arrays.items()},
                "checksums": {k: _digest(v) for k, v in arrays.items()}, "extra": extra or {}}
    jsonio.write_json(out / MANIFEST, manifest, indent=2)
    return out


def graph_sha256(graph: FixedGraph) -> str:
    """sha256 of everything an artifact of ``graph`` stores (its arrays and scalars), independent of compression."""
    arrays, scalars = _flatten(graph)
    content = {"scalars": scalars, "arrays": {k: [v.dtype.str, list(v.shape), _digest(v)] for k, v in arrays.items()}}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def graph_is_sparse(graph: FixedGraph) -> bool:
    return any(getattr(graph, name).is_sparse for name in DENSES)


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ArtifactError(f"manifest larger than {MAX_MANIFEST_BYTES >> 20} MiB: not an artifact", file=str(path))
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"not an artifact: no {MANIFEST}", file=str(folder)) from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"unreadable manifest ({exc})", file=str(path)) from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise ArtifactError(f"not a neuroport fixed-graph artifact (kind is {manifest.get('kind') if isinstance(manifest, dict) else None!r})", file=str(path))
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < OLDEST_FORMAT_VERSION:
        raise ArtifactError(f"format_version is {version!r}; this neuroport reads artifact format versions "
                            f"{OLDEST_FORMAT_VERSION}–{FORMAT_VERSION}: recompile the model with `neuroport compile`", file=str(path))
    if version > FORMAT_VERSION:
        raise ArtifactError(f"artifact format version {version} is newer than this neuroport reads ({FORMAT_VERSION}); upgrade neuroport", file=str(path))
    return manifest


def _declared(manifest: dict[str, Any], path: Path) -> dict[str, tuple[np.dtype, tuple[int, ...], str]]:
    """{array: (dtype, shape, sha256)} as the manifest declares them; every array needs all three."""
    arrays, checksums = manifest.get("arrays"), manifest.get("checksums")
    if not isinstance(arrays, dict) or not isinstance(checksums, dict):
        raise ArtifactError("manifest lacks 'arrays' (dtype and shape of each) or 'checksums' (sha256 of each)", file=str(path))
    if set(arrays) != set(checksums):
        raise ArtifactError(f"arrays without a checksum or checksums without an array: {sorted(set(arrays) ^ set(checksums))}", file=str(path))
    declared, total = {}, 0
    for key, spec in arrays.items():
        try:
            dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
            ok = dtype.kind in ARRAY_KINDS and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
        except (TypeError, KeyError, ValueError):
            ok = False
        digest = checksums[key]
        if not ok or not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
            raise ArtifactError(f"array '{key}': expected a numeric dtype, a shape of non-negative integers and a "
                                f"sha256 (64 hex digits); got {spec!r}, {digest!r}", file=str(path))
        total += int(np.prod(shape, dtype=object)) * dtype.itemsize
        declared[key] = (dtype, shape, digest)
    if total > MAX_ARRAY_BYTES:
        raise ArtifactError(f"the declared arrays hold {total:,} bytes, above the limit of {MAX_ARRAY_BYTES:,}", file=str(path))
    return declared


def read_member(archive: zipfile.ZipFile, key: str, shape: tuple[int, ...], dtype: np.dtype | None = None) -> np.ndarray:
    """Array ``key`` of an open .npz, inflating at most the bytes ``shape`` needs at ``dtype`` (any numeric dtype:
    ``MAX_ITEMSIZE`` bytes per value when None) — a ValueError if the member is larger or not a numeric array.
    The caller compares the array's shape and dtype with what it expects."""
    limit = NPY_HEADER_MAX_BYTES + int(np.prod(shape, dtype=object)) * (MAX_ITEMSIZE if dtype is None else dtype.itemsize)
    info = archive.getinfo(f"{key}.npy")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):  # what numpy writes
        raise ValueError(f"member '{key}.npy' has compression method {info.compress_type}, not stored or deflated")
    if info.file_size > limit:
        raise ValueError(f"member '{key}.npy' claims {info.file_size:,} bytes uncompressed, its declared shape "
                         f"{list(shape)} of {dtype} needs at most {limit:,}: refused (a decompression bomb?)")
    with archive.open(info) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"member '{key}.npy' inflates past its declared size")
    array = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    if array.dtype.kind not in ARRAY_KINDS:
        raise ValueError(f"array '{key}' is of dtype {array.dtype}, not a number type")
    return array


def _read_arrays(folder: Path, declared: dict[str, tuple[np.dtype, tuple[int, ...], str]]) -> dict[str, np.ndarray]:
    path = folder / ARRAYS
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name.removesuffix(".npy") for name in archive.namelist()}
            if members != set(declared):
                raise ArtifactError(f"members not declared in the manifest: {sorted(members - set(declared))}; "
                                    f"declared but missing: {sorted(set(declared) - members)}", file=str(path))
            arrays = {key: read_member(archive, key, shape, dtype) for key, (dtype, shape, _) in declared.items()}
        for key, (dtype, shape, _) in declared.items():
            if arrays[key].dtype != dtype or arrays[key].shape != shape:
                raise ValueError(f"array '{key}' is {arrays[key].dtype}{list(arrays[key].shape)}, the manifest declares {dtype}{list(shape)}")
    except FileNotFoundError:
        raise ArtifactError(f"missing {ARRAYS}", file=str(folder)) from None
    except (OSError, ValueError, zipfile.BadZipFile, zlib.error, EOFError, KeyError, NotImplementedError) as exc:
        raise ArtifactError(f"corrupt or truncated arrays ({exc.__class__.__name__}: {exc})", file=str(path)) from None
    for key, (_, _, digest) in declared.items():
        if _digest(arrays[key]) != digest:
            raise ArtifactError(f"array '{key}' does not match its checksum: the artifact is corrupt", file=str(path))
    return arrays


def load_artifact(folder: str | Path) -> FixedGraph:
    """Read and verify an artifact written by :func:`save_artifact`."""
    return load_artifact_extra(folder)[0]


def load_artifact_extra(folder: str | Path) -> tuple[FixedGraph, dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify an artifact: the graph, the manifest's ``extra`` and the ``extra_arrays`` it was saved with
    — all verified (checksums, declared shapes) before any is returned."""
    folder = Path(folder)
    manifest = _read_manifest(folder)
    arrays = _read_arrays(folder, _declared(manifest, folder / MANIFEST))
    extra = manifest.get("extra", {})
    if not isinstance(extra, dict):
        raise ArtifactError(f"manifest field 'extra' is {type(extra).__name__}, not a mapping", file=str(folder / MANIFEST))
    graph = _graph(folder, manifest, arrays)
    return graph, extra, {k[len(EXTRA_PREFIX):]: v for k, v in arrays.items() if k.startswith(EXTRA_PREFIX)}


def _graph(folder: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> FixedGraph:
    """The FixedGraph of a verified manifest and its arrays; an ArtifactError for a missing or malformed field."""
    s = manifest["scalars"]
    try:
        neurons = FixedNeurons(
            kind=s["neurons.kind"], populations=tuple(tuple(p) for p in s["neurons.populations"]),
            **{f.name: arrays[f"neurons.{f.name}"] for f in fields(FixedNeurons) if f"neurons.{f.name}" in arrays},
        )
        denses = {n: _dense(n, arrays, s, folder) for n in DENSES}
        graph = FixedGraph(name=s["name"], profile=s["profile"], hw_name=s["hw_name"], hw_sha256=s["hw_sha256"],
                           dt_ms=float(s["dt_ms"]), neurons=neurons, readout=FixedReadout(dy=arrays["readout.dy"]),
                           v_scale=float(s["v_scale"]), loss=s["loss"], **denses)
    except KeyError as exc:
        raise ArtifactError(f"manifest lacks field {exc}", file=str(folder / MANIFEST)) from None
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"manifest has a malformed field ({exc})", file=str(folder / MANIFEST)) from None
    _check_shapes(graph, folder / ARRAYS)
    return graph


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


def _check_shapes(graph: FixedGraph, path: Path) -> None:
    """The arrays fit together: per-neuron arrays (n_rec,), w_in (n_rec, n_in), w_rec (n_rec, n_rec), w_out and the
    readout (n_out, n_rec), (n_out,); masks and delays the shape of their weights."""
    n_rec, n_in, n_out = len(graph.neurons.dv), graph.w_in.shape[-1], len(graph.readout.dy)
    expected = {**{f"neurons.{f.name}": (n_rec,) for f in fields(FixedNeurons) if isinstance(getattr(graph.neurons, f.name), np.ndarray)},
                "w_in": (n_rec, n_in), "w_rec": (n_rec, n_rec), "w_out": (n_out, n_rec)}
    actual = {k: getattr(graph.neurons, k.split(".")[1]).shape for k in expected if k.startswith("neurons.")}
    for name in DENSES:
        d = getattr(graph, name)
        actual[name] = d.shape
        for part in () if d.is_sparse else ("mask", "delays"):
            if getattr(d, part) is not None and getattr(d, part).shape != d.weights.shape:
                actual[f"{name}.{part}"], expected[f"{name}.{part}"] = getattr(d, part).shape, d.weights.shape
    wrong = [f"{k} {list(actual[k])} (expected {list(v)})" for k, v in expected.items() if actual[k] != v]
    if wrong:
        raise ArtifactError(f"arrays of inconsistent shapes: {'; '.join(wrong)}", file=str(path))
