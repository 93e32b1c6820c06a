"""Reading data: time-bucketed series over sensors, devices or a trial."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from livinglab_platform.api.deps import ConnDep, CurrentPrincipal
from livinglab_platform.core.errors import RegistryError
from livinglab_platform.data import queries
from livinglab_platform.data.schemas import (
    DataPublic,
    Interval,
    PointPublic,
    SeriesPublic,
)

router = APIRouter(tags=["data"])

DEFAULT_RANGE = timedelta(hours=24)
# An answer this large belongs in an export, which streams.
MAX_ROWS = 200_000


def _utc(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def data_query(
    sensor: Annotated[
        list[int], Query(description="Sensor ids; repeat the parameter")
    ] = [],  # noqa: B006
    device: Annotated[
        list[str], Query(description="Device ids: all their sensors")
    ] = [],  # noqa: B006
    trial: Annotated[
        int | None, Query(description="Only the trial's devices and periods")
    ] = None,
    start: Annotated[
        datetime | None, Query(description="Default: 24 h before end")
    ] = None,
    end: Annotated[datetime | None, Query(description="Default: now")] = None,
    interval: Annotated[
        Interval, Query(description="raw, a bucket, or auto")
    ] = Interval.auto,
) -> queries.DataQuery:
    """The query parameters shared by /data and /export."""
    end = _utc(end) or datetime.now(UTC)
    start = _utc(start)
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
        sensor_ids=tuple(sensor),
        device_ids=tuple(device),
        trial_id=trial,
        interval=interval,
    )


DataQueryDep = Annotated[queries.DataQuery, Depends(data_query)]


@router.get("/data")
def read_data(
    conn: ConnDep, principal: CurrentPrincipal, query: DataQueryDep
) -> DataPublic:
    """Series per sensor: raw readings for short ranges, buckets (count, mean, min, max) otherwise."""
    plan = queries.plan_query(conn, principal, query)
    series: dict[tuple[str, str], SeriesPublic] = {}
    ids = {
        (str(r[0]), str(r[1])): int(r[2])
        for r in conn.execute(
            "SELECT device_id, key, id FROM sensors WHERE id = ANY(%s)",
            (list(plan.sensor_ids),),
        )
    }
    total = 0
    for chunk in queries.rows(conn, plan):
        total += len(chunk)
        if total > MAX_ROWS:
            raise RegistryError(
                f"more than {MAX_ROWS:,} points; choose a shorter range or a longer interval,"
                " or use /api/v1/export, which streams"
            )
        for row in chunk:
            key = (row[1], row[2])
            if key not in series:
                series[key] = SeriesPublic(
                    sensor_id=ids[key],
                    device_id=row[1],
                    key=row[2],
                    quantity=row[3],
                    unit=row[4],
                    points=[],
                )
            if plan.interval is Interval.raw:
                point = PointPublic(time=row[0], value=row[5])
            else:
                point = PointPublic(
                    time=row[0], count=row[5], mean=row[6], min=row[7], max=row[8]
                )
            series[key].points.append(point)
    return DataPublic(
        start=query.start,
        end=query.end,
        interval=plan.interval,
        source=plan.source,
        series=list(series.values()),
    )
