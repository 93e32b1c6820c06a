"""`livinglab bench dashboards`: every panel's query, expanded as Grafana expands it, timed as the
dashboards' login (livinglab_readonly) for the ranges a person picks, on a lab of a given size.

What is loaded, on a fresh PostgreSQL + TimescaleDB under `lab_dir`:
- `devices` devices of 5 sensors, readings every 10 s (6 a minute);
- the older part of the span as the rollups the ingest keeps (readings_1m and readings_1h, one
  row per sensor and minute or hour), generated in SQL: no dashboard query may read raw readings
  (migration 009), so a year of them would only cost disk and loading time here;
- the last `raw_hours` as raw readings by COPY, rolled up by the ingest's own code
  (`ingest.rollup.upsert_rollups`, which keeps the viewer's hours, as in the service);
- the viewer's hours rebuilt for the bulk part (`viewer_cells_rebuild`), the ledger (a batch a
  minute per device), ingest statistics (a row a minute), a quarantined payload a day, a trial.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from rich.console import Console
from rich.table import Table

from livinglab_lab.bench.harness import prepare_lab_dir
from livinglab_lab.dashboards.build import generate, queries
from livinglab_lab.dashboards.expand import Range, auto_interval_ms, expand
from livinglab_lab.dashboards.render import render
from livinglab_lab.services import Postgres
from livinglab_platform.core import db
from livinglab_platform.core.roles import ServiceRole, create_login
from livinglab_platform.ingest.rollup import upsert_rollups

__all__ = ["RANGES", "run_dashboards_benchmark"]

RANGES = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "1y": timedelta(days=365),
}
TARGET_P95_MS = 500.0
SENSORS = (
    ("temperature", "air_temperature", 12.0, 10.0),
    ("humidity", "relative_humidity", 60.0, 20.0),
    ("pressure", "air_pressure", 1013.0, 8.0),
    ("pm10", "pm10", 30.0, 25.0),
    ("noise", "noise_level", 55.0, 10.0),
)
READINGS_PER_MINUTE = 6


def _registry(conn: psycopg.Connection[Any], devices: int) -> list[int]:
    conn.execute(
        "INSERT INTO organisations (id, name, kind) VALUES ('lab', 'Lab', 'company')"
    )
    ids = []
    for i in range(devices):
        site = f"site-{i // 2:02d}"
        conn.execute(
            "INSERT INTO sites (id, name, latitude, longitude) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (site, f"Lokacija {i // 2}", 46.05 + i * 0.003, 14.50 + i * 0.004),
        )
        conn.execute(
            "INSERT INTO devices (id, site_id) VALUES (%s, %s)", (f"d{i:02d}", site)
        )
        for key, quantity, _, _ in SENSORS:
            row = conn.execute(
                "INSERT INTO sensors (device_id, key, quantity, unit) VALUES (%s, %s, %s, 'x')"
                " RETURNING id",
                (f"d{i:02d}", key, quantity),
            ).fetchone()
            assert row is not None
            ids.append(row[0])
    return ids


def _bulk_rollups(
    conn: psycopg.Connection[Any],
    sensor_id: int,
    *,
    start: datetime,
    end: datetime,
    base: float,
    amplitude: float,
) -> None:
    """A sensor's minutes and hours in [start, end): six readings a minute around a daily wave."""
    # Written as the owner, straight into the rollups: viewer_cells_rebuild makes the viewer's
    # hours of this part afterwards, in one statement.
    conn.execute(
        "INSERT INTO readings_1m (bucket, sensor_id, count, sum, min, max, sum_sq)"
        " SELECT b, %(s)s, %(n)s, %(n)s * v, v - 1, v + 1, %(n)s * v * v + 4"
        "   FROM (SELECT b, %(base)s + %(amp)s * sin(extract(epoch FROM b) / 86400 * 2 * pi()) AS v"
        "           FROM generate_series(%(start)s, %(end)s - interval '1 minute', interval '1 minute') b) m",
        {
            "s": sensor_id,
            "n": READINGS_PER_MINUTE,
            "base": base,
            "amp": amplitude,
            "start": start,
            "end": end,
        },
    )
    conn.execute(
        "INSERT INTO readings_1h (bucket, sensor_id, count, sum, min, max, sum_sq)"
        " SELECT time_bucket('1 hour', bucket), sensor_id, sum(count), sum(sum), min(min), max(max),"
        " sum(sum_sq) FROM readings_1m WHERE sensor_id = %(s)s AND bucket >= %(start)s AND bucket < %(end)s"
        " GROUP BY 1, 2",
        {"s": sensor_id, "start": start, "end": end},
    )


def _raw(
    conn: psycopg.Connection[Any],
    sensor_ids: list[int],
    *,
    start: datetime,
    end: datetime,
) -> int:
    """Raw readings of [start, end) by COPY, rolled up by the ingest's code."""
    step_us = 60_000_000 // READINGS_PER_MINUTE
    times = np.arange(
        int(start.timestamp() * 1e6),
        int(end.timestamp() * 1e6),
        step_us,
        dtype=np.int64,
    )
    total = 0
    for i, sensor in enumerate(sensor_ids):
        _, _, base, amplitude = SENSORS[i % len(SENSORS)]
        values = base + amplitude * np.sin(times / 1e6 / 86400 * 2 * np.pi)
        with (
            conn.cursor() as cur,
            cur.copy("COPY readings (time, sensor_id, value) FROM STDIN") as copy,
        ):
            for t, v in zip(times.tolist(), values.tolist(), strict=True):
                copy.write_row((datetime.fromtimestamp(t / 1e6, UTC), sensor, v))
        upsert_rollups(
            conn,
            time_us=times,
            sensor_id=np.full(len(times), sensor, dtype=np.int32),
            value=values,
        )
        total += len(times)
    return total


def _ledger_and_stats(
    conn: psycopg.Connection[Any], devices: int, *, start: datetime, end: datetime
) -> None:
    params = {"start": start, "end": end}
    for i in range(devices):
        conn.execute(
            "INSERT INTO deliveries (device_id, seq, readings, received_at)"
            " SELECT %(d)s, n, 30, %(start)s + n * interval '1 minute'"
            "   FROM generate_series(1, (extract(epoch FROM %(end)s - %(start)s) / 60)::int) n"
            "  WHERE n %% 997 <> 0",
            {**params, "d": f"d{i:02d}"},
        )
        conn.execute(
            "INSERT INTO device_status (device_id, online, last_seen, outbox_depth, clock_synced,"
            " clock_offset_ns) VALUES (%s, true, %s, 0, true, 1000000)",
            (f"d{i:02d}", end),
        )
    conn.execute(
        "INSERT INTO ingest_stats (time, instance, interval_s, readings, batches, duplicates,"
        " quarantined, readings_per_s, lag_s, queue_depth, txns, txn_ms_p50, txn_ms_p95,"
        " txn_ms_max) SELECT t, 'bench', 60, 3600, 120, 0, 0, 60, 0.05, 1, 60, 12, 30, 45"
        "   FROM generate_series(%(start)s, %(end)s, interval '1 minute') t",
        params,
    )
    conn.execute(
        "INSERT INTO quarantine (received_at, topic, device_id, reason, payload)"
        " SELECT t, 'livinglab/v1/d00/telemetry', 'd00', 'bad frame', '\\x00'"
        "   FROM generate_series(%(start)s, %(end)s, interval '1 day') t",
        params,
    )
    trial = conn.execute(
        "INSERT INTO trials (title, organisation_id, technology, trl_start, trl_target, starts_on,"
        " ends_on, state) VALUES ('Zrak', 'lab', 'PM', 4, 6, %(start)s::date, %(end)s::date + 30,"
        " 'running') RETURNING id",
        params,
    ).fetchone()
    assert trial is not None
    conn.execute(
        "INSERT INTO trial_devices (trial_id, device_id, starts_at, ends_at)"
        " VALUES (%s, 'd00', %s, %s)",
        (trial[0], start + (end - start) / 2, end + timedelta(days=1)),
    )
    conn.execute(
        "INSERT INTO audit_log (time, actor_label, object_type, object_id, action)"
        " VALUES (%s, 'bench', 'trial', %s, 'start')",
        (start + (end - start) / 2, str(trial[0])),
    )


def load(
    dsn: str, *, devices: int, span: timedelta, raw_hours: float, console: Console
) -> dict[str, Any]:
    """Fill the database; returns the size loaded and the variables' values."""
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - span
    raw_start = max(start, end - timedelta(hours=raw_hours))
    with psycopg.connect(dsn) as conn:
        sensor_ids = _registry(conn, devices)
        conn.commit()
        for i, sensor in enumerate(sensor_ids):
            _, _, base, amplitude = SENSORS[i % len(SENSORS)]
            if raw_start > start:
                _bulk_rollups(
                    conn,
                    sensor,
                    start=start,
                    end=raw_start,
                    base=base,
                    amplitude=amplitude,
                )
            conn.commit()
            console.print(f"  rollups of sensor {i + 1}/{len(sensor_ids)}")
        conn.execute("SELECT viewer_cells_rebuild(%s, %s)", (start, raw_start))
        raw = _raw(conn, sensor_ids, start=raw_start, end=end)
        _ledger_and_stats(conn, devices, start=start, end=end)
        # Loaded row by row, not through the ingest: their hours (migration 012) from them.
        conn.execute("SELECT dashboard_rollups_rebuild('-infinity', 'infinity')")
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        minutes = conn.execute("SELECT count(*) FROM readings_1m").fetchone()
    assert minutes is not None
    return {
        "end": end,
        "size": {
            "devices": devices,
            "sensors": len(sensor_ids),
            "days": span.total_seconds() / 86400,
            "readings_represented": minutes[0] * READINGS_PER_MINUTE,
            "raw_readings": raw,
            "minute_rows": minutes[0],
        },
        "variables": {
            "site": "site-00",
            "device": "d00",
            "sensor": [key for key, *_ in SENSORS],
            "trial": "1",
            "year": str(end.year),
        },
    }


def _time_queries(
    login_dsn: str,
    loaded: dict[str, Any],
    *,
    repeats: int,
    ranges: dict[str, timedelta],
) -> list[dict[str, Any]]:
    models = {uid: json.loads(text) for uid, text in generate().items()}
    results = []
    with psycopg.connect(login_dsn, autocommit=True) as conn:
        for name, span in ranges.items():
            window = Range.last(span, now=loaded["end"])
            for query in queries(models):
                sql = expand(
                    query.sql, variables=loaded["variables"], time_range=window
                )
                times_ms, rows = [], 0
                for _ in range(repeats):
                    began = time.perf_counter()
                    rows = len(conn.execute(sql).fetchall())
                    times_ms.append((time.perf_counter() - began) * 1000)
                times_ms.sort()
                results.append(
                    {
                        "dashboard": query.uid,
                        "panel": query.title,
                        "range": name,
                        "interval_ms": auto_interval_ms(span),
                        "rows": rows,
                        "p50_ms": round(statistics.median(times_ms), 2),
                        "p95_ms": round(
                            times_ms[min(len(times_ms) - 1, int(0.95 * len(times_ms)))],
                            2,
                        ),
                    }
                )
    return results


def _print(console: Console, results: list[dict[str, Any]], ranges: list[str]) -> None:
    table = Table(title="p95 (ms) per panel and range, as livinglab_readonly")
    table.add_column("dashboard")
    table.add_column("panel")
    for name in ranges:
        table.add_column(name, justify="right")
    panels: dict[tuple[str, str], dict[str, float]] = {}
    for r in results:
        panels.setdefault((r["dashboard"], r["panel"]), {})[r["range"]] = r["p95_ms"]
    for (uid, title), by_range in panels.items():
        cells = [
            f"[red]{by_range[n]:.0f}[/red]"
            if by_range[n] > TARGET_P95_MS
            else f"{by_range[n]:.0f}"
            for n in ranges
        ]
        table.add_row(uid.removeprefix("livinglab-"), title, *cells)
    console.print(table)


def run_dashboards_benchmark(
    *,
    lab_dir: Path,
    devices: int,
    days: float,
    raw_hours: float,
    repeats: int,
    console: Console,
    render_dir: Path | None = None,
) -> dict[str, Any]:
    """Start a database, load the lab, time every query; print the table and the JSON line."""
    lab_dir = prepare_lab_dir(lab_dir, entries=["pg"])
    span = timedelta(days=days)
    ranges = {n: r for n, r in RANGES.items() if r <= span} or {"span": span}
    with contextlib.ExitStack() as stack:
        postgres = Postgres.create(lab_dir / "pg", durable=False)
        stack.callback(postgres.stop)
        postgres.start()
        dsn = postgres.create_database("livinglab")
        db.upgrade(dsn)
        began = time.perf_counter()
        console.print(
            f"loading {devices} devices x {len(SENSORS)} sensors, {days:g} days"
        )
        loaded = load(
            dsn, devices=devices, span=span, raw_hours=raw_hours, console=console
        )
        load_s = time.perf_counter() - began
        password = secrets.token_urlsafe(18)
        with psycopg.connect(dsn, autocommit=True) as conn:
            create_login(
                conn, name="bench_grafana", role=ServiceRole.READONLY, password=password
            )
        login_dsn = psycopg.conninfo.make_conninfo(
            dsn, user="bench_grafana", password=password
        )
        results = _time_queries(login_dsn, loaded, repeats=repeats, ranges=ranges)
        if render_dir is not None:
            # The last week (or the whole span, when shorter), as a person would first look.
            week = min(span, timedelta(days=7))
            for path in render(
                login_dsn,
                render_dir,
                variables=loaded["variables"],
                time_range=Range.last(week, now=loaded["end"]),
            ):
                console.print(f"  rendered {path}")
    _print(console, results, list(ranges))
    misses = [r for r in results if r["p95_ms"] > TARGET_P95_MS]
    summary = {
        "benchmark": "dashboards",
        "size": loaded["size"],
        "load_s": round(load_s, 1),
        "repeats": repeats,
        "target_p95_ms": TARGET_P95_MS,
        "misses": [f"{r['dashboard']}/{r['panel']}@{r['range']}" for r in misses],
        "results": results,
    }
    print(json.dumps(summary, ensure_ascii=False))  # noqa: T201
    return summary
