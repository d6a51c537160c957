"""NEST on MPI ranks (backends/nest/mpi.py; the ranks themselves are tested by tests/nest_mpi under
`make test-nest-mpi`, which builds a NEST with MPI).  Here, with the NEST wheel:

* each rank's share — the synapses whose target it holds, the recorder events of its neurons — merges back into
  exactly what one process records (:func:`merge_ranks` + :func:`assemble` on a real NEST run's events, split the
  way NEST splits them: neurons round-robin over the ranks);
* ``train --engine nest --ranks 2`` against a NEST without MPI is one clear line naming what to build, exit 2.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from neuroport.backends.nest.engine import nest_spec
from neuroport.backends.nest.mpi import PREFIX_ENV
from neuroport.backends.nest.runner import assemble, merge_ranks

from neuroport.cli import main
from neuroport.ir.learning_rule import EpropRule, Optimizer
from tests.conftest import write_yaml
from tests.nest.test_eprop_vs_nest import BATCH, batches, network
from tests.nest.test_nest_examples_engines import shortened

pytestmark = pytest.mark.nest
RAW_RUN = ("import sys, json, numpy as np; from neuroport.backends.nest.runner import run, load_spec; "
           "spec, meta = load_spec(sys.argv[1]); np.savez(sys.argv[2], **run(spec, meta))")


def raw_run(tmp_path, spec: dict, meta: dict) -> dict[str, np.ndarray]:
    np.savez(tmp_path / "spec.npz", meta=json.dumps(meta), **spec)
    subprocess.run([sys.executable, "-c", RAW_RUN, str(tmp_path / "spec.npz"), str(tmp_path / "raw.npz")], check=True)
    with np.load(tmp_path / "raw.npz") as data:
        return {k: data[k] for k in data.files}


def share(raw: dict[str, np.ndarray], rank: int, ranks: int) -> dict[str, np.ndarray]:
    """What rank ``rank`` of ``ranks`` would hold: targets and senders with node id ≡ rank (mod ranks)."""
    first_rec, first_out = int(raw["first_rec"]), int(raw["first_readout"])
    mine = lambda ids: np.asarray(ids) % ranks == rank  # noqa: E731
    out = {k: v for k, v in raw.items() if v.ndim == 0}
    for key, first in (("w_in", first_rec), ("w_rec", first_rec), ("w_out", first_out)):
        rows = mine(first + np.arange(raw[key].shape[0]))
        out[key] = np.where(rows[:, None], raw[key], 0.0)
    for prefix in ("meter_", "probe_"):
        keep = mine(raw[f"{prefix}senders"]) if f"{prefix}senders" in raw else None
        out.update({k: v[keep] for k, v in raw.items() if k.startswith(prefix)})
    out["spike_times"] = raw["spike_times"][rank::ranks]  # the recorder's senders are not kept: any split will do
    return out


def test_rank_shares_merge_into_the_single_process_result(tmp_path):
    net, feedback = network("cross_entropy", adaptive=True)
    rule = EpropRule(feedback="random", feedback_weights=feedback, c_reg=300.0, batch_size=BATCH,
                     optimizer=Optimizer(name="adam", learning_rate=0.01))
    spec, meta = nest_spec(net, rule, batches("cross_entropy"), record_recurrent=True)
    raw = raw_run(tmp_path, spec, meta)
    whole = assemble(raw, *spec["inputs"].shape[:2])
    merged = assemble(merge_ranks([share(raw, r, 3) for r in (2, 0, 1)]), *spec["inputs"].shape[:2])
    assert whole.keys() == merged.keys()
    for key, value in whole.items():
        np.testing.assert_array_equal(merged[key], value, err_msg=key)
    assert np.count_nonzero(whole["w_rec"]) > 0 and whole["spike_counts"].sum() > 0


def test_ranks_without_an_mpi_nest_is_one_clear_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(PREFIX_ENV, raising=False)
    model = write_yaml(tmp_path, shortened("evidence_accumulation_nest.yaml"))
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(model), "--engine", "nest", "--ranks", "2", "-i", "1", "-o", str(tmp_path / "out"), "--json"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --ranks 2 needs ") and "make nest-mpi" in err[0], err
