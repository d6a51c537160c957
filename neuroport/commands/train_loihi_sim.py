"""``neuroport train MODEL --on-chip --target loihi-sim``: on-chip e-prop on Lava, checked against the emulator,
with checkpoints (:mod:`neuroport.training.onchip_lava`); wired from :mod:`neuroport.commands.train`."""

from __future__ import annotations

import hashlib
from dataclasses import asdict

import click
import numpy as np

from neuroport import jsonio
from neuroport.commands.common import echo_json
from neuroport.errors import NeuroportError
from neuroport.outputs import default_folder, make_folder

TARGETS = ("emulator", "loihi-sim")


def refuse_options(target: str, on_chip: bool, resume: bool, given: set[str]) -> None:
    """One clear line for options that do not go with ``--target`` (``given``: the options set on the command line)."""
    if target == "emulator":
        if resume:
            raise NeuroportError("--resume continues a loihi-sim run: use it with --on-chip --target loihi-sim")
        return
    if not on_chip:
        raise NeuroportError("--target loihi-sim trains on-chip: add --on-chip")
    clash = sorted(given & {"chips", "workers", "scheduler", "held_out", "eval_every", "engine"})
    if clash:
        raise NeuroportError(f"--target loihi-sim streams the sequences through one Lava chip; remove "
                             f"{', '.join('--' + c.replace('_', '-') for c in clash)}")


def weights_sha256(fixed) -> str:
    """sha256 of the learned weight matrices (w_in, w_rec, w_out), to compare runs."""
    digest = hashlib.sha256()
    for name in ("w_in", "w_rec", "w_out"):
        digest.update(np.ascontiguousarray(getattr(fixed, name).weights, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _check_line(check) -> str:
    verdict = "equal" if check.equal else f"DIFFERENT ({', '.join(check.differing) or 'readout'})"
    return (f"sequence {check.sequence}: loihi-sim weights and readouts vs emulator: {verdict}; {check.moved} weights "
            f"moved, training MSE {check.train_mse:.4g} ({check.lava_s:.0f} s)")


def train_on_loihi_sim(graph, *, sequences: int, hw_name: str, seed: int | None, rates: dict | None,
                       schedule: list | None, checkpoint_every: int, check_every: int, resume: bool, out: str | None,
                       as_json: bool) -> None:
    """Run the loihi-sim training, write the artifact, checks.json and the checkpoints; exit 1 if a check differs."""
    from tqdm import tqdm

    from neuroport.ir.artifact import save_artifact
    from neuroport.training.onchip_lava import train_loihi_sim

    folder = make_folder(out or default_folder(graph.name, "onchip-loihi-sim"))
    bars: list = []  # opened at the first sequence: a refused checkpoint prints its one line and nothing else

    def tick(n: int) -> None:
        if not bars:
            bars.append(tqdm(total=sequences, initial=n - 1, desc=f"on-chip loihi-sim {graph.name}", unit="seq",
                             disable=as_json))
        bars[0].update(n - bars[0].n)

    def report(check) -> None:
        if not as_json:
            (bars[0].write if bars else click.echo)(_check_line(check))

    try:
        result = train_loihi_sim(graph, sequences, folder, hw_name=hw_name, seed=seed, rates=rates, schedule=schedule,
                                 checkpoint_every=checkpoint_every, check_every=check_every, resume=resume,
                                 on_sequence=tick, on_check=report)
    finally:
        for bar in bars:
            bar.close()
    equal = all(c.equal for c in result.checks)
    artifact = save_artifact(result.fixed, folder / "artifact",
                             extra={"trained": "on-chip", "target": "loihi-sim", "sequences": sequences})
    payload = {"artifact": str(artifact), "engine": "on-chip", "target": "loihi-sim", "hw": hw_name,
               "sequences": sequences, "resumed_from": result.resumed_from, "all_checks_equal": equal,
               "checks": [{**asdict(c), "equal": c.equal} for c in result.checks], "checkpoints": result.checkpoints,
               "weights_sha256": weights_sha256(result.fixed), "lava": result.timings, "out": str(folder)}
    jsonio.write_json(folder / "checks.json", payload, indent=1)
    if as_json:
        echo_json(payload)
    else:
        resumed = f", resumed from sequence {result.resumed_from}" if result.resumed_from is not None else ""
        click.echo(f"on-chip trained on loihi-sim → {artifact} ({sequences} sequences{resumed}; weights sha256 "
                   f"{payload['weights_sha256'][:16]}; checks equal to the emulator: {equal}); checkpoints in "
                   f"{folder / 'checkpoints'}")
    if not equal:
        click.get_current_context().exit(1)
