"""Building blocks of the platform's schemas: ids, texts and moments as every input takes them.

pydantic at the edges: the API, the web forms and the CLI validate what people send with these
types, so every entry point refuses the same input with the same message.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
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

__all__ = [
    "CONTROL_CHARACTERS",
    "Day",
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


# A number written as text, as a query parameter is: `since=0.5`, `start=2026`.
_NUMBER_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _not_a_number(value: object) -> object:
    # pydantic would read a number, also one in text, as Unix time (`2026` as 00:33:46 on
    # 1 January 1970); the documented format is ISO 8601 text.
    if isinstance(value, int | float) or (
        isinstance(value, str) and _NUMBER_TEXT.fullmatch(value)
    ):
        raise ValueError(
            "must be ISO 8601 text such as 2026-05-01 or 2026-05-01T08:00:00Z"
        )
    return value


def _utc(value: datetime) -> datetime:
    # A moment without an offset is UTC, as the database session reads it; one with an offset
    # must stay inside Python's years 1-9999 in UTC: PostgreSQL would store
    # 0001-01-01T00:00+14:00 (in 1 BC), and every later read of the row would fail.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must lie between the years 1 and 9999 in UTC") from None


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


Day = Annotated[date, BeforeValidator(_not_a_number)]


Moment = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_utc)]


class Input(BaseModel):
    """Every input schema: unknown fields and control characters are refused."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _printable_text(cls, value: object) -> object:
        # Every text of every input, lists included, so no field can be forgotten.
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                printable(item)
        return value


class PeriodInput(Input):
    """An input with a period [starts_at, ends_at) that must not be empty."""

    starts_at: Moment
    ends_at: Moment

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
