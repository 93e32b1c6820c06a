"""`livinglab bench query`: /api/v1/data over a day to a year, for every role and resolution.

On the readings of `readlab` (loaded with the ingest's own COPY and rollup upsert), the API runs
in this process (`TestClient(create_app(...))`: the whole ASGI stack, routing, authentication and
JSON, without a socket) and each cell (range, interval, asker) is asked `repeat` times, for one
sensor, ending at the end of the data (an unaligned moment):

- operator: `sensor=`; operator with `trial=`; partner through the trial (`trial=`, `sensor=`);
  viewer: `sensor=` (buckets of whole one-minute cells of enough readings).

It checks that the partner's buckets lying wholly inside the trial's window equal the operator's
(count, min and max exactly, the mean to 1e-9), and reports per cell p50_ms and p95_ms; the
target is p95 < 300 ms in every cell. The last line of stdout is one JSON object.
"""

from __future__ import annotations

import contextlib
import json
import logging
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

from livinglab_lab.bench.harness import progress_bar
from livinglab_lab.bench.readlab import ReadLab, load_read_lab

__all__ = ["run_query_benchmark"]

RANGES = {"1d": 1, "7d": 7, "30d": 30, "365d": 365}
INTERVALS = ("auto", "1h", "1d")
ASKERS = ("operator", "operator_trial", "partner_trial", "viewer")
TARGET_P95_MS = 300.0


def _params(lab: ReadLab, asker: str, days: int, interval: str) -> dict[str, Any]:
    end = lab.end
    start = end - timedelta(days=days)
    params: dict[str, Any] = {
        "sensor": lab.sensor_ids[0],
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": end.isoformat().replace("+00:00", "Z"),
        "interval": interval,
    }
    if asker.endswith("_trial"):
        params["trial"] = lab.trial_id
    return params


def _who(asker: str) -> str:
    return asker.removesuffix("_trial")


def _points(body: dict[str, Any]) -> dict[str, tuple[int, float, float, float]]:
    return {
        p["time"]: (p["count"], p["mean"], p["min"], p["max"])
        for series in body["series"]
        for p in series["points"]
        if p.get("count") is not None
    }


def _inside_equal(
    lab: ReadLab, operator: dict[str, Any], partner: dict[str, Any]
) -> tuple[int, list[str]]:
    """Compare the buckets lying wholly inside the trial's window; return (compared, errors)."""
    width = _width(partner["interval"])
    lo, hi = lab.window
    ours, theirs = _points(operator), _points(partner)
    compared, errors = 0, []
    for moment, answer in ours.items():
        t = datetime.fromisoformat(moment)
        if t < lo or t + width > hi:
            continue
        compared += 1
        other = theirs.get(moment)
        if other is None or other[0] != answer[0] or other[2:] != answer[2:]:
            errors.append(f"{moment}: operator {answer}, partner {other}")
        elif abs(other[1] - answer[1]) > 1e-9 * max(1.0, abs(answer[1])):
            errors.append(f"{moment}: mean {answer[1]} != {other[1]}")
    return compared, errors


def _width(interval: str) -> timedelta:
    units = {"m": 60, "h": 3600, "d": 86400}
    return timedelta(seconds=int(interval[:-1]) * units[interval[-1]])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _measure(
    client: TestClient, lab: ReadLab, *, repeat: int, ranges: dict[str, int]
) -> tuple[dict[str, Any], list[str], int]:
    cells: dict[str, Any] = {}
    errors: list[str] = []
    compared = 0
    headers = {who: {"Authorization": f"Bearer {t}"} for who, t in lab.tokens.items()}
    total = len(ranges) * len(INTERVALS) * len(ASKERS)
    with progress_bar(Console(stderr=True)) as progress:
        task = progress.add_task("queries", total=total)
        for range_name, days in ranges.items():
            for interval in INTERVALS:
                bodies: dict[str, dict[str, Any]] = {}
                for asker in ASKERS:
                    params = _params(lab, asker, days, interval)
                    times_ms = []
                    for _ in range(
                        repeat + 1
                    ):  # the first warms caches and is not counted
                        started = time.perf_counter()
                        r = client.get(
                            "/api/v1/data", headers=headers[_who(asker)], params=params
                        )
                        times_ms.append((time.perf_counter() - started) * 1000)
                        if r.status_code != 200:
                            errors.append(
                                f"{range_name} {interval} {asker}: {r.status_code} {r.text[:200]}"
                            )
                            break
                    else:
                        bodies[asker] = r.json()
                    measured = times_ms[1:] or times_ms
                    cells[f"{range_name}/{interval}/{asker}"] = {
                        "p50_ms": round(statistics.median(measured), 1),
                        "p95_ms": round(_percentile(measured, 0.95), 1),
                        "resolution": bodies.get(asker, {}).get("interval"),
                        "points": sum(
                            len(s["points"])
                            for s in bodies.get(asker, {}).get("series", [])
                        ),
                    }
                    progress.advance(task)
                if "operator" in bodies and "partner_trial" in bodies:
                    n, wrong = _inside_equal(
                        lab, bodies["operator"], bodies["partner_trial"]
                    )
                    compared += n
                    errors += [f"{range_name} {interval}: {e}" for e in wrong[:3]]
    return cells, errors, compared


def run_query_benchmark(
    *,
    lab_dir: Path,
    days: int,
    sensors: int,
    step_s: float,
    repeat: int,
    console: Console,
) -> dict[str, Any]:
    """Load the readings, time every cell, print the table and the JSON line; return the JSON."""
    ranges = {name: d for name, d in RANGES.items() if d <= days} or {f"{days}d": days}
    # One log line per request would bury the table.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from livinglab_platform.api import create_app
    from livinglab_platform.core.settings import ApiSettings, BrokerSettings

    with contextlib.ExitStack() as stack:
        console.print(
            f"loading {days} days of {sensors} sensors every {step_s:g} s in {lab_dir}"
        )
        with progress_bar(Console(stderr=True)) as progress:
            task = progress.add_task("days", total=days)
            lab = load_read_lab(
                lab_dir,
                stack,
                days=days,
                n_sensors=sensors,
                step_s=step_s,
                on_day=lambda n: progress.advance(task, n),
            )
        app = create_app(
            ApiSettings(database_url=lab.dsn),
            BrokerSettings(mqtt_host="127.0.0.1", mqtt_port=1, mqtt_admin_password="x"),
        )
        with TestClient(app) as client:
            cells, errors, compared = _measure(
                client, lab, repeat=repeat, ranges=ranges
            )
    slowest = max((c["p95_ms"] for c in cells.values()), default=0.0)
    result: dict[str, Any] = {
        "benchmark": "query",
        "days": days,
        "sensors": sensors,
        "step_s": step_s,
        "readings": lab.readings,
        "load_s": round(lab.load_s, 1),
        "repeat": repeat,
        "transport": "in-process TestClient",
        "max_p95_ms": slowest,
        "target_p95_ms": TARGET_P95_MS,
        "buckets_compared": compared,
        "partner_equals_operator": not errors and compared > 0,
        "errors": errors[:10],
        "cells": cells,
    }
    _print_table(console, cells)
    for error in errors[:10]:
        console.print(f"[red]{error}[/]")
    print(json.dumps(result), flush=True)  # noqa: T201
    return result


def _print_table(console: Console, cells: dict[str, Any]) -> None:
    table = Table(title="/api/v1/data, p50 / p95 ms (resolution, points)")
    table.add_column("range / interval")
    for asker in ASKERS:
        table.add_column(asker, justify="right")
    rows: dict[str, dict[str, str]] = {}
    for key, cell in cells.items():
        range_name, interval, asker = key.split("/")
        mark = "" if cell["p95_ms"] < TARGET_P95_MS else " [red]!"
        rows.setdefault(f"{range_name} {interval}", {})[asker] = (
            f"{cell['p50_ms']:.0f} / {cell['p95_ms']:.0f}{mark}"
            f" ({cell['resolution']}, {cell['points']})"
        )
    for name, row in rows.items():
        table.add_row(name, *(row.get(a, "") for a in ASKERS))
    console.print(table)
