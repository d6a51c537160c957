"""loihi-sim runs Izhikevich networks: neuroport's Izhikevich Lava process (fixed_pt) between Lava's own Dense
processes equals the emulator bit for bit — every spike, v, u and readout value of every step, over several samples
(the host resets between them and the process reloads v0, u0) — and `neuroport verify` says so."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuroport.hw import load_hw
from neuroport.ir.loader import load_model
from neuroport.pipeline import emulate_fixed, quantize, task_batch
from tests.conftest import write_yaml
from tests.test_izhikevich import IZH

pytestmark = pytest.mark.lava


def test_lava_equals_emulator_on_a_seeded_recurrent_network(tmp_path):
    from neuroport.backends.loihi.runner import run_batch

    from neuroport.backend import load_backend

    graph = load_model(write_yaml(tmp_path, IZH))
    fixed = quantize(graph, load_hw("loihi2"))
    assert fixed.w_rec.n_synapses > 0 and fixed.neurons.kind == "izhikevich"
    x = task_batch(graph, 3, seed=21).inputs
    lava = run_batch(fixed, x)
    emu, _ = emulate_fixed(fixed, x, probe_states=True)
    assert set(lava.states) == {"v", "u"}
    for name, got, want in (("spikes", lava.spikes, emu.spikes), ("v", lava.states["v"], emu.states["v"]),
                            ("u", lava.states["u"], emu.states["u"]), ("readout", lava.readout, emu.readout)):
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert emu.spikes.sum() > 0 and np.any(emu.readout != 0)
    np.testing.assert_array_equal(lava.states["v"][:, 0] != fixed.neurons.izh_v0, emu.states["v"][:, 0] != fixed.neurons.izh_v0)
    result = load_backend("loihi-sim").verify_against_emulator(fixed, x, max_samples=2)
    assert result["bit_exact"] and set(result["mismatches"]) == {"spikes", "v", "u", "readout"}, result


def test_cli_compile_and_verify(tmp_path):
    """`neuroport compile` lowers the network to the Izhikevich process; `verify --target loihi-sim` is bit-exact."""
    from click.testing import CliRunner

    from neuroport.cli import cli

    model, out = write_yaml(tmp_path, IZH), tmp_path / "compiled"
    compiled = CliRunner().invoke(cli, ["compile", str(model), "--target", "loihi-sim", "-o", str(out)])
    assert compiled.exit_code == 0, compiled.output
    processes = json.loads((out / "lava_graph.json").read_text())["processes"]
    assert processes[1]["process"] == "neuroport.backends.loihi.lava_procs.izhikevich.NeuroportIzhikevich"
    verified = CliRunner().invoke(cli, ["verify", str(model), "--target", "loihi-sim", "--samples", "4", "--json"])
    assert verified.exit_code == 0, verified.output
    payload = json.loads(verified.output[verified.output.index("{"):])
    assert payload["bit_exact"] is True and "accuracy_drop_pp" in payload
