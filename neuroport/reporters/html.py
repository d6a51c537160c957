"""A self-contained HTML report (tables + plots embedded as PNG data URIs)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from neuroport.outputs import write_text
from neuroport.reporters.energy import fmt_si


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}">'


def _table(report: Any) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(ln.item)}</td><td>{ln.count:,.6g}</td><td>{fmt_si(ln.unit.value, ln.unit_name)}</td>"
        f"<td>{fmt_si(ln.energy_j, 'J')}</td><td>{ln.unit.sureness}</td><td>{html.escape(ln.unit.source)}</td></tr>"
        for ln in report.lines)
    return (f"<h2>{html.escape(report.hw_name)}</h2><p>{report.cores} cores, {report.chips} chip(s); energy "
            f"{fmt_si(report.energy_j, 'J')}, latency {fmt_si(report.latency_s, 's')}, EDP {report.edp_js:.3g} J·s"
            f"<br>latency model: {html.escape(report.latency_model)}</p><table><tr><th>item</th><th>count</th>"
            f"<th>unit cost</th><th>energy</th><th>sureness</th><th>source</th></tr>{rows}</table>")


def write_html(path: str | Path, title: str, reports: list, images: list[Path], extra: dict[str, Any]) -> Path:
    """Write one page: a table per hardware config, the plots, and extra key/value rows."""
    facts = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in extra.items())
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>{''.join(_table(r) for r in reports)}"
            f"<h2>Other figures</h2><table>{facts}</table>{''.join(_img(p) for p in images)}</body></html>")
    return write_text(path, page)
