"""Per-minute and per-hour rollups (count, sum, min, max, sum of squares), aggregated with NumPy.

Rows are sorted once by a composite key (sensor id in the high 32 bits, minute number in the low
32), each run of equal keys is reduced with `ufunc.reduceat`, and the minute rollup is reduced
again into the hour rollup: its keys are already in (sensor, hour) order. Each table then gets one
upsert that merges by addition, in key order so that concurrent writers lock rows in the same
order and cannot deadlock. The minutes go through `merge_minutes` (migration 011), which adds a
viewer's hours (viewer_cells_1h) of the cells that reach the minimum count in the same statement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from livinglab_platform.core.db import Connection

__all__ = ["MINUTE_US", "Rollup", "aggregate", "upsert_rollups"]

MINUTE_US = 60_000_000
_MINUTES_PER_HOUR = 60
_LOW_32 = np.int64(0xFFFF_FFFF)

_UPSERT = """
INSERT INTO {table} (bucket, sensor_id, count, sum, min, max, sum_sq)
SELECT to_timestamp(b), s, c, su, mi, ma, sq
FROM unnest(%b::int8[], %b::int4[], %b::int8[], %b::float8[], %b::float8[], %b::float8[], %b::float8[])
     AS r (b, s, c, su, mi, ma, sq)
ORDER BY s, b
ON CONFLICT (sensor_id, bucket) DO UPDATE SET
    count = {table}.count + excluded.count,
    sum = {table}.sum + excluded.sum,
    min = least({table}.min, excluded.min),
    max = greatest({table}.max, excluded.max),
    sum_sq = {table}.sum_sq + excluded.sum_sq
"""
_STATEMENTS = {
    "readings_1m": b"SELECT merge_minutes(%b::int8[], %b::int4[], %b::int8[], %b::float8[],"
    b" %b::float8[], %b::float8[], %b::float8[])",
    "readings_1h": _UPSERT.format(table="readings_1h").encode(),
}


@dataclass(frozen=True)
class Rollup:
    """Aggregates per (sensor, bucket), ordered by sensor; `bucket_s` in Unix seconds."""

    bucket_s: npt.NDArray[np.int64]
    sensor_id: npt.NDArray[np.int32]
    count: npt.NDArray[np.int64]
    sum: npt.NDArray[np.float64]
    min: npt.NDArray[np.float64]
    max: npt.NDArray[np.float64]
    sum_sq: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.bucket_s)


def _reduce(
    key: npt.NDArray[np.int64],
    count: npt.NDArray[np.int64],
    total: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    squares: npt.NDArray[np.float64],
    bucket_units_s: int,
) -> tuple[npt.NDArray[np.int64], Rollup]:
    """Reduce runs of equal, sorted `key`; return the run keys and the rollup."""
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    keys = key[starts]
    rollup = Rollup(
        bucket_s=(keys & _LOW_32) * bucket_units_s,
        sensor_id=(keys >> 32).astype(np.int32),
        count=np.add.reduceat(count, starts),
        sum=np.add.reduceat(total, starts),
        min=np.minimum.reduceat(low, starts),
        max=np.maximum.reduceat(high, starts),
        sum_sq=np.add.reduceat(squares, starts),
    )
    return keys, rollup


def aggregate(
    time_us: npt.NDArray[np.int64],
    sensor_id: npt.NDArray[np.int32],
    value: npt.NDArray[np.float64],
    *,
    grouped: bool = False,
) -> tuple[Rollup, Rollup]:
    """The 1-minute and 1-hour rollups of these readings (times after 1970, as validated).

    Buckets are floor(time / width), the same as `time_bucket` for these widths. With `grouped`,
    the caller promises that rows are ordered by sensor and then by time (either direction), so
    rows of one bucket are adjacent and no sort is needed; buckets then come in that order.
    """
    minute = time_us // MINUTE_US
    key = (sensor_id.astype(np.int64) << 32) | minute
    if not grouped:
        order = np.argsort(key)
        key = key[order]
        value = value[order]
    # A square beyond float64 is inf, as it would be if summed one by one; not worth a warning.
    with np.errstate(over="ignore"):
        squares = value * value
    minute_keys, minutes = _reduce(
        key,
        np.ones(len(key), dtype=np.int64),
        value,
        value,
        value,
        squares,
        MINUTE_US // 1_000_000,
    )
    hour_key = ((minute_keys >> 32) << 32) | (
        (minute_keys & _LOW_32) // _MINUTES_PER_HOUR
    )
    _, hours = _reduce(
        hour_key,
        minutes.count,
        minutes.sum,
        minutes.min,
        minutes.max,
        minutes.sum_sq,
        3600,
    )
    return minutes, hours


def _upsert(conn: Connection, table: str, rollup: Rollup) -> None:
    if not len(rollup):
        return
    conn.execute(
        _STATEMENTS[table],
        (
            rollup.bucket_s.tolist(),
            rollup.sensor_id.tolist(),
            rollup.count.tolist(),
            rollup.sum.tolist(),
            rollup.min.tolist(),
            rollup.max.tolist(),
            rollup.sum_sq.tolist(),
        ),
    )


def upsert_rollups(
    conn: Connection,
    *,
    time_us: npt.NDArray[np.int64],
    sensor_id: npt.NDArray[np.int32],
    value: npt.NDArray[np.float64],
    grouped: bool = False,
) -> int:
    """Merge these readings into readings_1m (and viewer_cells_1h) and readings_1h.

    Returns the rollup rows written to readings_1m and readings_1h.
    """
    if not len(time_us):
        return 0
    minutes, hours = aggregate(time_us, sensor_id, value, grouped=grouped)
    _upsert(conn, "readings_1m", minutes)
    _upsert(conn, "readings_1h", hours)
    return len(minutes) + len(hours)
