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
    "DeviceCreate",
    "DeviceCredentialsPublic",
    "DevicePublic",
    "Kind",
    "OrganisationCreate",
    "OrganisationPublic",
    "PersonCreate",
    "PersonPublic",
    "Role",
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
