"""Time-bucketed reads over sensors, limited to what the asker may see.

Raw readings for short ranges; for longer ones, buckets from the rollups (readings_1m, readings_1h)
when the asker sees whole sensors, or buckets computed from the raw readings inside the asker's
visibility windows (a partner's assignment periods, a trial's), so no bucket leaks readings from
outside them. A viewer's buckets are sums of whole one-minute cells of the rollups, each of at
least the minimum count (`access.cell_min_count`).

Buckets are whole: a bucketed query reads its range grown to bucket boundaries (`Plan.start`,
`Plan.end`), so a bucket never holds only the part of its readings that a range cut out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.pq import TransactionStatus
from psycopg.rows import Row, RowFactory, tuple_row

from livinglab_platform.access import (
    Principal,
    cell_min_count,
    data_windows_sql,
    require_raw_data,
    sees_raw_data,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import (
    InvalidInputError,
    NotFoundError,
)
from livinglab_platform.core.settings import VIEWER_MIN_COUNT
from livinglab_platform.data.schemas import Interval
from livinglab_platform.trials.registration import find_trial

__all__ = ["DataQuery", "Plan", "plan_query", "rows", "whole_buckets"]

INTERVAL_S = {
    Interval.m1: 60,
    Interval.m5: 300,
    Interval.m15: 900,
    Interval.h1: 3600,
    Interval.h6: 6 * 3600,
    Interval.d1: 86400,
}
# `auto` reads raw readings up to this range, then the finest bucket giving at most MAX_POINTS.
RAW_MAX_RANGE = timedelta(hours=2)
MAX_POINTS = 1500
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
RAW_COLUMNS = ("time", "device_id", "sensor", "quantity", "unit", "value")
BUCKET_COLUMNS = (
    "time",
    "device_id",
    "sensor",
    "quantity",
    "unit",
    "count",
    "mean",
    "min",
    "max",
)


@dataclass(frozen=True)
class DataQuery:
    """What someone asks for: sensors (by id, device or trial), a range and a resolution."""

    start: datetime
    end: datetime
    sensor_ids: tuple[int, ...] = ()
    device_ids: tuple[str, ...] = ()
    trial_id: int | None = None
    interval: Interval = Interval.auto


@dataclass(frozen=True)
class Plan:
    """A query ready to run: the resolution and table chosen, the range read, and the SQL."""

    interval: Interval
    source: str
    sensor_ids: tuple[int, ...]
    sql: str
    params: dict[str, Any]
    # The range read: the one asked for, grown to whole buckets for a bucketed query.
    start: datetime
    end: datetime
    # The query of (sensor_id, windows) the rows are limited to; estimates reuse it.
    windows_sql: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        return RAW_COLUMNS if self.interval is Interval.raw else BUCKET_COLUMNS


def choose_interval(query: DataQuery, *, raw_allowed: bool) -> Interval:
    """The resolution to read: as asked, or for `auto` the finest that keeps answers small."""
    if query.interval is not Interval.auto:
        return query.interval
    span = query.end - query.start
    if raw_allowed and span <= RAW_MAX_RANGE:
        return Interval.raw
    for interval, seconds in INTERVAL_S.items():
        if span.total_seconds() / seconds <= MAX_POINTS:
            return interval
    return Interval.d1


def _resolve_sensors(
    conn: Connection,
    query: DataQuery,
    visible_sql: str,
    params: dict[str, Any],
) -> tuple[int, ...]:
    visible = {
        int(r[0]): str(r[1])
        for r in conn.execute(
            f"SELECT v.sensor_id, s.device_id FROM ({visible_sql}) v"
            " JOIN sensors s ON s.id = v.sensor_id WHERE NOT isempty(v.windows)",
            params,
        )
    }
    for sensor_id in query.sensor_ids:
        if sensor_id not in visible:
            raise NotFoundError(
                f"sensor {sensor_id} not found, or not visible to you", field="sensor"
            )
    for device_id in query.device_ids:
        if device_id not in visible.values():
            raise NotFoundError(
                f"device {device_id!r} not found, or not visible to you", field="device"
            )
    chosen = set(query.sensor_ids) | {
        s for s, d in visible.items() if d in query.device_ids
    }
    if (
        not chosen
        and query.trial_id is not None
        and not query.sensor_ids
        and not query.device_ids
    ):
        chosen = set(visible)
    return tuple(sorted(chosen))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)


def whole_buckets(
    start: datetime, end: datetime, width: timedelta
) -> tuple[datetime, datetime]:
    """[start, end) grown to the boundaries of `width` buckets, aligned as time_bucket aligns them.

    time_bucket's default origin is a midnight (2000-01-03) and every width here divides a day,
    so counting from the Unix epoch gives its boundaries. An end whose boundary lies past the
    year 9999 (which Python cannot hold) stays the end of the year 9999.
    """
    first = start - (start - _EPOCH) % width
    last = end - (end - _EPOCH) % width
    if last < end:
        last = last + width if _LAST - last >= width else _LAST
    return first, last


def plan_query(
    conn: Connection,
    principal: Principal,
    query: DataQuery,
    *,
    viewer_min_count: int = VIEWER_MIN_COUNT,
) -> Plan:
    """Check the request against the principal's access and build its SQL.

    Args:
        viewer_min_count: LIVINGLAB_VIEWER_MIN_COUNT, the fewest readings of a one-minute cell
            in a viewer's buckets (see access.cell_min_count).
    """
    if query.end <= query.start:
        raise InvalidInputError("end must be after start", field="end")
    if not (query.sensor_ids or query.device_ids or query.trial_id is not None):
        raise InvalidInputError("name at least one sensor, device or trial")
    if query.trial_id is not None:
        # Visibility of the trial itself: a 404 here beats an empty answer.
        find_trial(conn, principal, query.trial_id)
    visible_sql, params = data_windows_sql(principal, trial_id=query.trial_id)
    sensor_ids = _resolve_sensors(conn, query, visible_sql, params)
    if query.interval is Interval.raw:
        require_raw_data(
            principal,
            "viewers see aggregated data only; ask for an interval of 1m or longer",
            field="interval",
        )
    interval = choose_interval(query, raw_allowed=sees_raw_data(principal))
    start, end = query.start, query.end
    params = {**params, "sensors": list(sensor_ids)}
    min_count = cell_min_count(principal, viewer_min_count=viewer_min_count)
    if interval is Interval.raw:
        source, sql = _raw_sql(visible_sql)
    else:
        width = timedelta(seconds=INTERVAL_S[interval])
        start, end = whole_buckets(start, end, width)
        params["width"] = width
        if min_count is not None:
            params["min_count"] = min_count
            source, sql = _cells_sql(visible_sql)
        else:
            # One plan for everyone who may read raw readings: an operator's windows are whole
            # sensors, which the grown range cuts at bucket boundaries, so only rollups are read.
            source, params["cell"] = rollup_for(width)
            sql = _buckets_sql(visible_sql, source)
    return Plan(
        interval=interval,
        source=source,
        sensor_ids=sensor_ids,
        sql=sql,
        params={**params, "start": start, "end": end},
        start=start,
        end=end,
        windows_sql=visible_sql,
    )


# Every query names its columns as Plan.columns does, so rows read by name (dict_row) and the
# exports' headers agree with the SQL. GROUP BY and ORDER BY name output columns by position:
# `time` alone would mean r.time.
_META = "s.device_id, s.key AS sensor, s.quantity, s.unit"


def parts_sql(visible_sql: str) -> str:
    """(sensor_id, lo, hi): each asked-for sensor's visibility windows cut to [start, end).

    One row per window, in (sensor, time) order. Reading each window with its own index range
    scan is what keeps long reads fast: a filter `windows @> time` gets the planner's default
    selectivity (it expected 189 rows of 3.15 M) and a nested loop over every sensor's windows.
    """
    return f"""
        SELECT v.sensor_id, lower(w) AS lo, upper(w) AS hi
          FROM ({visible_sql}) v
          CROSS JOIN LATERAL unnest(
                v.windows * tstzmultirange(tstzrange(%(start)s, %(end)s))) w
         WHERE v.sensor_id = ANY(%(sensors)s)
         ORDER BY v.sensor_id, lower(w)"""


def _raw_sql(visible_sql: str) -> tuple[str, str]:
    # A nested loop over the windows, each read by an index range scan in time order, emits rows
    # in (sensor, time) order as they are read: no sort of the range, so the first rows go at once.
    # (PostgreSQL's nested loop keeps its outer order and each inner scan's order.)
    return (
        "readings",
        f"""
        WITH parts AS MATERIALIZED ({parts_sql(visible_sql)})
        SELECT r.time, {_META}, r.value
          FROM parts p JOIN sensors s ON s.id = p.sensor_id
          CROSS JOIN LATERAL (
                SELECT r.time, r.value FROM readings r
                 WHERE r.sensor_id = p.sensor_id AND r.time >= p.lo AND r.time < p.hi
                 ORDER BY r.time) r""",
    )


def rollup_for(width: timedelta) -> tuple[str, timedelta]:
    """The coarsest rollup whose cells tile buckets of `width`: its table and its cell width."""
    if width >= HOUR and width % HOUR == timedelta(0):
        return "readings_1h", HOUR
    return "readings_1m", MINUTE


def _buckets_sql(visible_sql: str, source: str) -> str:
    # Inside each window [lo, hi), the whole rollup cells [inner_lo, inner_hi) come from the
    # rollup; what is left at either edge (less than one cell) from the raw readings there alone.
    # A window shorter than a cell is read raw whole. Windows never overlap (a multirange's
    # ranges are disjoint), so no reading counts twice.
    return f"""
        WITH parts AS MATERIALIZED (
            SELECT sensor_id, lo, hi, inner_lo, greatest(inner_lo, inner_hi) AS inner_hi
              FROM (SELECT sensor_id, lo, hi,
                           time_bucket(%(cell)s, lo) + CASE WHEN time_bucket(%(cell)s, lo) < lo
                               THEN %(cell)s ELSE interval '0' END AS inner_lo,
                           time_bucket(%(cell)s, hi) AS inner_hi
                      FROM ({parts_sql(visible_sql)}) w) c),
        pieces AS (
            SELECT p.sensor_id, c.bucket AS t, c.count, c.sum, c.min, c.max
              FROM parts p CROSS JOIN LATERAL (
                    SELECT c.bucket, c.count, c.sum, c.min, c.max FROM {source} c
                     WHERE c.sensor_id = p.sensor_id
                       AND c.bucket >= p.inner_lo AND c.bucket < p.inner_hi) c
             WHERE p.inner_lo < p.inner_hi
            UNION ALL
            SELECT p.sensor_id, r.time, 1, r.value, r.value, r.value
              FROM parts p
              CROSS JOIN LATERAL (VALUES (p.lo, least(p.inner_lo, p.hi)),
                                         (greatest(p.inner_hi, p.lo), p.hi)) e(a, b)
              CROSS JOIN LATERAL (
                    SELECT r.time, r.value FROM readings r
                     WHERE r.sensor_id = p.sensor_id AND r.time >= e.a AND r.time < e.b) r
             WHERE e.a < e.b)
        SELECT time_bucket(%(width)s, x.t) AS time, {_META},
               sum(x.count)::bigint AS count, sum(x.sum) / sum(x.count) AS mean,
               min(x.min) AS min, max(x.max) AS max
          FROM pieces x JOIN sensors s ON s.id = x.sensor_id
         GROUP BY x.sensor_id, 1, 2, 3, 4, 5 ORDER BY x.sensor_id, 1"""


def _cells_sql(visible_sql: str) -> tuple[str, str]:
    # A viewer's buckets: whole one-minute cells of at least %(min_count)s readings, those that
    # touch the visibility windows (a trial's periods; viewers see whole sensors otherwise). Read
    # from readings_1m even for hours and days: readings_1h would count the sparse minutes that
    # the minute buckets leave out, and the difference would give them away.
    return (
        "readings_1m",
        f"""
        WITH visible AS ({visible_sql})
        SELECT time_bucket(%(width)s, r.bucket) AS time, {_META},
               sum(r.count)::bigint AS count, sum(r.sum) / sum(r.count) AS mean,
               min(r.min) AS min, max(r.max) AS max
          FROM readings_1m r JOIN visible v ON v.sensor_id = r.sensor_id
          JOIN sensors s ON s.id = r.sensor_id
         WHERE r.sensor_id = ANY(%(sensors)s) AND r.bucket >= %(start)s AND r.bucket < %(end)s
           AND r.count >= %(min_count)s
           AND v.windows && tstzrange(r.bucket, r.bucket + interval '1 minute')
         GROUP BY r.sensor_id, 1, 2, 3, 4, 5 ORDER BY r.sensor_id, 1""",
    )


def rows(
    conn: Connection,
    plan: Plan,
    *,
    chunk_rows: int = 50_000,
    row_factory: RowFactory[Row] = tuple_row,  # type: ignore[assignment]
) -> Iterator[list[Row]]:
    """Run a plan with a server-side cursor, yielding chunks of rows: memory stays flat.

    Args:
        row_factory: tuples by default (exports zip them into columns); `dict_row` to read the
            columns by the names of `plan.columns`.
    """
    if not plan.sensor_ids:
        return
    # A server-side cursor lives in a transaction: the caller's unit of work, or, for a body
    # streamed after its route's unit has committed, a read-only one of its own.
    idle = conn.info.transaction_status is TransactionStatus.IDLE
    scope = conn.transaction() if idle else nullcontext()
    # Binary rows load about a fifth faster than text (timestamps and floats need no parsing).
    with (
        scope,
        conn.cursor(name="livinglab_data", binary=True, row_factory=row_factory) as cur,
    ):
        cur.itersize = chunk_rows
        cur.execute(plan.sql, plan.params)
        while chunk := cur.fetchmany(chunk_rows):
            yield chunk
