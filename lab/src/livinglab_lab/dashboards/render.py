"""A rough picture of each dashboard without Grafana: every panel's expanded query run, its result
drawn as an inline SVG line chart (time series) or a table, at the panel's place in the grid.

Not Grafana's look: enough for a person to see that each panel has the data it should.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from livinglab_lab.dashboards.build import generate
from livinglab_lab.dashboards.expand import Range, VariableValue, expand

__all__ = ["render"]

_WIDTH, _HEIGHT = 560, 180
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def _svg(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """Each numeric column (per `metric`, when there is one) as a polyline over time."""
    has_metric = len(columns) > 1 and columns[1] == "metric"
    first_value = 2 if has_metric else 1
    series: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        x = row[0].timestamp() if isinstance(row[0], datetime) else float(row[0])
        for i in range(first_value, len(columns)):
            if isinstance(row[i], int | float | Decimal) and not isinstance(
                row[i], bool
            ):
                name = f"{columns[i]} {row[1]}" if has_metric else columns[i]
                series.setdefault(name, []).append((x, float(row[i])))
    points = [p for s in series.values() for p in s]
    if not points:
        return "<p>no data</p>"
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)

    def scale(p: tuple[float, float]) -> str:
        x = (p[0] - x0) / ((x1 - x0) or 1) * (_WIDTH - 20) + 10
        y = _HEIGHT - 10 - (p[1] - y0) / ((y1 - y0) or 1) * (_HEIGHT - 20)
        return f"{x:.1f},{y:.1f}"

    lines = [
        f'<polyline fill="none" stroke="{_COLOURS[i % len(_COLOURS)]}" stroke-width="1.2"'
        f' points="{" ".join(scale(p) for p in s)}"><title>{html.escape(name)}</title></polyline>'
        for i, (name, s) in enumerate(series.items())
    ]
    legend = ", ".join(html.escape(n) for n in list(series)[:8])
    return (
        f'<svg width="{_WIDTH}" height="{_HEIGHT}" style="background:#fafafa">{"".join(lines)}</svg>'
        f"<p class=small>{legend}; {y0:.4g} to {y1:.4g}</p>"
    )


def _table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in rows[:20]
    )
    more = f"<p class=small>{len(rows)} rows</p>" if len(rows) > 20 else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def _panel(conn: psycopg.Connection[Any], panel: dict[str, Any], sql: str) -> str:
    with conn.cursor() as cur:
        cur.execute(sql)
        assert cur.description is not None
        columns = [c.name for c in cur.description]
        rows = cur.fetchall()
    drawn = (
        _svg(columns, rows)
        if panel["targets"][0]["format"] == "time_series"
        else _table(columns, rows)
    )
    grid = panel["gridPos"]
    return (
        f'<section style="grid-column:{grid["x"] + 1}/span {grid["w"]}">'
        f"<h2>{html.escape(panel['title'])}</h2>"
        f"<p class=small>{html.escape(panel.get('description', ''))}</p>{drawn}</section>"
    )


def render(
    login_dsn: str,
    directory: Path,
    *,
    variables: Mapping[str, VariableValue],
    time_range: Range,
) -> list[Path]:
    """Write `<uid>.html` for each dashboard into `directory`, queries run as `login_dsn`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with psycopg.connect(login_dsn, autocommit=True) as conn:
        for uid, text in generate().items():
            model = json.loads(text)
            sections = [
                _panel(
                    conn,
                    panel,
                    expand(
                        panel["targets"][0]["rawSql"],
                        variables=variables,
                        time_range=time_range,
                    ),
                )
                for panel in sorted(
                    model["panels"],
                    key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]),
                )
            ]
            chosen = ", ".join(f"{k} = {v}" for k, v in variables.items())
            page = (
                f"<!doctype html><meta charset=utf-8><title>{html.escape(model['title'])}</title>"
                "<style>body{font-family:sans-serif;margin:1em}main{display:grid;"
                "grid-template-columns:repeat(24,1fr);gap:8px}section{border:1px solid #ddd;"
                "padding:4px;overflow:auto}h2{font-size:1em;margin:0}.small{font-size:.75em;"
                "color:#555}table{font-size:.8em;border-collapse:collapse}td,th{border:1px solid"
                " #eee;padding:1px 4px}</style>"
                f"<h1>{html.escape(model['title'])}</h1><p class=small>"
                f"{html.escape(model.get('description', ''))}<br>{html.escape(chosen)};"
                f" {time_range.start:%Y-%m-%d %H:%M} to {time_range.end:%Y-%m-%d %H:%M} UTC</p>"
                f"<main>{''.join(sections)}</main>"
            )
            path = directory / f"{uid}.html"
            path.write_text(page, encoding="utf-8")
            written.append(path)
    return written
