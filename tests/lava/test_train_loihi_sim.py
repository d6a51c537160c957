"""``neuroport train --on-chip --target loihi-sim``: Lava's learning chip streams sequences in stretches, each a
new Lava runtime built from the state the last one left, and ends with the emulator's weights at every check;
a run killed by SIGTERM and resumed from its checkpoint ends with the weights of an uninterrupted run; a corrupt
or mismatched checkpoint is refused whole (one line, exit 2)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from neuroport.cli import main
from neuroport.ir.artifact import load_artifact

pytestmark = pytest.mark.lava
# decimation 1 and 141-step sequences: the engines' clocks (u_1 gates) must carry over a stretch boundary exactly
RATES = '{"w_exponent": -5, "out_exponent": -5, "decimate": 1, "tag_exponent": -6, "out_decimate": 1}'


def cli(*args) -> tuple[int, str]:
    """``neuroport ARGS`` in this process: exit status and output."""
    @__import__("click").command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    @__import__("click").pass_context
    def entry(ctx):
        main(list(ctx.args))

    result = CliRunner().invoke(entry, [str(a) for a in args])
    return result.exit_code, result.output


def train(model, out, *extra) -> tuple[int, str]:
    return cli("train", model, "--on-chip", "--target", "loihi-sim", "--rates", RATES, "-o", out, "--json", *extra)


def weights(out: Path) -> dict[str, np.ndarray]:
    fixed = load_artifact(out / "artifact")
    return {name: getattr(fixed, name).weights for name in ("w_in", "w_rec", "w_out")}


def test_short_run_ends_with_the_emulators_weights_at_every_check(tiny_model, tmp_path):
    """5 sequences, checks at 2, 4, 5, checkpoints at 3 and 5, a schedule stage from sequence 3: five stretches."""
    code, output = train(tiny_model, tmp_path, "--sequences", 5, "--check-every", 2, "--checkpoint-every", 3,
                         "--schedule", '[[3, {"w_exponent": -6}]]')
    assert code == 0, output
    payload = json.loads(output[output.index("{"):])
    assert [c["sequence"] for c in payload["checks"]] == [2, 4, 5] and payload["checkpoints"] == [3, 5]
    assert all(c["weights_equal"] and c["readout_equal"] for c in payload["checks"]) and payload["all_checks_equal"]
    assert payload["checks"][-1]["moved"] >= 20
    assert (tmp_path / "checkpoints" / "LATEST").read_text().strip() == "seq-000005"
    assert [p.name for p in (tmp_path / "checkpoints").iterdir() if p.is_dir()] == ["seq-000005"]
    assert multiprocessing.active_children() == []


def test_resumed_run_ends_with_the_uninterrupted_runs_weights(tiny_model, tmp_path):
    """A run killed by SIGTERM after its first checkpoint, then resumed, ends with the weights (and checks) of a
    run that was never interrupted."""
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    code, output = train(tiny_model, whole, "--sequences", 6, "--check-every", 3, "--checkpoint-every", 2)
    assert code == 0, output
    command = [sys.executable, "-m", "neuroport.cli", "train", str(tiny_model), "--on-chip", "--target", "loihi-sim",
               "--rates", RATES, "-o", str(cut), "--sequences", "6", "--check-every", "3", "--checkpoint-every", "2"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (cut / "checkpoints" / "LATEST").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert (cut / "checkpoints" / "LATEST").read_text().strip() in ("seq-000002", "seq-000004")
    assert not (cut / "artifact").exists()
    code, output = train(tiny_model, cut, "--sequences", 6, "--check-every", 3, "--checkpoint-every", 2, "--resume")
    assert code == 0, output
    payload = json.loads(output[output.index("{"):])
    assert payload["resumed_from"] in (2, 4) and payload["all_checks_equal"]
    for name, w in weights(whole).items():
        np.testing.assert_array_equal(weights(cut)[name], w, err_msg=name)


def _corrupt_array(folder: Path) -> None:
    data = bytearray((folder / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "arrays.npz").write_bytes(bytes(data))


def _edit_manifest(folder: Path, **extra) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["extra"].update(extra)
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("damage, message", [
    (_corrupt_array, "corrupt"),
    (lambda f: _edit_manifest(f, sequence=9), "sequence index 9"),
    (lambda f: (f.parent / "LATEST").write_text("../../etc"), "corrupt checkpoint pointer"),
    (lambda f: (f.parent / "LATEST").unlink(), "no checkpoint to resume from"),
    ("rates", "different run settings"),
    ("model", "different model"),
], ids=["bit-flip", "sequence-past-end", "bad-pointer", "no-pointer", "other-rates", "other-model"])
def test_corrupt_or_mismatched_checkpoint_is_refused(tiny_model, tiny_doc, tmp_path, damage, message):
    from tests.conftest import write_yaml

    code, output = train(tiny_model, tmp_path, "--sequences", 2, "--checkpoint-every", 2)
    assert code == 0, output
    checkpoint = tmp_path / "checkpoints" / "seq-000002"
    before = (checkpoint / "manifest.json").read_bytes()
    model, rates = tiny_model, RATES
    if damage == "rates":
        rates = RATES.replace('"w_exponent": -5', '"w_exponent": -6')
    elif damage == "model":
        tiny_doc["seed"] = 4
        model = write_yaml(tmp_path, tiny_doc, "other.yaml")
    else:
        damage(checkpoint)
    code, output = cli("train", model, "--on-chip", "--target", "loihi-sim", "--rates", rates, "-o", tmp_path,
                       "--sequences", 4, "--resume")
    assert code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], output
    assert "Traceback" not in output
    if damage in ("rates", "model"):
        assert (checkpoint / "manifest.json").read_bytes() == before  # refused, nothing written over it


@pytest.mark.parametrize("args, message", [
    (["--target", "loihi-sim"], "add --on-chip"),
    (["--on-chip", "--target", "loihi-sim", "--chips", "4"], "remove --chips"),
    (["--on-chip", "--resume"], "--resume continues a loihi-sim run"),
])
def test_options_that_do_not_go_with_the_target_are_refused(tiny_model, args, message):
    code, output = cli("train", tiny_model, *args)
    assert code == 2 and message in output and len(output.strip().splitlines()) == 1, output
