"""``neuroport explore SPACE.yaml``: a design-space exploration on Dask, one task per point."""

from __future__ import annotations

from pathlib import Path

import click

from neuroport import jsonio
from neuroport.commands.common import echo_json, json_option


@click.command("explore")
@click.argument("space_file", metavar="SPACE.yaml", type=click.Path(dir_okay=False))
@click.option("--out", "-o", type=click.Path(file_okay=False), default=None,
              help="Output folder [default: build/explore/<space name>].")
@click.option("--workers", type=int, default=None,
              help="Worker processes of the local Dask cluster [default: one per core]; 0 runs every point in this process.")
@click.option("--serial", is_flag=True, help="Run in this process, no Dask (the same as --workers 0).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Attach to a running Dask scheduler instead (also DASK_SCHEDULER_ADDRESS): `dask scheduler`, "
                   "dask-jobqueue on SLURM/PBS, Kubernetes.")
@click.option("--resume", is_flag=True, help="Keep the points already in --out and run only the missing or failed ones.")
@click.option("--overwrite", is_flag=True, help="Recompute every point even if --out holds its result.")
@json_option
def command(space_file: str, out: str | None, workers: int | None, serial: bool, scheduler: str | None, resume: bool,
            overwrite: bool, as_json: bool) -> None:
    """Explore a design space: every combination of the axes in SPACE.yaml runs the pipeline
    (train if asked → quantize → emulate on held-out task data → compare with float → energy/latency/EDP).

    \b
    Axes: model, hw, weight_bits, v_bits, size, connectivity, learning_rate, seed, train_iterations
    (docs/howto/explore.md).  Each point is one Dask task; its result is stored in OUT/points/<key>.json the
    moment it finishes (key: a hash of the point's full configuration), so an interrupted run continues with
    --resume and never recomputes a finished point.  A failed point is recorded with its error; the rest go on.

    \b
    Writes into OUT:
      results.csv (+ results.parquet with pyarrow)    one row per point
      pareto_<metric>_<edp|energy>.png                 the fronts, with the float reference dashed
      pareto.json                                      the keys on each front

    \b
    Examples:
      neuroport explore examples/spaces/explore_ea.yaml                      # LocalCluster, one worker per core
      neuroport explore examples/spaces/explore_ea.yaml --workers 0          # in this process
      neuroport explore examples/spaces/explore_ea.yaml --resume             # continue an interrupted run
      neuroport explore space.yaml --scheduler tcp://login01:8786     # a cluster (e.g. dask-jobqueue on SLURM)
    """
    from tqdm import tqdm

    from neuroport.explore.cluster import dask_client
    from neuroport.explore.results import fronts, table_rows, write_outputs
    from neuroport.explore.run import run_points
    from neuroport.explore.space import load_space
    from neuroport.explore.store import PointStore

    space = load_space(space_file)
    points = space.points()
    folder = Path(out or f"build/explore/{space.name}")
    store = PointStore(folder)
    store.require_resumable(resume, overwrite)
    if overwrite:
        for key in store.keys():
            store.path(key).unlink()
    skipped = sum(store.done(p.key) for p in points)
    with dask_client(0 if serial else workers, None if serial else scheduler) as client, \
            tqdm(total=len(points), initial=skipped, desc=f"explore {space.name}", unit="point", disable=as_json) as bar:
        failures = []

        def advance(record) -> None:
            failures.extend([record["key"]] if record["status"] != "ok" else [])
            bar.update(1)
            bar.set_postfix(failed=len(failures))

        computed = run_points(points, store, client, on_record=advance)
    rows = table_rows([store.get(p.key) for p in points])
    written = write_outputs(rows, folder, space.name)
    jsonio.write_json(folder / "pareto.json", fronts(rows))
    failed = [r for r in rows if r["status"] != "ok"]
    payload = {"space": space.file, "out": str(folder), "points": len(points), "computed": len(computed),
               "reused": len(points) - len(computed), "failed": len(failed), "pareto": fronts(rows), **written, "rows": rows}
    if as_json:
        echo_json(payload)
        return
    click.echo(f"{len(points)} points ({len(computed)} computed, {len(points) - len(computed)} reused, {len(failed)} failed) "
               f"→ {written['csv']}")
    for metric, front in payload["pareto"].items():
        click.echo(f"  Pareto front of {metric}: {len(front['edp'])} points vs EDP, {len(front['energy'])} vs energy")
    for row in failed:
        click.echo(f"  failed {row['key']}: {row['error']}")
    click.echo(f"  plots: {', '.join(written['plots']) or 'none (no point succeeded)'}")
