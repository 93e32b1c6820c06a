"""Ljubljana's calendar: the strategy counts per calendar year in Europe/Ljubljana.

A meeting on 31 December at 23:30 in Ljubljana is 22:30 UTC and counts for that year; one on
1 January at 00:30 is 23:30 UTC on 31 December and counts for the new year. Every date of the
record (form periods, terms, status changes) is a Ljubljana date; moments are turned into one here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from livinglab_platform.core.errors import InvalidInputError
from livinglab_platform.core.local_time import (
    LJUBLJANA,
    TIME_ZONE,
    end_of_day,
    local_date,
)

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "LJUBLJANA",
    "TIME_ZONE",
    "check_year",
    "end_of_day",
    "local_date",
    "today",
    "year_end",
    "year_start",
    "years_before",
]

# The years the record is judged in: the strategy's decades, far inside Python's dates (the year
# 9999 has no end of its last day, the year 1 no year before it).
FIRST_YEAR = 2000
LAST_YEAR = 2100


def check_year(year: int, *, field: str) -> None:
    """Refuse a year outside FIRST_YEAR..LAST_YEAR, naming the input."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInputError(
            f"{year} is outside the years {FIRST_YEAR}-{LAST_YEAR}", field=field
        )


def today() -> date:
    """Today in Ljubljana."""
    return local_date(datetime.now(UTC))


def year_start(year: int) -> date:
    return date(year, 1, 1)


def year_end(year: int) -> date:
    return date(year, 12, 31)


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)
