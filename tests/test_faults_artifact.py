"""Artifacts are verified before use: format version required and in range, a checksum for every array, archives
read with size limits (a decompression bomb is refused before it is inflated), corrupt members reported as
ArtifactError — never zlib.error, BadZipFile or a traceback."""

from __future__ import annotations

import json
import tracemalloc
import zipfile

import numpy as np
import pytest

from neuroport.errors import ArtifactError
from neuroport.hw import load_hw
from neuroport.ir.artifact import ARRAYS, MANIFEST, load_artifact, save_artifact
from neuroport.ir.loader import load_model
from neuroport.pipeline import quantize


@pytest.fixture
def artifact(tmp_path, tiny_model):
    fixed = quantize(load_model(tiny_model), load_hw("loihi2"))
    return save_artifact(fixed, tmp_path / "artifact"), fixed


def _edit_manifest(folder, change) -> None:
    manifest = json.loads((folder / MANIFEST).read_text())
    change(manifest)
    (folder / MANIFEST).write_text(json.dumps(manifest))


def test_round_trip_is_exact(artifact):
    folder, fixed = artifact
    again = load_artifact(folder)
    for name, dense in fixed.dense().items():
        np.testing.assert_array_equal(again.dense()[name].weights, dense.weights)
    np.testing.assert_array_equal(again.neurons.vth, fixed.neurons.vth)


@pytest.mark.parametrize("version", [0, -5, "2", True, 1.5, None])
def test_unsupported_or_missing_format_version(artifact, version):
    folder, _ = artifact
    _edit_manifest(folder, lambda m: m.update(format_version=version) if version is not None else m.pop("format_version"))
    with pytest.raises(ArtifactError, match=r"format_version is .*reads artifact format versions 2–2"):
        load_artifact(folder)


def test_newer_format_version(artifact):
    folder, _ = artifact
    _edit_manifest(folder, lambda m: m.update(format_version=3))
    with pytest.raises(ArtifactError, match="newer than this neuroport reads"):
        load_artifact(folder)


@pytest.mark.parametrize("change", [lambda m: m.pop("checksums"), lambda m: m["checksums"].pop("w_rec.weights"),
                                    lambda m: m["checksums"].update({"w_rec.weights": "abc"}), lambda m: m.pop("arrays"),
                                    lambda m: m["arrays"]["w_rec.weights"].update(dtype="O")],
                         ids=["no checksums", "one missing", "not a sha256", "no arrays", "object dtype"])
def test_checksums_and_declarations_are_required(artifact, change):
    folder, _ = artifact
    _edit_manifest(folder, change)
    with pytest.raises(ArtifactError, match="manifest.json: .*(checksum|sha256|arrays)"):
        load_artifact(folder)


def test_declared_shape_must_match(artifact):
    folder, _ = artifact
    _edit_manifest(folder, lambda m: m["arrays"]["w_rec.weights"].update(shape=[10, 11]))
    with pytest.raises(ArtifactError, match="corrupt or truncated|declares"):
        load_artifact(folder)


def test_every_bit_flip_is_caught(artifact):
    """Flip one bit at many places of the archive (zip headers, deflate streams, .npy headers, data): each load
    either raises ArtifactError or — a flip in a field nobody reads, such as a timestamp — returns the same arrays."""
    folder, fixed = artifact
    original = (folder / ARRAYS).read_bytes()
    offsets = range(0, len(original), max(1, len(original) // 150))
    refused = 0
    for offset in offsets:
        flipped = bytearray(original)
        flipped[offset] ^= 0x10
        (folder / ARRAYS).write_bytes(bytes(flipped))
        try:
            again = load_artifact(folder)
        except ArtifactError as err:
            assert "arrays.npz: " in str(err), err
            refused += 1
            continue
        for name, dense in fixed.dense().items():
            np.testing.assert_array_equal(again.dense()[name].weights, dense.weights)
            np.testing.assert_array_equal(again.dense()[name].mask, dense.mask)
        np.testing.assert_array_equal(again.neurons.vth, fixed.neurons.vth)
    assert len(offsets) > 100 and refused > 0.5 * len(offsets), f"{refused} of {len(offsets)} flips refused"


def test_truncated_archive(artifact):
    folder, _ = artifact
    data = (folder / ARRAYS).read_bytes()
    (folder / ARRAYS).write_bytes(data[: len(data) // 3])
    with pytest.raises(ArtifactError, match="corrupt or truncated"):
        load_artifact(folder)


def test_undeclared_member_is_refused(artifact):
    folder, _ = artifact
    with zipfile.ZipFile(folder / ARRAYS, "a") as archive:
        archive.writestr("payload.npy", b"\x93NUMPY")
    with pytest.raises(ArtifactError, match=r"members not declared in the manifest: \['payload'\]"):
        load_artifact(folder)


def test_decompression_bomb_is_refused_before_inflating(artifact):
    """w_rec.weights replaced by 256 MB of zeros (compressed ~250 kB): refused from the zip directory, with
    well under 1 % of that ever allocated."""
    folder, fixed = artifact
    bomb_bytes = 256 << 20
    with zipfile.ZipFile(folder / ARRAYS) as old:
        members = {name: old.read(name) for name in old.namelist() if name != "w_rec.weights.npy"}
    with zipfile.ZipFile(folder / ARRAYS, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        with archive.open("w_rec.weights.npy", "w", force_zip64=True) as member:
            header = {"descr": "<i2", "fortran_order": False, "shape": (bomb_bytes // 2,)}
            np.lib.format.write_array_header_1_0(member, header)
            chunk = bytes(1 << 20)
            for _ in range(bomb_bytes >> 20):
                member.write(chunk)
    assert (folder / ARRAYS).stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ArtifactError, match=r"w_rec.weights.npy' claims 268,435,\d+ bytes uncompressed.*refused"):
            load_artifact(folder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20, f"{peak:,} bytes allocated while refusing the bomb"


def test_declared_sizes_are_bounded(artifact):
    folder, _ = artifact
    _edit_manifest(folder, lambda m: m["arrays"]["w_rec.weights"].update(shape=[1 << 20, 1 << 20]))
    with pytest.raises(ArtifactError, match="above the limit"):
        load_artifact(folder)


def test_weights_file_bomb_is_refused_before_inflating(tmp_path, tiny_model):
    """A model's weights .npz is read with the same limit: the member may hold at most what the projection's
    shape needs (16 bytes a value), so 256 MB of zeros under a 10 × 8 projection are refused unread."""
    from neuroport.errors import ModelError
    from neuroport.ir.writer import write_model

    path = write_model(load_model(tiny_model), tmp_path / "m" / "model.yaml")
    weights = path.parent / "model.weights.npz"
    with zipfile.ZipFile(weights) as old:
        members = {name: old.read(name) for name in old.namelist() if name != "input.npy"}
    with zipfile.ZipFile(weights, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        with archive.open("input.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False, "shape": (1 << 25,)})
            for _ in range(256):
                member.write(bytes(1 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(ModelError, match=r"model.weights.npz expands to 268,435,\d+ bytes, more than a \(10, 8\) array.*refusing to decompress"):
            load_model(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"{peak:,} bytes allocated while refusing the bomb"
