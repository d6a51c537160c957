"""NEST past one process: the e-prop runner under ``mpirun`` on a NEST built with MPI (``make nest-mpi``).

NEST distributes a network over MPI ranks × ``local_num_threads`` threads ("virtual processes"); each rank holds
a share of the neurons and the synapses whose target it holds.  The results do not depend on how the virtual
processes are split between ranks and threads (NEST's documentation, "Parallel computing": the random streams and
the neuron → virtual-process assignment are fixed by the number of virtual processes), which is what
``tests/nest_mpi/test_ranks.py`` checks: 2 ranks × 1 thread equal 1 rank × 2 threads.

The wheel ``make install`` puts into the virtual environment is built without MPI (``have_mpi`` is False in
``nest.GetKernelStatus("build_info")``).  ``make nest-mpi`` builds NEST 3.10 from its source distribution with
``-Dwith-mpi=ON`` into ``.nest-mpi/`` against Debian's OpenMPI; :data:`PREFIX_ENV` names that prefix for the
runner's subprocesses (its ``site-packages`` goes first on their ``PYTHONPATH``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from neuroport.errors import NeuroportError

PREFIX_ENV = "NEUROPORT_NEST_PREFIX"  # install prefix of a NEST build to run instead of the one in the environment
HAVE_MPI_CHECK = "import nest; print(nest.GetKernelStatus('build_info')['have_mpi'])"


class NestMpiError(NeuroportError):
    """NEST cannot run on the MPI ranks asked for."""


def runner_env() -> dict[str, str]:
    """The environment of the NEST subprocess: :data:`PREFIX_ENV`'s site-packages first on PYTHONPATH, if set."""
    env = dict(os.environ)
    prefix = os.environ.get(PREFIX_ENV)
    if not prefix:
        return env
    site = sorted(Path(prefix).glob("lib*/python3*/site-packages"))
    if not site:
        raise NestMpiError(f"{PREFIX_ENV}={prefix} holds no lib/python3.*/site-packages with a NEST build; "
                           f"build one with `make nest-mpi`")
    env["PYTHONPATH"] = os.pathsep.join([str(site[0]), *filter(None, [env.get("PYTHONPATH")])])
    return env


def require_mpi(ranks: int) -> list[str]:
    """The ``mpirun`` prefix of the runner command for ``ranks`` ranks; a clear error if there is no ``mpirun`` or
    the NEST the runner would import was built without MPI."""
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise NestMpiError(f"--ranks {ranks} needs MPI's `mpirun` on PATH (Debian: apt install openmpi-bin "
                           f"libopenmpi-dev) and a NEST built with MPI (`make nest-mpi`)")
    probe = subprocess.run([sys.executable, "-c", HAVE_MPI_CHECK], capture_output=True, text=True, env=runner_env(),
                           timeout=120)
    answer = (probe.stdout.strip().splitlines() or [""])[-1]  # after NEST's banner
    if answer != "True":
        found = answer if answer == "False" else (probe.stderr.strip().splitlines() or ["no answer"])[-1][:120]
        raise NestMpiError(f"--ranks {ranks} needs a NEST built with MPI; the one the runner imports reports "
                           f"have_mpi={found}. Build one with "
                           f"`make nest-mpi` and set {PREFIX_ENV}=$PWD/.nest-mpi")
    root = ["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [mpirun, "-np", str(ranks), "--oversubscribe", *root]


def rank_outputs(out_path: Path, ranks: int) -> list[dict[str, np.ndarray]]:
    """Each rank's share (``OUT.npz.rankR.npz``, :func:`neuroport.backends.nest.runner.main`)."""
    from neuroport.backends.nest.runner import rank_file

    shares = []
    for rank in range(ranks):
        path = Path(rank_file(str(out_path), rank))
        if not path.exists():
            raise NestMpiError(f"NEST rank {rank} of {ranks} wrote no result ({path.name}): was NEST started by "
                               f"mpirun with MPI support?")
        with np.load(path) as data:
            shares.append({k: data[k] for k in data.files})
    return shares
