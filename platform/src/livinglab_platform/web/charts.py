"""A trial's small live charts: one inline SVG sparkline per sensor, drawn on the server.

static/chart.js redraws the same charts from /api/v1/data every 30 s, so the two agree on the
geometry (WIDTH, HEIGHT, PAD) and on the gap rule; without JavaScript the server's drawing stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg.rows import dict_row

from livinglab_platform.access import Principal
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import NotFoundError
from livinglab_platform.data import queries
from livinglab_platform.data.schemas import Interval
from livinglab_platform.registry import fleet
from livinglab_platform.registry.schemas import SensorPublic
from livinglab_platform.trials.schemas import TrialPublic

__all__ = ["HEIGHT", "PAD", "WIDTH", "WINDOW", "Chart", "sparkline", "trial_charts"]

WIDTH = 300
HEIGHT = 60
PAD = 4
WINDOW = timedelta(hours=24)
# A silence longer than 1/48 of the window (30 min of a day) breaks the line instead of
# drawing a straight segment across it, which would look like readings that never came.
GAP_FRACTION = 1 / 48


@dataclass(frozen=True)
class Chart:
    """One sensor's sparkline and the numbers printed beside it."""

    device_id: str
    sensor: SensorPublic
    path: str
    count: int
    last: float | None
    low: float | None
    high: float | None


def sparkline(
    points: Sequence[tuple[datetime, float]], *, start: datetime, end: datetime
) -> str:
    """The SVG path `d` of time-ordered points over [start, end], scaled into WIDTH x HEIGHT."""
    if not points:
        return ""
    values = [v for _, v in points]
    low, high = min(values), max(values)
    gap_s = (end - start).total_seconds() * GAP_FRACTION
    # The x axis starts at the first reading when it comes later than `start`: a device that
    # began sending an hour ago fills the chart instead of a sliver at its right edge.
    left = max(start, points[0][0])
    span_s = (end - left).total_seconds() or (end - start).total_seconds()
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    commands: list[str] = []
    previous: datetime | None = None
    for moment, value in points:
        x = PAD + (moment - left).total_seconds() / span_s * inner_w
        # A flat series sits in the middle rather than on the floor.
        share = 0.5 if high == low else (value - low) / (high - low)
        y = HEIGHT - PAD - share * inner_h
        jump = previous is None or (moment - previous).total_seconds() > gap_s
        commands.append(f"{'M' if jump else 'L'}{x:.1f} {y:.1f}")
        previous = moment
    if len(points) == 1:
        # A lone reading is a dot: a tiny segment that the round line cap makes visible.
        commands.append("h0.1")
    return " ".join(commands)


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
    viewer_min_count: int,
) -> list[Chart]:
    """A chart per sensor of the trial's devices over the last WINDOW, as the principal may see.

    Args:
        viewer_min_count: LIVINGLAB_VIEWER_MIN_COUNT (see access.cell_min_count).
    """
    sensors = _sensors(conn, principal, trial)
    if not sensors:
        return []
    start = now - WINDOW
    plan = queries.plan_query(
        conn,
        principal,
        queries.DataQuery(start=start, end=now, trial_id=trial.id),
        viewer_min_count=viewer_min_count,
    )
    series: dict[tuple[str, str], list[tuple[datetime, float]]] = {}
    for chunk in queries.rows(conn, plan, row_factory=dict_row):
        for row in chunk:
            value = row["value"] if plan.interval is Interval.raw else row["mean"]
            if value is not None:
                series.setdefault((row["device_id"], row["sensor"]), []).append(
                    (row["time"], float(value))
                )
    charts = []
    for device_id, sensor in sensors:
        points = series.get((device_id, sensor.key), [])
        values = [v for _, v in points]
        charts.append(
            Chart(
                device_id=device_id,
                sensor=sensor,
                # The range read (whole buckets), as /api/v1/data answers it to chart.js.
                path=sparkline(points, start=plan.start, end=plan.end),
                count=len(points),
                last=values[-1] if values else None,
                low=min(values, default=None),
                high=max(values, default=None),
            )
        )
    return charts
