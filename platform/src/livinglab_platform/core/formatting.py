"""Numbers, dates and times as each language writes them, the one place for it.

Slovenian writes `1.234.567,89`, `99,9 %`, `5. 12. 2026` and `14:03 (CET)`; English
`1,234,567.89`, `99.9%`, `5 December 2026` and `14:03 (CET)`. Every time shown names its zone:
Ljubljana's (CET in winter, CEST in summer) for people, UTC where a machine or the `--utc` flag
asks for it. The web pages, the governance report and the CLI's human output all format here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

from livinglab_platform.core.local_time import LJUBLJANA

__all__ = ["LANGUAGES", "Formats", "Lang"]

Lang = Literal["sl", "en"]
LANGUAGES: tuple[Lang, ...] = ("sl", "en")

_MONTHS: dict[Lang, tuple[str, ...]] = {
    "sl": (
        "jan",
        "feb",
        "mar",
        "apr",
        "maj",
        "jun",
        "jul",
        "avg",
        "sep",
        "okt",
        "nov",
        "dec",
    ),
    "en": (
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
    ),
}
_MONTH_NAMES: dict[Lang, tuple[str, ...]] = {
    "sl": (
        "januar",
        "februar",
        "marec",
        "april",
        "maj",
        "junij",
        "julij",
        "avgust",
        "september",
        "oktober",
        "november",
        "december",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}
NONE = "—"


@dataclass(frozen=True)
class Formats:
    """Numbers, dates and times in one language; any language but English is Slovenian."""

    lang: str

    @property
    def _lang(self) -> Lang:
        return "en" if self.lang == "en" else "sl"

    def localise(self, text: str) -> str:
        """Python's grouping and decimal marks as the language writes them."""
        # Python groups with "," and marks decimals with "."; Slovenian swaps them.
        if self._lang == "en":
            return text
        return text.replace(",", "\0").replace(".", ",").replace("\0", ".")

    def integer(self, value: int) -> str:
        return self.localise(f"{value:,}")

    def decimal(self, value: float | None, places: int = 1) -> str:
        """A measured value to `places` decimals, e.g. 986,6 or 986.6."""
        if value is None:
            return NONE
        return self.localise(f"{value:,.{places}f}")

    def money(self, value: Decimal) -> str:
        """EUR to the cent."""
        amount = self.localise(f"{value:,.2f}")
        return f"EUR {amount}" if self._lang == "en" else f"{amount} EUR"

    def percent(self, share: float | None) -> str:
        if share is None:
            return NONE
        text = self.localise(f"{share * 100:.1f}")
        return f"{text}%" if self._lang == "en" else f"{text} %"

    def day(self, value: date | None) -> str:
        if value is None:
            return NONE
        if self._lang == "en":
            return f"{value.day} {_MONTH_NAMES['en'][value.month - 1]} {value.year}"
        return f"{value.day}. {value.month}. {value.year}"

    def short_day(self, value: date) -> str:
        """A day without its year (axis labels): `5. 12.` or `5 Dec`."""
        if self._lang == "en":
            return f"{value.day} {_MONTHS['en'][value.month - 1]}"
        return f"{value.day}. {value.month}."

    def month(self, value: date) -> str:
        """A month's short name (axis labels)."""
        return _MONTHS[self._lang][value.month - 1]

    def month_name(self, value: date) -> str:
        return _MONTH_NAMES[self._lang][value.month - 1]

    def moment(self, value: datetime | None, *, utc: bool = False) -> str:
        """A moment to the minute with its zone: `5. 12. 2026 14:03 (CET)`."""
        if value is None:
            return NONE
        local = value.astimezone(UTC if utc else LJUBLJANA)
        clock = local.strftime("%H:%M")
        return f"{self.day(local.date())} {clock} ({local.tzname()})"

    def clock(self, value: datetime, *, utc: bool = False) -> str:
        """The time of day with its zone, `14:03 (CET)` (axis labels, today's events)."""
        local = value.astimezone(UTC if utc else LJUBLJANA)
        return f"{local.strftime('%H:%M')} ({local.tzname()})"
