"""Initial weights of projections and feedback matrices, from the ``init`` / ``weights`` fields of model.yaml.

init distributions (fan_in = number of source neurons, fan_out = number of targets):
    normal:          W ~ N(0, 1) · gain / sqrt(fan_in)         (Bellec et al. 2020; NEST's examples)
    uniform:         W ~ U(low, high)
    glorot_uniform:  W ~ U(−l, l), l = gain · sqrt(6 / (fan_in + fan_out))
    constant:        W = value
A projection may instead read ``weights: {file: weights.npz, key: name, mask_key: name_mask}`` (path relative to
the model file; ``mask_key`` optional, non-zero = synapse exists).
``connection_probability`` p < 1 draws a Bernoulli(p) mask (a sparse projection); ``zero_diagonal`` removes
self-connections of a square projection.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from neuroport.ir.ranges import MAX_MODEL_UNITS, UNITS_WHY
from neuroport.ir.yamlpath import Section

DISTRIBUTIONS = ("normal", "uniform", "glorot_uniform", "constant")


def draw(s: Section, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Draw a (n_target, n_source) matrix from an ``init`` section."""
    dist = s.string("distribution", choices=DISTRIBUTIONS)
    fan_out, fan_in = shape
    gain = _magnitude(s, "gain", 1.0)
    samplers: dict[str, Any] = {
        "normal": lambda: rng.standard_normal(shape) * gain / np.sqrt(fan_in),
        "glorot_uniform": lambda: rng.uniform(-1, 1, shape) * gain * np.sqrt(6.0 / (fan_in + fan_out)),
        "uniform": lambda: rng.uniform(*_low_high(s), shape),
        "constant": lambda: np.full(shape, _magnitude(s, "value")),
    }
    weights = samplers[dist]()
    s.finish()
    return weights


NPZ_HEADER_BYTES = 64 * 1024  # an .npy header is 64–4096 bytes; numpy refuses headers above 10,000


def _magnitude(s: Section, key: str, default: Any = None) -> float:
    """A finite number of magnitude ≤ MAX_MODEL_UNITS (weights share the thresholds' unit)."""
    value = s.number(key) if default is None else s.number(key, default)
    if abs(value) > MAX_MODEL_UNITS:
        raise s.fail(f"expected a magnitude ≤ {MAX_MODEL_UNITS:g}, got {value:g} ({UNITS_WHY})", key)
    return value


def _low_high(s: Section) -> tuple[float, float]:
    low, high = _magnitude(s, "low"), _magnitude(s, "high")
    if low > high:
        raise s.fail(f"expected low ≤ high, got low {low:g} > high {high:g}", "high")
    return low, high


def load_npz_array(s: Section, shape: tuple[int, int], base_dir: Path) -> np.ndarray:
    """Read ``{file, key}`` from an .npz (``np.savez``); check format, dtype, shape and finiteness.

    The archive's directory is read first and the member's uncompressed size compared with what ``shape`` needs
    (so a decompression bomb is refused before it is inflated); the .npy header must state a plain numeric dtype
    (no structured or object dtype; nothing is unpickled) and exactly ``shape``; the data must be as long as the
    header says."""
    file = s.string("file")
    key = s.string("key")
    path = (base_dir / file) if not Path(file).is_absolute() else Path(file)
    try:
        array = _read_member(s, path, key, shape)
    except FileNotFoundError:
        raise s.fail(f"weights file not found: {path}", "file") from None
    except (OSError, ValueError, zipfile.BadZipFile, zlib.error, EOFError, RuntimeError) as exc:
        raise s.fail(f"cannot read weights file {path}: {exc.__class__.__name__}: {exc}", "file") from None
    if not np.all(np.isfinite(array)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise s.fail(f"weights '{key}' hold a non-finite value at index {bad}", "key")
    if array.size and float(np.max(np.abs(array))) > MAX_MODEL_UNITS:
        raise s.fail(f"weights '{key}' reach {float(np.max(np.abs(array))):g}, above {MAX_MODEL_UNITS:g} ({UNITS_WHY})", "key")
    s.raw("mask_key", None)
    s.finish()
    return array


def _read_member(s: Section, path: Path, key: str, shape: tuple[int, int]) -> np.ndarray:
    """The float64 array ``key`` of the .npz at ``path``, checked as :func:`load_npz_array` says."""
    if not zipfile.is_zipfile(path):
        kind = "a plain .npy file" if path.read_bytes()[:6] == b"\x93NUMPY" else "not a zip archive"
        raise s.fail(f"cannot read weights file {path}: it is {kind}; weights are read from an .npz archive (np.savez(file, {key}=array))", "file")
    with zipfile.ZipFile(path) as archive:
        members = {n[:-4]: n for n in archive.namelist() if n.endswith(".npy")}
        if key not in members:
            raise s.fail(f"no array '{key}' in {path}; it holds: {', '.join(sorted(members)) or 'nothing'}", "key")
        info = archive.getinfo(members[key])
        most = NPZ_HEADER_BYTES + int(np.prod(shape)) * 8
        if info.file_size > most:
            raise s.fail(f"array '{key}' in {path} expands to {info.file_size:,} bytes, more than a {shape} array of "
                         f"8-byte numbers needs ({most:,}); refusing to decompress it", "key")
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in readers:
                raise s.fail(f"array '{key}' has .npy format version {version}; expected 1.0 or 2.0 (np.savez)", "key")
            stored, fortran, dtype = readers[version](member)
            if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biuf":
                raise s.fail(f"array '{key}' has dtype {dtype}; expected plain numbers (float, int, bool)", "key")
            if tuple(stored) != shape:
                raise s.fail(f"weights '{key}' have shape {tuple(stored)}, expected {shape} (targets × sources)", "key")
            size = int(np.prod(shape)) * dtype.itemsize
            data = member.read(size + 1)
    if len(data) != size:
        raise s.fail(f"array '{key}' in {path} holds {len(data):,} data bytes, its header says {size:,} "
                     "(truncated or corrupt)", "key")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").astype(np.float64)


def projection_weights(s: Section, shape: tuple[int, int], rng: np.random.Generator, base_dir: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (weights, mask or None) of a projection section (fields ``init`` or ``weights``, sparsity)."""
    has_init, has_file = s.has("init"), s.has("weights")
    if has_init == has_file:
        raise s.fail("give exactly one of 'init' (random initial weights) or 'weights' (from an .npz file)")
    mask = None
    if has_init:
        weights = draw(s.section("init"), shape, rng)
    else:
        spec = s.section("weights")
        if spec.has("mask_key"):
            mask_spec = Section({"file": spec.raw("file"), "key": spec.raw("mask_key")}, file=spec.file, path=spec.path)
            mask = load_npz_array(mask_spec, shape, base_dir) != 0
        weights = load_npz_array(spec, shape, base_dir)
    s.raw("init", None), s.raw("weights", None)
    p = s.number("connection_probability", 1.0, positive=True)
    if p > 1:
        raise s.fail(f"expected a probability in (0, 1], got {p}", "connection_probability")
    if p < 1:
        if mask is not None:
            raise s.fail("a projection read with a mask_key already has its sparsity; drop connection_probability")
        mask = rng.random(shape) < p
    if s.boolean("zero_diagonal", False):
        if shape[0] != shape[1]:
            raise s.fail(f"zero_diagonal needs a square projection, this one is {shape}", "zero_diagonal")
        mask = (np.ones(shape, dtype=bool) if mask is None else mask) & ~np.eye(shape[0], dtype=bool)
    if mask is not None:
        weights = np.where(mask, weights, 0.0)
    return weights, mask


def feedback_weights(s: Section, shape: tuple[int, int], rng: np.random.Generator, base_dir: Path) -> np.ndarray:
    """Feedback B (n_rec, n_out): from ``{file, key}``, or random N(0, 1) · gain (NEST's examples: N(0, 1)),
    divided by sqrt(n_rec) with ``scale_by_fan_in``."""
    if s.has("file"):
        return load_npz_array(s, shape, base_dir)
    dist = s.string("distribution", "normal", choices=("normal", "uniform"))
    gain = _magnitude(s, "gain", 1.0)
    scale_by_fan_in = s.boolean("scale_by_fan_in", False)
    s.finish()
    base = rng.standard_normal(shape) if dist == "normal" else rng.uniform(-1, 1, shape)
    return base * gain / (np.sqrt(shape[0]) if scale_by_fan_in else 1.0)
