"""The results table (CSV, Parquet when pyarrow is installed) and the Pareto fronts with their plots.

A point p dominates q when it costs no more (EDP, or energy, per inference) and scores at least as well
(accuracy higher, MSE lower), one of the two strictly.  The front is the set of points nothing dominates, found
by sorting on the cost (ties: the better score first) and keeping each point that beats every cheaper one.
"""

from __future__ import annotations

import csv
import importlib.util
import io
from pathlib import Path
from typing import Any

from neuroport.explore.point import RESULT_FIELDS
from neuroport.explore.space import AXES

COLUMNS = ("key", "status", *AXES, *RESULT_FIELDS, "error")
COSTS = {"edp": "edp_js", "energy": "energy_j"}


def table_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per point record, in the space's point order; no timings (the table is reproducible)."""
    rows = []
    for rec in records:
        row = {"key": rec["key"], "status": rec["status"], **{a: rec["config"].get(a) for a in AXES}}
        row |= {f: (rec.get("results") or {}).get(f) for f in RESULT_FIELDS}
        row["error"] = rec.get("error")
        rows.append(row)
    return rows


def csv_text(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return out.getvalue()


def write_parquet(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """The table as Parquet (pyarrow), or None when pyarrow is not installed."""
    if importlib.util.find_spec("pyarrow") is None:
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {c: [row[c] for row in rows] for c in COLUMNS}
    columns = {c: [None if v is None else str(v) for v in vals] if c in ("model", "hw", "error", "key", "status", "metric") else vals
               for c, vals in columns.items()}
    pq.write_table(pa.table(columns), path)
    return path


def better(metric: str, a: float, b: float) -> bool:
    """Score a beats score b."""
    return a > b if metric == "accuracy" else a < b


def pareto_front(rows: list[dict[str, Any]], cost: str) -> list[dict[str, Any]]:
    """The non-dominated ok rows of one metric (module docstring), cheapest first."""
    sign = {"accuracy": -1.0, "mse": 1.0}
    ok = sorted((r for r in rows if r["status"] == "ok"), key=lambda r: (r[cost], sign[r["metric"]] * r["fixed_score"]))
    front: list[dict[str, Any]] = []
    for row in ok:
        if not front or better(row["metric"], row["fixed_score"], front[-1]["fixed_score"]):
            front.append(row)
    return front


def fronts(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """{metric: {"edp": [keys on the front], "energy": [...]}} for every metric of the table."""
    metrics = sorted({r["metric"] for r in rows if r["status"] == "ok"})
    return {m: {name: [r["key"] for r in pareto_front([r for r in rows if r["metric"] == m], col)] for name, col in COSTS.items()}
            for m in metrics}


def float_reference(rows: list[dict[str, Any]], metric: str) -> float | None:
    """The best float-model score among the points (the float reference the fixed-point points are held to)."""
    scores = [r["float_score"] for r in rows if r["status"] == "ok" and r["metric"] == metric]
    if not scores:
        return None
    return max(scores) if metric == "accuracy" else min(scores)


def plot_front(rows: list[dict[str, Any]], metric: str, cost: str, path: Path, title: str) -> Path:
    """Every ok point (cost, fixed-point score), the Pareto front joined, and the float reference dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    column = COSTS[cost]
    pts = [r for r in rows if r["status"] == "ok" and r["metric"] == metric]
    front = pareto_front(pts, column)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for hw in sorted({r["hw"] for r in pts}):
        mine = [r for r in pts if r["hw"] == hw]
        ax.scatter([r[column] for r in mine], [r["fixed_score"] for r in mine], s=22, alpha=0.75, label=f"{hw} (fixed point)")
    ax.step([r[column] for r in front], [r["fixed_score"] for r in front], where="post", color="k", lw=1.2, label="Pareto front")
    reference = float_reference(pts, metric)
    if reference is not None:
        ax.axhline(reference, color="tab:red", ls="--", lw=1.0, label=f"float reference (best) {reference:.3g}")
    costs = [r[column] for r in pts if r[column]]
    if costs and max(costs) > 10 * min(costs):  # a log axis only across decades: within one its labels collide
        ax.set_xscale("log")
    ax.set_xlabel({"edp": "EDP per inference (J·s)", "energy": "energy per inference (J)"}[cost])
    ax.set_ylabel(metric + (" (higher is better)" if metric == "accuracy" else " (lower is better)"))
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_outputs(rows: list[dict[str, Any]], folder: Path, title: str) -> dict[str, Any]:
    """results.csv, results.parquet (if pyarrow), pareto plots per metric and cost; returns what was written."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.csv").write_text(csv_text(rows))
    parquet = write_parquet(rows, folder / "results.parquet")
    plots = [str(plot_front(rows, m, cost, folder / f"pareto_{m}_{cost}.png", f"{title}: {m} vs {cost}"))
             for m in fronts(rows) for cost in COSTS]
    return {"csv": str(folder / "results.csv"), "parquet": str(parquet) if parquet else None, "plots": plots}
