"""Time-bucketed reads over sensors, limited to what the asker may see, exact for every role.

Raw readings for short ranges (`auto` up to RAW_MAX_RANGE), buckets otherwise. One rule for
buckets on every path: they are aligned to the resolution (UTC, counted from the Unix epoch, as
time_bucket does: a `1d` bucket is a UTC day, whatever Ljubljana's clocks do), the range asked for
is grown to whole buckets (`Plan.start`, `Plan.end`; a day from 13:20 at `1h` is 25 buckets), and
each bucket holds every reading in it that the asker may see: inside the asker's visibility windows
(a partner's assignment periods, a trial's), nothing from outside them.

Whole rollup cells inside a window come from the rollups (readings_1h for buckets of whole hours,
readings_1m otherwise) and only the partial cells at a window's edges from the raw readings there
(`pieces`), so a year costs what its rollup rows cost, for operators and partners alike. A viewer's
buckets are sums of whole one-minute cells of readings_1m, each of at least the minimum count
(`access.cell_min_count`).
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
from livinglab_platform.data import pieces
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
    # Each sensor's windows cut to the range read, which the SQL reads piece by piece.
    windows: tuple[pieces.Window, ...] = ()

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
    if interval is not Interval.raw:
        width = timedelta(seconds=INTERVAL_S[interval])
        start, end = whole_buckets(start, end, width)
        params = {**params, "width": width}
    params = {**params, "sensors": list(sensor_ids), "start": start, "end": end}
    found = pieces.windows(conn, visible_sql, params) if sensor_ids else ()
    min_count = cell_min_count(principal, viewer_min_count=viewer_min_count)
    if interval is Interval.raw:
        source = "readings"
        sql, bounds = pieces.raw_sql(found)
    elif min_count is not None:
        # A viewer's cells stay one-minute cells whatever the bucket (access.cell_min_count):
        # an hour of readings_1h would count the sparse minutes that the cells leave out. The
        # database keeps hours of exactly those cells (viewer_cells_1h) for its own minimum
        # count; under another LIVINGLAB_VIEWER_MIN_COUNT the minutes are read.
        params["min_count"] = min_count
        hours = rollup_for(width)[1] == HOUR and min_count == DATABASE_VIEWER_MIN_COUNT
        source = "viewer_cells_1h" if hours else "readings_1m"
        sql, bounds = pieces.cells_sql(found, hours=hours)
    else:
        # One plan for everyone who may read raw readings: an operator's window is the whole
        # range, grown to bucket boundaries, so only the rollup is read.
        source, cell = rollup_for(width)
        sql, bounds = pieces.buckets_sql(found, source=source, cell=cell)
    return Plan(
        interval=interval,
        source=source,
        sensor_ids=sensor_ids,
        sql=sql,
        params={**params, **bounds},
        start=start,
        end=end,
        windows_sql=visible_sql,
        windows=found,
    )


# viewer_min_count() of migration 009, which keeps viewer_cells_1h; tests/dashboards checks that
# it equals the setting's default.
DATABASE_VIEWER_MIN_COUNT = 5


def rollup_for(width: timedelta) -> tuple[str, timedelta]:
    """The coarsest rollup whose cells tile buckets of `width`: its table and its cell width."""
    if width >= HOUR and width % HOUR == timedelta(0):
        return "readings_1h", HOUR
    return "readings_1m", MINUTE


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
