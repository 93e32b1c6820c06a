"""Ljubljana's clock: the one zone people of the lab read and type times in.

Times are stored as exact instants (UTC); a date a person types is a Ljubljana calendar day, from
its local midnight to the next one (23, 24 or 25 hours across daylight-saving changes).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["LJUBLJANA", "TIME_ZONE", "end_of_day", "local_date", "start_of_day"]

TIME_ZONE = "Europe/Ljubljana"
LJUBLJANA = ZoneInfo(TIME_ZONE)


def local_date(moment: datetime) -> date:
    """The Ljubljana date of a moment."""
    return moment.astimezone(LJUBLJANA).date()


def start_of_day(day: date) -> datetime:
    """The moment the Ljubljana day begins (its local midnight), in UTC."""
    return datetime.combine(day, time(), tzinfo=LJUBLJANA).astimezone(UTC)


def end_of_day(day: date) -> datetime:
    """The moment the Ljubljana day ends (the next day's local midnight), in UTC."""
    return start_of_day(day + timedelta(days=1))
