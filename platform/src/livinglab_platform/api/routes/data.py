"""Reading data: time-bucketed series over sensors, devices or a trial."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError
from psycopg.rows import dict_row
from pydantic import TypeAdapter

from livinglab_platform.api.deps import ConnDep, CurrentPrincipal, ViewerMinCount
from livinglab_platform.core.errors import InvalidInputError
from livinglab_platform.core.schema import EndMoment, Moment
from livinglab_platform.data import queries
from livinglab_platform.data.schemas import (
    DataPublic,
    Interval,
    PointPublic,
    SeriesPublic,
)
from livinglab_platform.registry.sensor_names import SENSOR_NAME_RULE, sensor_ids

router = APIRouter(tags=["data"])
# Points from rows read by name: a raw row's `value`, a bucket's count, mean, min and max (the
# other columns of the row are ignored).
_POINTS = TypeAdapter(list[PointPublic])

DEFAULT_RANGE = timedelta(hours=24)
# An answer this large belongs in an export, which streams.
MAX_ROWS = 200_000


def data_query(
    conn: ConnDep,
    principal: CurrentPrincipal,
    sensor: Annotated[
        list[str],
        Query(
            description=f"Sensors, each {SENSOR_NAME_RULE}; repeat the parameter",
            examples=["tp-air-01/air_temperature"],
        ),
    ] = [],  # noqa: B006
    device: Annotated[
        list[str], Query(description="Device ids: all their sensors")
    ] = [],  # noqa: B006
    trial: Annotated[
        int | None, Query(description="Only the trial's devices and periods")
    ] = None,
    start: Annotated[
        Moment | None,
        Query(
            description="First day (Ljubljana) or date-time; default: 24 h before end"
        ),
    ] = None,
    end: Annotated[
        EndMoment | None,
        Query(
            description="Last day, included (Ljubljana), or date-time, excluded; default: now"
        ),
    ] = None,
    interval: Annotated[
        Interval, Query(description="raw, a bucket, or auto")
    ] = Interval.auto,
) -> queries.DataQuery:
    """The query parameters shared by /data and /export.

    `start` and `end` follow the one rule of every time the platform takes (core/schema.py): a
    date is a Ljubljana day, the end's included; a date-time without an offset is Ljubljana's
    clock; inside the years 1 to 9999 in UTC (422 naming the field otherwise).
    """
    end = end or datetime.now(UTC)
    if start is None:
        if end - datetime.min.replace(tzinfo=UTC) < DEFAULT_RANGE:
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", "end"),
                        "msg": "must be at least 24 h after the year 1 when start is not given",
                        "type": "value_error",
                    }
                ]
            )
        start = end - DEFAULT_RANGE
    return queries.DataQuery(
        start=start,
        end=end,
        sensor_ids=sensor_ids(conn, principal, sensor, trial_id=trial),
        device_ids=tuple(device),
        trial_id=trial,
        interval=interval,
    )


DataQueryDep = Annotated[queries.DataQuery, Depends(data_query)]


@router.get("/data")
def read_data(
    conn: ConnDep,
    principal: CurrentPrincipal,
    query: DataQueryDep,
    viewer_min_count: ViewerMinCount,
) -> DataPublic:
    """Series per sensor: raw readings for short ranges, buckets (count, mean, min, max) otherwise.

    Buckets are whole: `start` and `end` of the answer are the range read, grown to bucket
    boundaries. Viewers get only buckets of one-minute cells of enough readings each.
    """
    plan = queries.plan_query(conn, principal, query, viewer_min_count=viewer_min_count)
    series: dict[tuple[str, str], SeriesPublic] = {}
    ids = {
        (str(device_id), str(key)): int(sensor_id)
        for device_id, key, sensor_id in conn.execute(
            "SELECT device_id, key, id FROM sensors WHERE id = ANY(%s)",
            (list(plan.sensor_ids),),
        )
    }
    total = 0
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for chunk in queries.rows(conn, plan, row_factory=dict_row):
        total += len(chunk)
        if total > MAX_ROWS:
            raise InvalidInputError(
                f"more than {MAX_ROWS:,} points; choose a shorter range or a longer interval,"
                " or use /api/v1/export, which streams",
                field="interval",
            )
        for row in chunk:
            key = (row["device_id"], row["sensor"])
            if key not in rows:
                rows[key] = []
                series[key] = SeriesPublic(
                    sensor_id=ids[key],
                    device_id=row["device_id"],
                    key=row["sensor"],
                    quantity=row["quantity"],
                    unit=row["unit"],
                    points=[],
                )
            rows[key].append(row)
    for key, found in rows.items():
        # One validation of the whole list in pydantic's core: a year of hours (8,760 points)
        # took a fifth of the request as one PointPublic(...) call per point.
        series[key].points = _POINTS.validate_python(found)
    return DataPublic(
        start=plan.start,
        end=plan.end,
        interval=plan.interval,
        source=plan.source,
        series=list(series.values()),
    )
