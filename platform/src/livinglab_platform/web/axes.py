"""A chart's axes: where the ticks go and what they say.

Time ticks fall on Ljubljana's round hours, midnights, Mondays or first days of a month, whichever
step gives at most MAX_TIME_TICKS over the range; the zone (CET, CEST) is named once beside them.
The value axis never zooms in on noise: its span is at least MIN_SPAN_RESOLUTIONS times the
quantity's resolution and MIN_SPAN_SHARE of the value, so a pressure of 986,6 hPa that moves by
0,1 hPa draws a flat line, not a cliff.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from livinglab_platform.core.formatting import Formats
from livinglab_platform.core.local_time import LJUBLJANA, start_of_day

__all__ = ["Scale", "time_ticks", "value_scale", "zone_names"]

MAX_TIME_TICKS = 7
MAX_VALUE_TICKS = 5
MIN_SPAN_RESOLUTIONS = 4
MIN_SPAN_SHARE = 0.01
_HOUR_STEPS = (1, 2, 3, 6, 12)
_DAY_STEPS = (1, 2, 7, 14)


@dataclass(frozen=True)
class Scale:
    """A value axis: its range and the ticks on it, labelled in the page's language."""

    low: float
    high: float
    ticks: tuple[tuple[float, str], ...]


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5 and 5 times a power of ten at least `raw`."""
    power: float = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)


def value_scale(
    low: float, high: float, *, resolution: float, formats: Formats
) -> Scale:
    """A value axis over [low, high], at least as wide as the noise rule asks."""
    centre = (low + high) / 2
    floor = max(resolution * MIN_SPAN_RESOLUTIONS, abs(centre) * MIN_SPAN_SHARE, 1e-6)
    if high - low < floor:
        low, high = centre - floor / 2, centre + floor / 2
    step = _nice_step((high - low) / MAX_VALUE_TICKS)
    first, last = math.floor(low / step), math.ceil(high / step)
    places = len(f"{step:.6g}".partition(".")[2])
    ticks = tuple(
        (n * step, formats.decimal(n * step, places)) for n in range(first, last + 1)
    )
    return Scale(low=first * step, high=last * step, ticks=ticks)


def _hours(start: datetime, end: datetime, step: int) -> Iterator[datetime]:
    moment = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while moment <= end:
        local = moment.astimezone(LJUBLJANA)
        if moment >= start and local.minute == 0 and local.hour % step == 0:
            yield moment
        moment += timedelta(hours=1)


def _days(start: datetime, end: datetime, step: int) -> Iterator[datetime]:
    day = start.astimezone(LJUBLJANA).date()
    while (moment := start_of_day(day)) <= end:
        if moment >= start and (
            day.weekday() == 0 and day.isocalendar().week % (step // 7) == 0
            if step >= 7
            else day.toordinal() % step == 0
        ):
            yield moment
        day += timedelta(days=1)


def _months(start: datetime, end: datetime) -> Iterator[datetime]:
    local = start.astimezone(LJUBLJANA).date()
    day = date(local.year, local.month, 1)
    while (moment := start_of_day(day)) <= end:
        if moment >= start:
            yield moment
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)


def time_ticks(
    start: datetime, end: datetime, *, formats: Formats
) -> list[tuple[datetime, str]]:
    """Ticks over [start, end] in Ljubljana's time, each with its label."""
    hours = (end - start).total_seconds() / 3600
    for step in _HOUR_STEPS:
        if hours / step <= MAX_TIME_TICKS:
            return [(m, _hour_label(m, formats)) for m in _hours(start, end, step)]
    for step in _DAY_STEPS:
        if hours / 24 / step <= MAX_TIME_TICKS:
            return [
                (m, formats.short_day(m.astimezone(LJUBLJANA).date()))
                for m in _days(start, end, step)
            ]
    return [
        (m, formats.month(m.astimezone(LJUBLJANA).date())) for m in _months(start, end)
    ]


def _hour_label(moment: datetime, formats: Formats) -> str:
    local = moment.astimezone(LJUBLJANA)
    # A midnight names its day: the axis then says which day the hours belong to.
    if local.hour == 0:
        return formats.short_day(local.date())
    return local.strftime("%H:%M")


def zone_names(start: datetime, end: datetime) -> str:
    """The zone abbreviations over the range: `CET`, or `CET/CEST` across a change."""
    names = dict.fromkeys(str(m.astimezone(LJUBLJANA).tzname()) for m in (start, end))
    return "/".join(names)
