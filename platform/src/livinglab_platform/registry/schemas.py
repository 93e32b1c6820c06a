"""The registry's schemas: organisations, people, tokens, sites, sensors and devices."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StrictFloat, StringConstraints

from livinglab_platform.core.schema import (
    EndMoment,
    Input,
    Name,
    SensorKey,
    Slug,
    Text,
)

__all__ = [
    "MOL_FAMILY",
    "ConfigChange",
    "ConfigState",
    "DeliveryBucketPublic",
    "DeliveryGapPublic",
    "DeliveryPublic",
    "DeviceConfigPublic",
    "DeviceCreate",
    "DeviceCredentialsPublic",
    "DeviceEventPublic",
    "DevicePublic",
    "Interval",
    "Kind",
    "OrganisationCreate",
    "OrganisationPublic",
    "PersonCreate",
    "PersonPublic",
    "QuarantineEntryPublic",
    "Role",
    "SensorChange",
    "SensorCreate",
    "SensorPublic",
    "SiteCreate",
    "SitePublic",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
]


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


class OrganisationCreate(Input):
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


class PersonCreate(Input):
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


class TokenCreate(Input):
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ] = "api"
    expires_at: EndMoment | None = Field(
        default=None,
        description="Its last day (Ljubljana, included) or the exact moment it stops working;"
        " none: until revoked",
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


class SiteCreate(Input):
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


class SensorCreate(Input):
    key: SensorKey
    quantity: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    unit: Annotated[str, StringConstraints(min_length=1, max_length=30)]


class SensorPublic(BaseModel):
    id: int
    key: str
    quantity: str
    unit: str


class DeviceCreate(Input):
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
        description="The last status said online and came less than `silent_after_s` ago"
        " (registry/fleet.py); null: never heard"
    )
    silent_after_s: float = Field(
        description="How long after its last heartbeat the device counts as silent (offline)"
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


# Delivery problems and remote configuration (registry/delivery.py, registry/remote_config.py).


class QuarantineEntryPublic(BaseModel):
    id: int
    received_at: datetime
    topic: str
    device_id: str | None
    seq: int | None
    claimed_seq: int | None = Field(
        description="The seq an undecodable batch claimed in its readable header"
    )
    reason: str
    readings: int | None
    payload_bytes: int
    payload_head: str = Field(description="The payload's first 32 bytes, in hex")


class DeviceEventPublic(BaseModel):
    time: datetime
    type: str
    revision: int | None
    count: int | None
    message: str | None


class Interval(StrEnum):
    """The buckets of a delivery report."""

    hour = "hour"
    day = "day"


class DeliveryBucketPublic(BaseModel):
    start: datetime
    batches: int
    readings: int
    expected: int | None = Field(
        description="Seqs this bucket's batches account for: from after the previous bucket's"
        " highest seq to its own highest; null when nothing arrived"
    )
    completeness: float | None


class DeliveryGapPublic(BaseModel):
    first_missing: int
    last_missing: int
    missing: int
    after_time: datetime = Field(description="When the batch before the gap arrived")
    before_time: datetime = Field(description="When the batch after the gap arrived")
    quarantined: list[int] = Field(
        description="Quarantine entries whose claimed seq lies in the gap (visible ones)"
    )


class DeliveryPublic(BaseModel):
    device_id: str
    start: datetime
    end: datetime
    interval: Interval
    batches: int
    expected: int
    completeness: float | None
    buckets: list[DeliveryBucketPublic]
    gaps: list[DeliveryGapPublic]


class SensorChange(Input):
    """A sensor's schedule to change: the fields left out keep their desired value."""

    enabled: bool | None = None
    interval_s: float | None = None


class ConfigChange(Input):
    """A change to a device's desired configuration; bounds are the agent's (wire.DesiredConfig)."""

    batch_size: int | None = None
    batch_max_age_s: float | None = None
    heartbeat_interval_s: float | None = None
    # As many sensors as a device may register (DeviceCreate.sensors).
    sensors: dict[str, SensorChange] = Field(default_factory=dict, max_length=64)


class ConfigState(StrEnum):
    """Where the desired configuration stands on the device."""

    none = "none"  # nothing desired yet
    pending = "pending"  # published, the device has not answered
    applied = "applied"
    refused = "refused"


class DeviceConfigPublic(BaseModel):
    device_id: str
    revision: int | None
    desired: dict[str, object] | None = Field(
        description="The document published, retained, on the device's config topic"
    )
    set_at: datetime | None
    set_by: str | None
    reported_revision: int | None = Field(
        description="The revision in force, from the device's last status"
    )
    state: ConfigState
    message: str | None = Field(
        description="The device's answer to this revision: what it applied, or why it refused"
    )
    answered_at: datetime | None
