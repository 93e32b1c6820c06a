"""The SQL of a read plan, written out window by window: one index range scan per piece.

A plan first asks for each sensor's visibility windows cut to the range read (`windows`, from
access.data_windows_sql), then reads each window as its own pieces, their bounds passed as
parameters, so the planner sees each piece's constant range:

- raw readings: one range scan of the (sensor_id, time DESC) index per window;
- buckets: inside a window [lo, hi), the whole rollup cells [inner_lo, inner_hi) from the rollup
  (readings_1h for buckets of whole hours, readings_1m otherwise), and what is left at either edge
  (less than one cell) from the raw readings there alone; a window shorter than a cell is read
  raw. A multirange's windows never overlap, so no reading counts twice;
- a viewer's cells: the minutes touching its windows from readings_1m, and for buckets of whole
  hours the whole hours among them from viewer_cells_1h (hours made of the same cells).

Measured (README, "Benchmarks"): a filter `windows @> time` on a join got the planner's default
selectivity (189 rows expected of 3.15 M) and a nested loop over every sensor's windows; a
LATERAL join with the bounds as columns was flattened into a hash join over every chunk (10 s for
a year). With each piece's bounds as parameters, TimescaleDB excludes the chunks outside it while
planning, and each piece is an index range scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from livinglab_platform.core.db import Connection

__all__ = ["Window", "buckets_sql", "cells_sql", "raw_sql", "windows"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
# Every query names its columns as Plan.columns does, so rows read by name (dict_row) and the
# exports' headers agree with the SQL. GROUP BY and ORDER BY name output columns by position:
# `time` alone would mean r.time.
_META = "s.device_id, s.key AS sensor, s.quantity, s.unit"
# The first branch of every union: no row, but the columns' types.
_NO_PIECE = (
    "SELECT NULL::integer AS sensor_id, NULL::timestamptz AS t, 0::bigint AS count,"
    " 0::float8 AS sum, 0::float8 AS min, 0::float8 AS max WHERE false"
)


@dataclass(frozen=True)
class Window:
    """When one sensor's readings are visible, cut to the range read: [lo, hi)."""

    sensor_id: int
    lo: datetime
    hi: datetime


def windows(
    conn: Connection, visible_sql: str, params: dict[str, Any]
) -> tuple[Window, ...]:
    """Each of `params["sensors"]`'s windows cut to [start, end), in (sensor, time) order."""
    rows = conn.execute(
        f"""
        SELECT v.sensor_id, lower(w), upper(w)
          FROM ({visible_sql}) v
          CROSS JOIN LATERAL unnest(
                v.windows * tstzmultirange(tstzrange(%(start)s, %(end)s))) w
         WHERE v.sensor_id = ANY(%(sensors)s)
         ORDER BY v.sensor_id, lower(w)""",
        params,
    )
    return tuple(Window(int(s), lo, hi) for s, lo, hi in rows)


def _floor(moment: datetime, width: timedelta) -> datetime:
    # As time_bucket aligns 1-minute and 1-hour cells (both divide a day).
    return moment - (moment - _EPOCH) % width


def _inner(window: Window, cell: timedelta) -> tuple[datetime, datetime] | None:
    """The whole cells inside the window, or None if there is none."""
    lo = _floor(window.lo, cell)
    if lo < window.lo:
        if _LAST - lo < cell:
            return None
        lo += cell
    hi = _floor(window.hi, cell)
    return (lo, hi) if lo < hi else None


def raw_sql(found: tuple[Window, ...]) -> tuple[str, dict[str, Any]]:
    """Raw readings of the windows, in (sensor, time) order (a merge of the pieces' scans)."""
    branches: list[str] = []
    params: dict[str, Any] = {}
    for i, w in enumerate(found):
        params |= {f"s{i}": w.sensor_id, f"lo{i}": w.lo, f"hi{i}": w.hi}
        branches.append(
            f"SELECT sensor_id, time, value FROM readings WHERE sensor_id = %(s{i})s"
            f" AND time >= %(lo{i})s AND time < %(hi{i})s"
        )
    union = " UNION ALL ".join(
        ["SELECT NULL::integer, NULL::timestamptz, NULL::float8 WHERE false", *branches]
    )
    return (
        f"""
        SELECT r.time, {_META}, r.value
          FROM ({union}) r (sensor_id, time, value)
          JOIN sensors s ON s.id = r.sensor_id
         ORDER BY r.sensor_id, r.time""",
        params,
    )


def _aggregate(branches: list[str]) -> str:
    # Buckets grouped by (sensor, time) alone, names joined to the few result rows: a sort or
    # hash key with a sensor's four text columns spilled a year of minute cells to disk.
    return f"""
        WITH pieces AS ({" UNION ALL ".join(branches)}),
        buckets AS (
            SELECT x.sensor_id, time_bucket(%(width)s, x.t) AS t,
                   sum(x.count)::bigint AS count, sum(x.sum) / sum(x.count) AS mean,
                   min(x.min) AS min, max(x.max) AS max
              FROM pieces x GROUP BY 1, 2)
        SELECT b.t AS time, {_META}, b.count, b.mean, b.min, b.max
          FROM buckets b JOIN sensors s ON s.id = b.sensor_id
         ORDER BY b.sensor_id, b.t"""


def buckets_sql(
    found: tuple[Window, ...], *, source: str, cell: timedelta
) -> tuple[str, dict[str, Any]]:
    """Buckets of %(width)s over the windows: whole cells from `source`, edges from readings."""
    branches = [_NO_PIECE]
    params: dict[str, Any] = {}
    for i, w in enumerate(found):
        params[f"s{i}"] = w.sensor_id
        inner = _inner(w, cell)
        edges = [(w.lo, w.hi)]
        if inner is not None:
            params |= {f"a{i}": inner[0], f"b{i}": inner[1]}
            branches.append(
                f"SELECT sensor_id, bucket, count, sum, min, max FROM {source}"
                f" WHERE sensor_id = %(s{i})s AND bucket >= %(a{i})s AND bucket < %(b{i})s"
            )
            edges = [(w.lo, inner[0]), (inner[1], w.hi)]
        for j, (lo, hi) in enumerate(edges):
            if lo < hi:
                params |= {f"lo{i}_{j}": lo, f"hi{i}_{j}": hi}
                branches.append(
                    "SELECT sensor_id, time, 1, value, value, value FROM readings"
                    f" WHERE sensor_id = %(s{i})s AND time >= %(lo{i}_{j})s"
                    f" AND time < %(hi{i}_{j})s"
                )
    return (
        f"""
        {_aggregate(branches)}""",
        params,
    )


def cells_sql(
    found: tuple[Window, ...], *, hours: bool = False
) -> tuple[str, dict[str, Any]]:
    """A viewer's buckets of %(width)s: whole one-minute cells of at least %(min_count)s
    readings that touch the windows, each cell once however many windows it touches.

    With `hours` (buckets of whole hours, and the database's viewer_min_count() equal to
    %(min_count)s), the whole hours inside a sensor's minutes come from viewer_cells_1h, which
    the database keeps from exactly those cells (migration 009), and only the minutes at the
    edges from readings_1m: a viewer's year is 8,760 rows per sensor, not 525,600.
    """
    params: dict[str, Any] = {}
    minutes: dict[int, list[str]] = {}
    hourly: dict[int, list[str]] = {}
    for sensor, extents in _minute_extents(found).items():
        params[f"s{sensor}"] = sensor
        for lo, hi in extents:
            parts = [(lo, hi, minutes)]
            if hours:
                h_lo, h_hi = _ceil(lo, _HOUR), _floor(hi, _HOUR)
                if h_lo < h_hi:
                    parts = [
                        (lo, h_lo, minutes),
                        (h_lo, h_hi, hourly),
                        (h_hi, hi, minutes),
                    ]
            for p_lo, p_hi, into in parts:
                if p_lo < p_hi:
                    i = len(params)
                    params |= {f"lo{i}": p_lo, f"hi{i}": p_hi}
                    into.setdefault(sensor, []).append(
                        f"(bucket >= %(lo{i})s AND bucket < %(hi{i})s)"
                    )
    branches = [_NO_PIECE]
    branches += [
        f"SELECT sensor_id, bucket, count, sum, min, max FROM readings_1m"
        f" WHERE sensor_id = %(s{sensor})s AND count >= %(min_count)s"
        f" AND ({' OR '.join(ranges)})"
        for sensor, ranges in minutes.items()
    ]
    branches += [
        f"SELECT sensor_id, bucket, count, sum, min, max FROM viewer_cells_1h"
        f" WHERE sensor_id = %(s{sensor})s AND ({' OR '.join(ranges)})"
        for sensor, ranges in hourly.items()
    ]
    return (
        f"""
        {_aggregate(branches)}""",
        params,
    )


def _minute_extents(
    found: tuple[Window, ...],
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Per sensor, the minute cells its windows touch, as disjoint [lo, hi) runs of whole
    minutes: two windows touching the same minute share one run, so no cell counts twice."""
    extents: dict[int, list[tuple[datetime, datetime]]] = {}
    for w in sorted(found, key=lambda w: (w.sensor_id, w.lo)):
        lo, hi = _floor(w.lo, _MINUTE), _ceil(w.hi, _MINUTE)
        runs = extents.setdefault(w.sensor_id, [])
        if runs and runs[-1][1] >= lo:
            runs[-1] = (runs[-1][0], max(runs[-1][1], hi))
        else:
            runs.append((lo, hi))
    return extents


def _ceil(moment: datetime, width: timedelta) -> datetime:
    floor = _floor(moment, width)
    if floor == moment or _LAST - floor < width:
        return moment
    return floor + width
