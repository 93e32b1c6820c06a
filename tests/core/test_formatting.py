"""Numbers, dates and times as each language writes them, with the zone named."""

from __future__ import annotations

from datetime import UTC, date, datetime

from livinglab_platform.core.formatting import Formats
from livinglab_platform.core.local_time import end_of_day, start_of_day
from livinglab_platform.core.quantities import describe, quantity_label, unit_symbol


def test_slovenian_writes_a_decimal_comma_and_dotted_dates() -> None:
    sl, en = Formats("sl"), Formats("en")
    assert sl.decimal(986.6) == "986,6"
    assert en.decimal(986.6) == "986.6"
    assert sl.decimal(1234.5) == "1.234,5"
    assert en.decimal(1234.5) == "1,234.5"
    assert sl.day(date(2026, 12, 5)) == "5. 12. 2026"
    assert en.day(date(2026, 12, 5)) == "5 December 2026"


def test_every_moment_names_its_zone_winter_and_summer() -> None:
    sl = Formats("sl")
    assert (
        sl.moment(datetime(2026, 12, 5, 13, 3, tzinfo=UTC)) == "5. 12. 2026 14:03 (CET)"
    )
    assert (
        sl.moment(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == "1. 7. 2026 14:00 (CEST)"
    )
    assert Formats("en").moment(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), utc=True) == (
        "1 July 2026 12:00 (UTC)"
    )


def test_a_ljubljana_day_is_23_or_25_hours_across_daylight_saving() -> None:
    spring, autumn = date(2026, 3, 29), date(2026, 10, 25)
    assert (end_of_day(spring) - start_of_day(spring)).total_seconds() == 23 * 3600
    assert (end_of_day(autumn) - start_of_day(autumn)).total_seconds() == 25 * 3600
    assert start_of_day(date(2026, 12, 5)) == datetime(2026, 12, 4, 23, 0, tzinfo=UTC)


def test_quantities_are_named_and_units_written_as_people_write_them() -> None:
    assert quantity_label("relative_humidity", "sl") == "relativna vlažnost"
    assert quantity_label("relative_humidity", "en") == "relative humidity"
    assert unit_symbol("degC") == "°C"
    assert unit_symbol("ug/m3") == "µg/m³"
    assert unit_symbol("dBA") == "dB(A)"
    assert describe("pm10", "ug/m3", "sl") == "delci PM10 (µg/m³)"
    # A quantity the table does not know keeps its key, readable.
    assert quantity_label("soil_moisture", "en") == "soil moisture"
