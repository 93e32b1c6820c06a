"""The one table of quantities: what each measured quantity is called, how its unit is written,
what Grafana calls that unit, the resolution worth showing, and official limits where they exist.

Devices declare a sensor as KEY:QUANTITY:UNIT with ASCII units (`degC`, `ug/m3`, `dBA`), because
that is what fits on a wire and in a shell; people read `°C`, `µg/m³` and `dB(A)`. The web pages,
the report, the CLI's human output, the exports' unit headers and the Grafana dashboards all take
names and units from here, so `relative_humidity` is never shown where a label exists.

Limits and guidelines, with their sources:
- PM10: 50 µg/m³ as a daily mean, not to be exceeded on more than 35 days a year, and 40 µg/m³ as a
  yearly mean (Directive 2008/50/EC on ambient air quality, Annex XI).
- PM2.5: 25 µg/m³ as a yearly mean (Directive 2008/50/EC, Annex XIV).
- Environmental noise from road traffic: 53 dB Lden (WHO Environmental Noise Guidelines for the
  European Region, 2018), a guideline rather than a legal limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from livinglab_platform.core.formatting import Lang

__all__ = [
    "QUANTITIES",
    "Limit",
    "Quantity",
    "describe",
    "quantity_label",
    "unit_symbol",
]


@dataclass(frozen=True)
class Limit:
    """An official limit or guideline value, in the quantity's unit."""

    value: float
    averaging: str  # "day", "year", "Lden"
    kind: str  # "limit" (binding) or "guideline"
    source: str


@dataclass(frozen=True)
class Quantity:
    """One quantity as people name it."""

    key: str
    label: dict[Lang, str]
    unit: str  # the unit as people write it
    grafana_unit: str  # Grafana's unit id for panels
    resolution: float  # the smallest step worth showing; charts never zoom in below it
    decimals: int
    limits: tuple[Limit, ...] = ()


_AIR_QUALITY = "Directive 2008/50/EC on ambient air quality"

QUANTITIES: dict[str, Quantity] = {
    q.key: q
    for q in (
        Quantity(
            "air_temperature",
            {"sl": "temperatura zraka", "en": "air temperature"},
            "°C",
            "celsius",
            0.5,
            1,
        ),
        Quantity(
            "temperature",
            {"sl": "temperatura", "en": "temperature"},
            "°C",
            "celsius",
            0.5,
            1,
        ),
        Quantity(
            "relative_humidity",
            {"sl": "relativna vlažnost", "en": "relative humidity"},
            "%",
            "humidity",
            2.0,
            0,
        ),
        Quantity(
            "air_pressure",
            {"sl": "zračni tlak", "en": "air pressure"},
            "hPa",
            "pressurehpa",
            2.0,
            1,
        ),
        Quantity(
            "pm2_5",
            {"sl": "delci PM2,5", "en": "PM2.5 particles"},
            "µg/m³",
            "conμgm3",
            2.0,
            1,
            (Limit(25.0, "year", "limit", f"{_AIR_QUALITY}, Annex XIV"),),
        ),
        Quantity(
            "pm10",
            {"sl": "delci PM10", "en": "PM10 particles"},
            "µg/m³",
            "conμgm3",
            2.0,
            1,
            (
                Limit(
                    50.0, "day", "limit", f"{_AIR_QUALITY}, Annex XI (35 days a year)"
                ),
                Limit(40.0, "year", "limit", f"{_AIR_QUALITY}, Annex XI"),
            ),
        ),
        Quantity(
            "noise_level",
            {"sl": "raven hrupa", "en": "noise level"},
            "dB(A)",
            "dB",
            3.0,
            1,
            (
                Limit(
                    53.0,
                    "Lden",
                    "guideline",
                    "WHO Environmental Noise Guidelines for the European Region (2018), road traffic",
                ),
            ),
        ),
    )
}

# The ASCII spellings devices send, and how people write them.
_UNIT_SYMBOLS = {
    "degC": "°C",
    "C": "°C",
    "ug/m3": "µg/m³",
    "µg/m3": "µg/m³",
    "dBA": "dB(A)",
    "dB(A)": "dB(A)",
    "hPa": "hPa",
    "Pa": "Pa",
    "%": "%",
    "%RH": "%",
    "ppm": "ppm",
    "lx": "lx",
}


def unit_symbol(unit: str) -> str:
    """A device's unit as people write it: `degC` -> `°C`; an unknown unit as it came."""
    return _UNIT_SYMBOLS.get(unit, unit)


def quantity_label(quantity: str, lang: str) -> str:
    """A quantity's name in `lang` (Slovenian for any but English); an unknown quantity's key
    with spaces for underscores."""
    known = QUANTITIES.get(quantity)
    if known is None:
        return quantity.replace("_", " ")
    return known.label["en" if lang == "en" else "sl"]


def describe(quantity: str, unit: str, lang: str) -> str:
    """`relativna vlažnost (%)`: the label and unit a chart's axis or a column header shows."""
    return f"{quantity_label(quantity, lang)} ({unit_symbol(unit)})"
