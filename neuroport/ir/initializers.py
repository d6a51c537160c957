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

from neuroport.ir.yamlpath import Section

DISTRIBUTIONS = ("normal", "uniform", "glorot_uniform", "constant")


def draw(s: Section, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Draw a (n_target, n_source) matrix from an ``init`` section."""
    dist = s.string("distribution", choices=DISTRIBUTIONS)
    fan_out, fan_in = shape
    gain = s.number("gain", 1.0)
    samplers: dict[str, Any] = {
        "normal": lambda: rng.standard_normal(shape) * gain / np.sqrt(fan_in),
        "glorot_uniform": lambda: rng.uniform(-1, 1, shape) * gain * np.sqrt(6.0 / (fan_in + fan_out)),
        "uniform": lambda: rng.uniform(s.number("low"), s.number("high"), shape),
        "constant": lambda: np.full(shape, s.number("value")),
    }
    weights = samplers[dist]()
    s.finish()
    return weights


def load_npz_array(s: Section, shape: tuple[int, int], base_dir: Path) -> np.ndarray:
    """Read ``{file, key}`` from an .npz; check the shape and that every value is finite."""
    file = s.string("file")
    key = s.string("key")
    path = (base_dir / file) if not Path(file).is_absolute() else Path(file)
    try:
        from neuroport.ir.artifact import read_member

        with zipfile.ZipFile(path) as archive:  # read with a size limit: at most what `shape` needs (no zip bomb)
            files = [name.removesuffix(".npy") for name in archive.namelist()]
            if key not in files:
                raise s.fail(f"no array '{key}' in {path}; it holds: {', '.join(files) or 'nothing'}", "key")
            array = np.asarray(read_member(archive, key, shape), dtype=np.float64)
    except FileNotFoundError:
        raise s.fail(f"weights file not found: {path}", "file") from None
    except (OSError, ValueError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise s.fail(f"cannot read weights file {path}: {exc}", "file") from None
    if array.shape != shape:
        raise s.fail(f"weights '{key}' have shape {array.shape}, expected {shape} (targets × sources)", "key")
    if not np.all(np.isfinite(array)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise s.fail(f"weights '{key}' hold a non-finite value at index {bad}", "key")
    s.raw("mask_key", None)
    s.finish()
    return array


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
    gain = s.number("gain", 1.0)
    scale_by_fan_in = s.boolean("scale_by_fan_in", False)
    s.finish()
    base = rng.standard_normal(shape) if dist == "normal" else rng.uniform(-1, 1, shape)
    return base * gain / (np.sqrt(shape[0]) if scale_by_fan_in else 1.0)
