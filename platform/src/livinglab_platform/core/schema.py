"""Building blocks of the platform's schemas: ids, texts and moments as every input takes them.

pydantic at the edges: the API, the web forms and the CLI validate what people send with these
types, so every entry point refuses the same input with the same message.

The one rule of typed times: a date (`2027-03-05`) is a Ljubljana calendar day, and a period's
last day is included: as a `Moment` (a start) it is the day's local midnight, as an `EndMoment`
the local midnight after it, so `[starts_at, ends_at)` covers both days whole. A date-time with an
offset (`2027-03-05T08:00Z`, `...+01:00`) is exact; one without an offset is Ljubljana's clock.
All are stored as instants in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from livinglab_edge_agent.wire import (
    DEVICE_ID_REGEX,
    DEVICE_ID_RULE,
    SENSOR_KEY_REGEX,
    SENSOR_KEY_RULE,
)
from livinglab_platform.core.local_time import LJUBLJANA, end_of_day, start_of_day

__all__ = [
    "CONTROL_CHARACTERS",
    "Day",
    "EndMoment",
    "ErrorPublic",
    "Input",
    "Moment",
    "Name",
    "PeriodInput",
    "Reason",
    "SensorKey",
    "Slug",
    "Text",
    "printable",
]

# The pydantic error type of a text with control characters in it.
CONTROL_CHARACTERS = "control_characters"

# Organisation and site ids follow the device-id rule: they appear beside device ids in URLs,
# command lines and file names.
Slug = Annotated[
    str,
    StringConstraints(pattern=DEVICE_ID_REGEX),
    Field(description=DEVICE_ID_RULE, examples=["tp-ljubljana"]),
]
SensorKey = Annotated[
    str,
    StringConstraints(pattern=SENSOR_KEY_REGEX),
    Field(description=SENSOR_KEY_RULE, examples=["pm2_5"]),
]


def printable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and control characters in names only confuse people.
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        # A type of its own, so the web forms can say it in the person's language.
        raise PydanticCustomError(
            CONTROL_CHARACTERS, "must not contain control characters"
        )
    return value


# A date alone, as people type it; `date.fromisoformat` would also take `20270305`.
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_EXAMPLE = "must be ISO 8601 text such as 2026-05-01 or 2026-05-01T08:00:00Z"
_YEARS = "must lie between the years 1 and 9999 in UTC"


# A number alone, as a query parameter is text (`20260501`, `1700000000`, `.5`, `1e9`): pydantic
# would read it as Unix time.
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _not_a_number(value: object) -> object:
    # pydantic would read a number, or text of one, as Unix time; the format is ISO 8601 text.
    if isinstance(value, int | float) or (
        isinstance(value, str) and _NUMBER.fullmatch(value)
    ):
        raise ValueError(_ISO_EXAMPLE)
    return value


def _date_only(value: object) -> object:
    # A day is typed as a day: pydantic would also take a date-time at midnight, in any offset
    # ("0001-01-01T00:00:00+14:00"), which is no day of Ljubljana's. The error keeps pydantic's
    # type, so the web forms say it in the person's language.
    value = _not_a_number(value)
    if isinstance(value, str) and not _DATE_ONLY.fullmatch(value.strip()):
        raise PydanticCustomError(
            "date_parsing", "must be an ISO date such as 2026-05-01"
        )
    return value


def _day_bound(value: object, *, end: bool) -> object:
    """A typed date as the instant its Ljubljana day starts, or (for an end) the one it ends."""
    value = _not_a_number(value)
    if isinstance(value, str) and _DATE_ONLY.fullmatch(value.strip()):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            return value  # pydantic says what is wrong with it
    if isinstance(value, date) and not isinstance(value, datetime):
        try:
            return end_of_day(value) if end else start_of_day(value)
        except (OverflowError, ValueError):
            raise ValueError(_YEARS) from None
    return value


def _first_day(value: object) -> object:
    return _day_bound(value, end=False)


def _last_day(value: object) -> object:
    return _day_bound(value, end=True)


def _utc(value: datetime) -> datetime:
    # A moment without an offset is read on Ljubljana's clock, as a person in the lab types it;
    # one with an offset must stay inside Python's years 1-9999 in UTC: PostgreSQL would store
    # 0001-01-01T00:00+14:00 (in 1 BC), and every later read of the row would fail.
    if value.tzinfo is None:
        value = value.replace(tzinfo=LJUBLJANA)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(_YEARS) from None


Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]


Text = Annotated[str, StringConstraints(max_length=10_000)]


Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2000),
    AfterValidator(printable),
    Field(description="Why; kept in the audit trail"),
]


# A calendar day of Ljubljana, typed as `2026-05-01`.
Day = Annotated[date, BeforeValidator(_date_only)]


# A moment, or the start of a period: a date is its Ljubljana day's first instant.
Moment = Annotated[datetime, BeforeValidator(_first_day), AfterValidator(_utc)]
# The end of a period, excluded: a date is the instant after its Ljubljana day, so that day counts.
EndMoment = Annotated[datetime, BeforeValidator(_last_day), AfterValidator(_utc)]


def _takes_bool(annotation: object) -> bool:
    """Whether a field's type admits true and false (bool, or a union or Annotated with it)."""
    if annotation is bool or annotation is object or isinstance(annotation, bool):
        return True
    return any(_takes_bool(argument) for argument in get_args(annotation))


class Input(BaseModel):
    """Every input schema: unknown fields and control characters are refused."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_truth_as_number(cls, value: object, info: ValidationInfo) -> object:
        # JSON's true and false are not numbers, but pydantic reads true as 1 or 1.0 (the API
        # fuzz test's finding: `"batch_max_age_s": true` was taken as one second).
        field = cls.model_fields.get(info.field_name or "")
        if (
            isinstance(value, bool)
            and field is not None
            and not _takes_bool(field.annotation)
        ):
            raise ValueError("must be a number or text, not true or false")
        return value

    @field_validator("*")
    @classmethod
    def _printable_text(cls, value: object) -> object:
        # Every text of every input, lists included, so no field can be forgotten.
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                printable(item)
        return value


class PeriodInput(Input):
    """An input with a period [starts_at, ends_at) that must not be empty; typed as dates, both
    days are included (`2027-03-01` to `2027-03-05` ends at Ljubljana's midnight after 5 March)."""

    starts_at: Moment = Field(
        description="First day (Ljubljana) or exact date-time",
        examples=["2027-03-01"],
    )
    ends_at: EndMoment = Field(
        description="Last day, included (Ljubljana), or exact date-time, excluded",
        examples=["2027-03-05"],
    )

    @model_validator(mode="after")
    def _order(self) -> PeriodInput:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ErrorPublic(BaseModel):
    """Every error answer: a sentence a person can act on, and for invalid input the fields."""

    detail: str = Field(examples=["trial 7 is 'draft'; approve needs 'submitted'"])
    errors: list[dict[str, str]] = Field(
        default_factory=list,
        description="For invalid input: one entry per problem, with the field and the message",
    )
