"""Run a lowered network through sPyNNaker in a subprocess and read what the toolchain reports.

Without a board (no ``NEUROPORT_SPINNAKER_HOST``) the machine is virtual: ``~/.spynnaker.cfg`` in a temporary HOME
sets ``virtual_board = True`` and the hw config's ``board_version`` (5: a 48-chip SpiNN-5 board); sPyNNaker then
partitions, places, routes, allocates keys, builds and compresses routing tables and generates data, and skips
every hardware step (no neuron runs; nothing is recorded).  Parsed from ``reports/<timestamp>/run_1/``:

    placement_by_core_using_graph.rpt   chip, core and slice of every application vertex
    chip_sdram_usage_by_core.rpt        SDRAM planned per core
    routing_summary.rpt / compressed_routing_summary.rpt   routing entries per chip
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuroport.errors import MissingDependencyError, NeuroportError
from neuroport.hw import HwConfig

from .network import PyNNNetwork

HOST_ENV = "NEUROPORT_SPINNAKER_HOST"
CONFIG = """[Machine]
virtual_board = {virtual}
version = {version}
{machine}
[Reports]
write_network_graph = False
write_router_summary_report = True
write_compression_summary = True
write_sdram_usage_report_per_chip = True
write_application_graph_placer_report = True
[Mode]
mode = Info
"""
CORE = re.compile(r"Processor (\d+): Vertex: '([^']+)'.*?Slice: \((\d+):(\d+)\)", re.S)
CHIP = re.compile(r"\*\*\*\* Chip: \((\d+), (\d+)\)")
SDRAM = re.compile(r"SDRAM reqs for core \((\d+),(\d+),(\d+)\) is .*?\((\d+) bytes\) for Placement\(vertex=([^,]+),")
ENTRIES = re.compile(r"Chip (\d+):(\d+) has (\d+) entries")


@dataclass(frozen=True)
class Placement:
    vertex: str
    chip: tuple[int, int]
    core: int
    start: int
    stop: int  # inclusive, as sPyNNaker writes slices
    sdram_bytes: int


@dataclass(frozen=True, eq=False)
class BoardReport:
    """What the mapping used: cores, chips, routing entries per chip (plain and compressed), SDRAM per core."""

    virtual: bool
    board_version: int
    placements: tuple[Placement, ...]
    routing_entries: dict[str, int]
    compressed_entries: dict[str, int]
    system_cores: int
    wall_s: float
    report_dir: str
    weights: dict[str, np.ndarray]  # Projection.get(["weight"], format="array"), (n_pre, n_post), NaN = no synapse
    parameters: dict[str, np.ndarray] = field(default_factory=dict)  # LABEL.FIELD → the words sPyNNaker's structs pack
    stored: dict[str, Any] = field(default_factory=dict)  # our weights and parameters against the stored ones

    @property
    def cores(self) -> int:
        return len(self.placements)

    @property
    def chips(self) -> int:
        return len({p.chip for p in self.placements})

    def to_dict(self) -> dict[str, Any]:
        return {"virtual_board": self.virtual, "board_version": self.board_version, "cores": self.cores,
                "chips": self.chips, "system_cores": self.system_cores,
                "routing_entries_per_chip": self.routing_entries, "routing_entries_total": sum(self.routing_entries.values()),
                "compressed_routing_entries_per_chip": self.compressed_entries,
                "placements": [{"vertex": p.vertex, "chip": list(p.chip), "core": p.core, "neurons": [p.start, p.stop],
                                "sdram_bytes": p.sdram_bytes} for p in self.placements],
                "mapping_s": self.wall_s, "report_dir": self.report_dir, **self.stored}


def _read(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def parse_reports(run_dir: Path) -> tuple[tuple[Placement, ...], dict[str, int], dict[str, int], int]:
    """Placements (application vertices only), routing entries per chip (plain, compressed), system cores."""
    sdram = {(int(x), int(y), int(p)): int(b) for x, y, p, b, _ in SDRAM.findall(_read(run_dir / "chip_sdram_usage_by_core.rpt"))}
    text = _read(run_dir / "placement_by_core_using_graph.rpt")
    placements = []
    chunks = CHIP.split(text)
    for x, y, body in zip(chunks[1::3], chunks[2::3], chunks[3::3], strict=True):
        for p, vertex, a, b in CORE.findall(body):
            key = (int(x), int(y), int(p))
            placements.append(Placement(vertex, key[:2], key[2], int(a), int(b), sdram.get(key, 0)))
    system = len(re.findall(r"System Vertex", text))
    entries = {f"{x},{y}": int(n) for x, y, n in ENTRIES.findall(_read(run_dir / "routing_summary.rpt"))}
    compressed = {f"{x},{y}": int(n) for x, y, n in ENTRIES.findall(_read(run_dir / "compressed_routing_summary.rpt"))}
    return tuple(placements), entries, compressed, system


def _environment(home: Path, hw: HwConfig) -> dict[str, str]:
    host = os.environ.get(HOST_ENV)
    machine = f"machine_name = {host}" if host else ""
    (home / ".spynnaker.cfg").write_text(CONFIG.format(virtual=not host, version=hw.param("board_version"), machine=machine))
    return {**os.environ, "HOME": str(home), "MPLBACKEND": "Agg"}


def execute(net: PyNNNetwork, inputs: np.ndarray, hw: HwConfig, timeout_s: float = 600) -> BoardReport:
    """Run ``run_pynn.py`` of the lowered network on the configured machine (virtual unless NEUROPORT_SPINNAKER_HOST)."""
    import importlib.util

    if importlib.util.find_spec("spynnaker") is None or importlib.util.find_spec("pyNN") is None:
        raise MissingDependencyError("spynnaker", "spinnaker")
    with tempfile.TemporaryDirectory(prefix="neuroport-spinnaker-") as tmp:
        work = Path(tmp)
        net.save(work / "artifact", inputs)
        env = _environment(work, hw)
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, str(work / "artifact" / "run_pynn.py"), str(work / "artifact"), str(work / "out")],
                              cwd=work, env=env, capture_output=True, text=True, timeout=timeout_s)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
            raise NeuroportError("sPyNNaker failed to map the network:\n  " + "\n  ".join(tail))
        runs = sorted(work.glob("reports/*/run_1"))
        placements, entries, compressed, system = parse_reports(runs[-1]) if runs else ((), {}, {}, 0)
        with np.load(work / "out" / "weights.npz") as data:
            weights = {k: data[k] for k in data.files}
        stored, parameters = work / "out" / "parameters.npz", {}
        if stored.is_file():
            with np.load(stored) as data:
                parameters = {k: data[k] for k in data.files}
    return BoardReport(virtual=HOST_ENV not in os.environ, board_version=hw.param("board_version"), placements=placements,
                       routing_entries=entries, compressed_entries=compressed, system_cores=system, wall_s=wall,
                       report_dir="(temporary, removed)", weights=weights, parameters=parameters)
