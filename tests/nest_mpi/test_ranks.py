"""NEST on MPI ranks: `make test-nest-mpi` (after `make nest-mpi` has built NEST 3.10 with MPI into .nest-mpi/;
`.ci/pytest.sh` leaves this folder to that target, since the build takes tens of minutes).

`neuroport train --engine nest` on 2 MPI ranks × 1 thread gives the same curve and the same trained weights as
1 rank × 2 threads (the same 2 virtual processes, NEST's own invariant), and both equal the numpy engine (to
1e-9, as tests/nest/test_nest_examples_engines.py holds the wheel's NEST to).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from neuroport.backends.nest.mpi import PREFIX_ENV

from neuroport.cli import cli
from tests.conftest import write_yaml
from tests.nest.test_nest_examples_engines import shortened

pytestmark = pytest.mark.nest


def train(tmp_path, model, name: str, *options: str) -> tuple[list[dict], dict[str, np.ndarray]]:
    out = tmp_path / name
    result = CliRunner().invoke(cli, ["train", str(model), "-i", "3", "-o", str(out), "--json", *options])
    assert result.exit_code == 0, result.output
    with np.load(out / "model.weights.npz") as data:
        return json.loads((out / "curve.json").read_text())["history"], {k: data[k] for k in data.files}


def test_two_ranks_equal_one_rank_with_two_threads_and_the_numpy_engine(tmp_path):
    assert os.environ.get(PREFIX_ENV), f"run through `make test-nest-mpi` ({PREFIX_ENV} names the MPI build)"
    model = write_yaml(tmp_path, shortened("evidence_accumulation_nest.yaml"))
    ranks = train(tmp_path, model, "ranks", "--engine", "nest", "--ranks", "2", "--threads", "1")
    threads = train(tmp_path, model, "threads", "--engine", "nest", "--ranks", "1", "--threads", "2")
    numpy = train(tmp_path, model, "numpy", "--engine", "numpy")
    for key in ("loss", "nest_loss", "error", "rate_hz"):
        assert [h[key] for h in ranks[0]] == [h[key] for h in threads[0]], key
        np.testing.assert_allclose([h[key] for h in ranks[0]], [h[key] for h in numpy[0]], rtol=1e-9, err_msg=key)
    for key, value in threads[1].items():
        np.testing.assert_array_equal(ranks[1][key], value, err_msg=key)
        np.testing.assert_allclose(value, numpy[1][key], rtol=0, atol=1e-9 * max(np.abs(value).max(), 1))
