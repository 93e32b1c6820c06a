"""A trial's charts: one SVG per sensor, drawn on the server, that a city official can read.

Each chart has a time axis in Ljubljana's time with its zone named, a value axis with the unit as
people write it (core.quantities), the mean of each bucket as a line over a band from its minimum
to its maximum, a break in the line where buckets are missing, the device's assignment periods to
the trial shaded, and a hover text per bucket (an SVG <title>: no script needed). The range is
one of RANGES; the buckets come from data.queries, as the asker may see them. static/chart.js
fetches the same drawing (`/trials/{id}/charts`) every 30 s, so there is one drawing code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg.rows import dict_row

from livinglab_platform.access import Principal
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import NotFoundError
from livinglab_platform.core.formatting import Formats
from livinglab_platform.core.local_time import end_of_day, start_of_day
from livinglab_platform.core.quantities import QUANTITIES, quantity_label, unit_symbol
from livinglab_platform.data import queries
from livinglab_platform.data.schemas import Interval
from livinglab_platform.registry import fleet
from livinglab_platform.registry.schemas import SensorPublic
from livinglab_platform.trials.schemas import TrialPublic
from livinglab_platform.web.axes import time_ticks, value_scale, zone_names

__all__ = [
    "CHART_GEOMETRY",
    "DEFAULT_RANGE",
    "HEIGHT",
    "RANGES",
    "WIDTH",
    "Chart",
    "trial_charts",
]

WIDTH = 480
HEIGHT = 230
# The plot inside the drawing: room on the left for the value labels, below for the times.
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 26, 44
# What the template draws with, beside each chart's own numbers.
CHART_GEOMETRY = {
    "chart_width": WIDTH,
    "chart_height": HEIGHT,
    "chart_left": LEFT,
    "chart_right": RIGHT,
    "chart_top": TOP,
    "chart_bottom": BOTTOM,
    "chart_plot_height": HEIGHT - TOP - BOTTOM,
}
RANGES: dict[str, timedelta | None] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "trial": None,  # the trial's period, up to now
}
DEFAULT_RANGE = "24h"
# Buckets per chart at most: 288 five-minute buckets a day, 168 hours a week, 120 six-hour
# buckets in 30 days; enough to see a day's cycle, few enough for a hover text each.
MAX_BUCKETS = 300
# A silence longer than 1/48 of the range (30 min of a day, 15 h of 30 days), and never shorter
# than one missing bucket and a half, breaks the line: a straight segment across it would look
# like readings that never came. A device sending every 10 minutes leaves every other
# five-minute bucket empty without being silent.
GAP_FRACTION = 1 / 48
# A quantity the table does not know: a tenth is the smallest step worth a tick.
DEFAULT_RESOLUTION = 0.1


@dataclass(frozen=True)
class Bucket:
    """One bucket of a sensor's readings as the query returned it."""

    time: datetime
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Chart:
    """One sensor's chart, in drawing coordinates, and the words around it."""

    device_id: str
    sensor: SensorPublic
    label: str
    unit: str
    count: int
    last: str
    low: str
    high: str
    line: str
    band: str
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    zone: str
    periods: tuple[tuple[float, float, str], ...]
    hovers: tuple[tuple[float, float, str], ...]


@dataclass(frozen=True)
class Frame:
    """The range drawn and the width of its buckets."""

    start: datetime
    end: datetime
    interval: Interval

    @property
    def width(self) -> timedelta:
        return timedelta(seconds=queries.INTERVAL_S[self.interval])

    def x(self, moment: datetime) -> float:
        share = (moment - self.start) / (self.end - self.start)
        return LEFT + min(max(share, 0.0), 1.0) * (WIDTH - LEFT - RIGHT)


def frame(trial: TrialPublic, range_name: str, *, now: datetime) -> Frame:
    """The range a chart shows: the last 24 h, 7 or 30 days, or the trial's period up to now."""
    span = RANGES.get(range_name, RANGES[DEFAULT_RANGE])
    if span is None:
        start = start_of_day(trial.starts_on)
        end = end_of_day(trial.ends_on)
        end = min(end, now) if start < now else end
    else:
        start, end = now - span, now
    seconds = (end - start).total_seconds()
    interval = next(
        (i for i, s in queries.INTERVAL_S.items() if seconds / s <= MAX_BUCKETS),
        Interval.d1,
    )
    return Frame(start=start, end=end, interval=interval)


def _paths(
    frame: Frame, buckets: Sequence[Bucket], y: Callable[[float], float]
) -> tuple[str, str]:
    """The mean's line and the min-max band, both broken where a bucket is missing."""
    line: list[str] = []
    band: list[str] = []
    segment: list[tuple[float, Bucket]] = []

    def close() -> None:
        if len(segment) == 1:
            line.append("h0.1")  # a lone bucket is a dot (round line cap)
        elif segment:
            upper = " L".join(f"{x:.1f} {y(b.high):.1f}" for x, b in segment)
            lower = " L".join(f"{x:.1f} {y(b.low):.1f}" for x, b in reversed(segment))
            band.append(f"M{upper} L{lower} Z")
        segment.clear()

    gap = max(frame.width * 1.5, (frame.end - frame.start) * GAP_FRACTION)
    previous: datetime | None = None
    for bucket in buckets:
        x = frame.x(bucket.time + frame.width / 2)
        if previous is None or bucket.time - previous > gap:
            close()
            line.append(f"M{x:.1f} {y(bucket.mean):.1f}")
        else:
            line.append(f"L{x:.1f} {y(bucket.mean):.1f}")
        segment.append((x, bucket))
        previous = bucket.time
    close()
    return " ".join(line), " ".join(band)


def draw(
    device_id: str,
    sensor: SensorPublic,
    buckets: Sequence[Bucket],
    *,
    frame: Frame,
    periods: Sequence[tuple[datetime, datetime]],
    formats: Formats,
    texts: dict[str, str],
) -> Chart:
    """One sensor's chart over the frame; `texts` holds the words of the page's language."""
    known = QUANTITIES.get(sensor.quantity)
    unit = unit_symbol(sensor.unit)
    places = known.decimals if known else 1
    resolution = known.resolution if known else DEFAULT_RESOLUTION
    low = min((b.low for b in buckets), default=0.0)
    high = max((b.high for b in buckets), default=resolution)
    scale = value_scale(low, high, resolution=resolution, formats=formats)
    plot_h = HEIGHT - TOP - BOTTOM

    def y(value: float) -> float:
        return TOP + (scale.high - value) / (scale.high - scale.low) * plot_h

    line, band = _paths(frame, buckets, y)
    bucket_w = frame.x(frame.start + frame.width) - frame.x(frame.start)
    hovers = tuple(
        (
            frame.x(b.time),
            bucket_w,
            f"{formats.moment(b.time)}: {formats.decimal(b.mean, places)} {unit}"
            f" ({texts['low']} {formats.decimal(b.low, places)},"
            f" {texts['high']} {formats.decimal(b.high, places)})",
        )
        for b in buckets
    )
    shaded = tuple(
        (
            frame.x(max(s, frame.start)),
            frame.x(min(e, frame.end)) - frame.x(max(s, frame.start)),
            texts["assigned"].format(start=formats.moment(s), end=formats.moment(e)),
        )
        for s, e in periods
        if s < frame.end and e > frame.start
    )
    return Chart(
        device_id=device_id,
        sensor=sensor,
        label=quantity_label(sensor.quantity, formats.lang),
        unit=unit,
        count=len(buckets),
        last=formats.decimal(buckets[-1].mean if buckets else None, places),
        low=formats.decimal(low if buckets else None, places),
        high=formats.decimal(high if buckets else None, places),
        line=line,
        band=band,
        x_ticks=tuple(
            (frame.x(m), label)
            for m, label in time_ticks(frame.start, frame.end, formats=formats)
        ),
        y_ticks=tuple((y(v), label) for v, label in scale.ticks),
        zone=texts["zone"].format(zone=zone_names(frame.start, frame.end)),
        periods=shaded,
        hovers=hovers,
    )


def _sensors(
    conn: Connection, principal: Principal, trial: TrialPublic
) -> list[tuple[str, SensorPublic]]:
    found: list[tuple[str, SensorPublic]] = []
    for device_id in dict.fromkeys(a.device_id for a in trial.devices):
        try:
            device = fleet.get_device(conn, principal, device_id)
        except NotFoundError:
            # A partner reading a trial through a grant may not see the device itself.
            continue
        found.extend((device_id, sensor) for sensor in device.sensors)
    return found


def trial_charts(
    conn: Connection,
    principal: Principal,
    trial: TrialPublic,
    *,
    now: datetime,
    range_name: str,
    viewer_min_count: int,
    formats: Formats,
    texts: dict[str, str],
) -> list[Chart]:
    """A chart per sensor of the trial's devices over the range, as the principal may see.

    Args:
        viewer_min_count: LIVINGLAB_VIEWER_MIN_COUNT (see access.cell_min_count).
        texts: the words a chart writes, in the page's language (`low`, `high`, `zone`,
            `assigned`).
    """
    sensors = _sensors(conn, principal, trial)
    if not sensors:
        return []
    shown = frame(trial, range_name, now=now)
    plan = queries.plan_query(
        conn,
        principal,
        queries.DataQuery(
            start=shown.start,
            end=shown.end,
            trial_id=trial.id,
            interval=shown.interval,
        ),
        viewer_min_count=viewer_min_count,
    )
    series: dict[tuple[str, str], list[Bucket]] = {}
    for chunk in queries.rows(conn, plan, row_factory=dict_row):
        for row in chunk:
            if row["mean"] is not None:
                series.setdefault((row["device_id"], row["sensor"]), []).append(
                    Bucket(
                        row["time"],
                        float(row["mean"]),
                        float(row["min"]),
                        float(row["max"]),
                    )
                )
    return [
        draw(
            device_id,
            sensor,
            series.get((device_id, sensor.key), []),
            frame=shown,
            periods=[
                (a.starts_at, a.ends_at)
                for a in trial.devices
                if a.device_id == device_id
            ],
            formats=formats,
            texts=texts,
        )
        for device_id, sensor in sensors
    ]
