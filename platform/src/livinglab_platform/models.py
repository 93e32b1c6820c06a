"""The platform's public schemas: what the API and CLI accept and return (pydantic, at the edges)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StringConstraints,
    field_validator,
    model_validator,
)

__all__ = [
    "SLUG_PATTERN",
    "Action",
    "AssignmentCreate",
    "AssignmentPublic",
    "AuditEntryPublic",
    "DataPublic",
    "DeviceCreate",
    "DeviceCredentialsPublic",
    "DevicePublic",
    "ErrorPublic",
    "GrantCreate",
    "GrantPublic",
    "Interval",
    "Kind",
    "OrganisationCreate",
    "OrganisationPublic",
    "PartnerLink",
    "PersonCreate",
    "PersonPublic",
    "PointPublic",
    "Reason",
    "Role",
    "SensorCreate",
    "SensorPublic",
    "SeriesPublic",
    "SiteCreate",
    "SitePublic",
    "State",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
    "TransitionRequest",
    "TrialCreate",
    "TrialPublic",
    "TrialUpdate",
]

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
Slug = Annotated[
    str,
    StringConstraints(pattern=SLUG_PATTERN),
    Field(
        description="1-63 characters of a-z 0-9 _ -, starting with a letter or digit",
        examples=["tp-ljubljana"],
    ),
]
SensorKey = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$"),
    Field(examples=["pm2_5"]),
]


def _printable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and control characters in names only confuse people.
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        raise ValueError("must not contain control characters")
    return value


def _not_a_number(value: object) -> object:
    # pydantic would read a number as Unix time; the documented format is ISO 8601 text.
    if isinstance(value, int | float):
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
    AfterValidator(_printable),
    Field(description="Why; kept in the audit trail"),
]
Day = Annotated[date, BeforeValidator(_not_a_number)]
Moment = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_utc)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _printable_text(cls, value: object) -> object:
        # Every text of every input, lists included, so no field can be forgotten.
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                _printable(item)
        return value


class Kind(StrEnum):
    """Kinds of organisation in the city's digital ecosystem."""

    city_administration = "city_administration"
    public_institution = "public_institution"
    public_company = "public_company"
    education_research = "education_research"
    technology_park = "technology_park"
    company = "company"
    ngo = "ngo"
    citizens_initiative = "citizens_initiative"
    other_city = "other_city"
    regional_national = "regional_national"
    european = "european"


MOL_FAMILY = frozenset(
    {Kind.city_administration, Kind.public_institution, Kind.public_company}
)


class Role(StrEnum):
    """What a person may do: run the lab, work on their organisation's trials, or watch."""

    operator = "operator"
    partner = "partner"
    viewer = "viewer"


class State(StrEnum):
    """Where a trial is in its lifecycle."""

    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    rejected = "rejected"
    deploying = "deploying"
    running = "running"
    evaluating = "evaluating"
    completed = "completed"
    withdrawn = "withdrawn"


class Action(StrEnum):
    """A lifecycle transition of a trial (see lifecycle.py for who may do which)."""

    submit = "submit"
    approve = "approve"
    reject = "reject"
    deploy = "deploy"
    start = "start"
    evaluate = "evaluate"
    complete = "complete"
    withdraw = "withdraw"


class ErrorPublic(BaseModel):
    """Every error answer: a sentence a person can act on, and for invalid input the fields."""

    detail: str = Field(examples=["trial 7 is 'draft'; approve needs 'submitted'"])
    errors: list[dict[str, str]] = Field(
        default_factory=list,
        description="For invalid input: one entry per problem, with the field and the message",
    )


class OrganisationCreate(_Input):
    id: Slug
    name: Name
    kind: Kind
    description: Text = ""
    website: Annotated[str, StringConstraints(max_length=300)] = ""


class OrganisationPublic(BaseModel):
    id: str
    name: str
    kind: Kind
    description: str
    website: str
    mol_family: bool = Field(
        description="City administration, public institution or public company"
    )


class PersonCreate(_Input):
    organisation_id: Slug
    name: Name
    email: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
        ),
        Field(examples=["ana.novak@fe.uni-lj.si"]),
    ]
    role: Role


class PersonPublic(BaseModel):
    id: int
    organisation_id: str
    name: str
    email: str
    role: Role


class TokenCreate(_Input):
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ] = "api"
    expires_at: Moment | None = Field(
        default=None, description="When the token stops working; none: until revoked"
    )


class TokenPublic(BaseModel):
    id: int
    person_id: int
    name: str
    prefix: str = Field(
        description="First characters of the token, to tell tokens apart"
    )
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The token itself: shown once, store it now")


class SiteCreate(_Input):
    id: Slug
    name: Name
    address: Annotated[str, StringConstraints(max_length=300)] = ""
    # Strict: pydantic would read `false` as 0.0, a point in the Gulf of Guinea.
    latitude: StrictFloat | None = Field(default=None, ge=-90, le=90)
    longitude: StrictFloat | None = Field(default=None, ge=-180, le=180)
    host_organisation_id: Slug | None = None
    description: Text = ""
    photos: list[Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=list, max_length=20, description="Photo URLs"
    )


class SitePublic(BaseModel):
    id: str
    name: str
    address: str
    latitude: float | None
    longitude: float | None
    host_organisation_id: str | None
    description: str
    photos: list[str]


class SensorCreate(_Input):
    key: SensorKey
    quantity: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    unit: Annotated[str, StringConstraints(min_length=1, max_length=30)]


class SensorPublic(BaseModel):
    id: int
    key: str
    quantity: str
    unit: str


class DeviceCreate(_Input):
    id: Slug = Field(description="Device id; also its MQTT username and client id")
    site_id: Slug
    organisation_id: Slug | None = Field(
        default=None,
        description="Owner; a partner's devices always belong to their organisation",
    )
    description: Text = ""
    sensors: list[SensorCreate] = Field(min_length=1, max_length=64)


class DevicePublic(BaseModel):
    id: str
    site_id: str
    organisation_id: str | None
    description: str
    revoked: bool
    sensors: list[SensorPublic]
    online: bool | None = Field(
        description="From the last heartbeat; null: never heard"
    )
    last_seen: datetime | None
    outbox_depth: int | None
    clock_synced: bool | None
    clock_offset_ms: float | None
    agent_version: str | None
    completeness: float | None = Field(
        description="Share of the device's batch sequence numbers received (0-1)"
    )
    batches_received: int


class DeviceCredentialsPublic(BaseModel):
    device_id: str
    username: str
    client_id: str
    password: str = Field(description="Shown once; the platform keeps no copy")


class PartnerLink(_Input):
    organisation_id: Slug
    role: Annotated[str, StringConstraints(max_length=200)] = ""


def check_trial_ranges(
    trl_start: int | None,
    trl_target: int | None,
    starts_on: date | None,
    ends_on: date | None,
) -> None:
    if trl_start is not None and trl_target is not None and trl_target < trl_start:
        raise ValueError("trl_target must not be below trl_start")
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise ValueError("ends_on must not be before starts_on")


TRL = Annotated[int, Field(ge=1, le=9, description="Technology readiness level, 1-9")]


class TrialCreate(_Input):
    title: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)
    ]
    organisation_id: Slug | None = Field(
        default=None,
        description="Defaults to the organisation of the person registering",
    )
    technology: Name
    technology_description: Text = ""
    trl_start: TRL
    trl_target: TRL
    starts_on: Day
    ends_on: Day
    site_ids: list[Slug] = Field(default_factory=list, max_length=50)
    partners: list[PartnerLink] = Field(default_factory=list, max_length=50)
    success_criteria: Text = ""
    data_sharing_terms: Text = ""
    personal_data: StrictBool = False

    @model_validator(mode="after")
    def _ranges(self) -> TrialCreate:
        check_trial_ranges(
            self.trl_start, self.trl_target, self.starts_on, self.ends_on
        )
        return self


class TrialUpdate(_Input):
    """Changes to a trial; a field left out or null stays as it is."""

    title: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)
        ]
        | None
    ) = None
    technology: Name | None = None
    technology_description: Text | None = None
    trl_start: TRL | None = None
    trl_target: TRL | None = None
    starts_on: Day | None = None
    ends_on: Day | None = None
    site_ids: list[Slug] | None = Field(default=None, max_length=50)
    partners: list[PartnerLink] | None = Field(default=None, max_length=50)
    success_criteria: Text | None = None
    data_sharing_terms: Text | None = None
    personal_data: StrictBool | None = None

    @model_validator(mode="after")
    def _ranges(self) -> TrialUpdate:
        check_trial_ranges(
            self.trl_start, self.trl_target, self.starts_on, self.ends_on
        )
        return self


class AssignmentCreate(_Input):
    device_id: Slug
    starts_at: Moment
    ends_at: Moment

    @model_validator(mode="after")
    def _order(self) -> AssignmentCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class AssignmentPublic(BaseModel):
    id: int
    trial_id: int
    device_id: str
    starts_at: datetime
    ends_at: datetime


class TrialPublic(BaseModel):
    id: int
    title: str
    organisation_id: str
    technology: str
    technology_description: str
    trl_start: int
    trl_target: int
    starts_on: date
    ends_on: date
    site_ids: list[str]
    partners: list[PartnerLink]
    devices: list[AssignmentPublic]
    success_criteria: str
    data_sharing_terms: str
    personal_data: bool
    state: State
    state_reason: str | None
    actions: list[Action] = Field(
        description="Transitions the person asking may make now"
    )
    created_at: datetime
    updated_at: datetime


class TransitionRequest(_Input):
    action: Action
    reason: Reason = ""


class AuditEntryPublic(BaseModel):
    time: datetime
    actor: str = Field(
        description="Who: a person's name and e-mail, or the command line"
    )
    object_type: str
    object_id: str
    action: str
    reason: str | None
    details: dict[str, object]


class GrantCreate(_Input):
    organisation_id: Slug
    starts_at: Moment
    ends_at: Moment
    reason: Text = ""

    @model_validator(mode="after")
    def _order(self) -> GrantCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class GrantPublic(BaseModel):
    id: int
    trial_id: int
    organisation_id: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    revoked: bool


class Interval(StrEnum):
    """Resolution of a data query; `auto` picks one from the range."""

    auto = "auto"
    raw = "raw"
    m1 = "1m"
    m5 = "5m"
    m15 = "15m"
    h1 = "1h"
    h6 = "6h"
    d1 = "1d"


class PointPublic(BaseModel):
    time: datetime
    value: float | None = Field(default=None, description="Raw reading (raw interval)")
    count: int | None = None
    mean: float | None = None
    min: float | None = None
    max: float | None = None


class SeriesPublic(BaseModel):
    sensor_id: int
    device_id: str
    key: str
    quantity: str
    unit: str
    points: list[PointPublic]


class DataPublic(BaseModel):
    start: datetime
    end: datetime
    interval: Interval = Field(description="The resolution used (never `auto`)")
    source: str = Field(description="Table read: readings, readings_1m or readings_1h")
    series: list[SeriesPublic]
