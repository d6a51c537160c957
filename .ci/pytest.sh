#!/usr/bin/env bash
# Run the whole suite; pytest's exit code 5 ("no tests collected") is a failure like any other.
set -uo pipefail
python=$1
workers=${2:-2}
# tests/nest_mpi needs a NEST built with MPI (tens of minutes to build): `make test-nest-mpi` runs it.
"$python" -m pytest -n "$workers" -q tests --ignore=tests/nest_mpi
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing the run" >&2
  exit 1
fi
exit "$rc"
