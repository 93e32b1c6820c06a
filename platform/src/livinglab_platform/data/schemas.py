"""The data queries' schemas: resolutions, points and series."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

__all__ = ["DataPublic", "Format", "Interval", "PointPublic", "SeriesPublic"]


class Interval(StrEnum):
    """Resolution of a data query; `auto` picks one from the range."""

    auto = "auto"
    raw = "raw"
    m1 = "1m"
    m5 = "5m"
    m15 = "15m"
    h1 = "1h"
    h6 = "6h"
    d1 = "1d"


class PointPublic(BaseModel):
    time: datetime
    value: float | None = Field(default=None, description="Raw reading (raw interval)")
    count: int | None = None
    mean: float | None = None
    min: float | None = None
    max: float | None = None


class SeriesPublic(BaseModel):
    sensor_id: int
    device_id: str
    key: str
    quantity: str
    unit: str
    points: list[PointPublic]


class DataPublic(BaseModel):
    start: datetime
    end: datetime
    interval: Interval = Field(description="The resolution used (never `auto`)")
    source: str = Field(
        description="Table read: readings, readings_1m, readings_1h, or a viewer's"
        " viewer_cells_1h (hours of the cells with enough readings)",
    )
    series: list[SeriesPublic]


class Format(StrEnum):
    """File format of an export."""

    csv = "csv"
    parquet = "parquet"

    @property
    def media_type(self) -> str:
        return "text/csv" if self is Format.csv else "application/vnd.apache.parquet"
