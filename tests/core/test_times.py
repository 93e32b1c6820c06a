"""The one rule of typed times (core/schema.py), without a database: a date is a Ljubljana day,
the end's included; an offset is exact; no offset is Ljubljana's clock; digits are no time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pydantic
import pytest

from livinglab_platform.core.schema import Day, EndMoment, Moment, PeriodInput

START = pydantic.TypeAdapter(Moment)
END = pydantic.TypeAdapter(EndMoment)
DAY = pydantic.TypeAdapter(Day)


@pytest.mark.parametrize(
    ("typed", "start", "end"),
    [
        # Winter (CET, UTC+1): 24 hours.
        ("2027-03-05", datetime(2027, 3, 4, 23, tzinfo=UTC), datetime(2027, 3, 5, 23, tzinfo=UTC)),
        # The spring change (28 March 2027): 23 hours.
        ("2027-03-28", datetime(2027, 3, 27, 23, tzinfo=UTC), datetime(2027, 3, 28, 22, tzinfo=UTC)),
        # The autumn change (25 October 2026): 25 hours.
        ("2026-10-25", datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_a_typed_day_is_ljubljanas_whole_day(typed, start, end):
    assert START.validate_python(typed) == start
    assert END.validate_python(typed) == end


def test_offsets_are_exact_and_no_offset_is_ljubljanas_clock():
    exact = datetime(2027, 3, 5, 7, tzinfo=UTC)
    assert START.validate_python("2027-03-05T08:00+01:00") == exact
    assert END.validate_python("2027-03-05T07:00Z") == exact
    assert START.validate_python("2027-03-05T08:00") == exact
    assert END.validate_python("2026-07-01T14:00") == datetime(
        2026, 7, 1, 12, tzinfo=UTC
    )


def test_one_day_is_a_period():
    period = PeriodInput.model_validate(
        {"starts_at": "2027-03-05", "ends_at": "2027-03-05"}
    )
    assert period.ends_at - period.starts_at == timedelta(hours=24)


@pytest.mark.parametrize("typed", ["20260501", "1700000000", " 12.5 ", 1700000000])
def test_digits_are_not_unix_time(typed):
    for adapter in (START, END, DAY):
        with pytest.raises(pydantic.ValidationError, match="ISO 8601"):
            adapter.validate_python(typed)


@pytest.mark.parametrize("typed", ["0001-01-01", "9999-12-31"])
def test_days_at_the_ends_of_time_are_refused_not_crashed(typed):
    adapter = START if typed.startswith("0001") else END
    with pytest.raises(pydantic.ValidationError, match="between the years 1 and 9999"):
        adapter.validate_python(typed)


def test_a_day_is_typed_as_a_day():
    assert str(DAY.validate_python("2026-05-01")) == "2026-05-01"
    with pytest.raises(pydantic.ValidationError, match="ISO date"):
        DAY.validate_python("0001-01-01T00:00:00+14:00")


def test_true_and_false_are_no_numbers_in_any_input():
    # The API fuzz test's finding, fixed for every input schema at once (core.schema.Input):
    # pydantic read `"batch_max_age_s": true` as one second.
    from pydantic import ValidationError

    from livinglab_platform.registry.schemas import ConfigChange

    with pytest.raises(ValidationError, match="not true or false"):
        ConfigChange.model_validate_json('{"batch_max_age_s": true}')
    with pytest.raises(ValidationError, match="not true or false"):
        ConfigChange.model_validate_json('{"sensors": {"air": {"interval_s": false}}}')
    assert (
        ConfigChange.model_validate_json(
            '{"batch_size": 5, "sensors": {"air": {"enabled": false, "interval_s": 2}}}'
        )
        .sensors["air"]
        .enabled
        is False
    )
