"""The governance record's schemas: forms, the council, applications, evidence, and what is computed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from livinglab_platform.core.schema import Day, Input, Moment, Name, Slug, Text

__all__ = [
    "Amount",
    "ApplicationCreate",
    "ApplicationPublic",
    "ApplicationStatus",
    "ApplicationUpdate",
    "CouncilMemberCreate",
    "CouncilMemberPublic",
    "CouncilMemberUpdate",
    "CountedRecord",
    "CriterionPublic",
    "DecisionCreate",
    "DecisionKind",
    "DecisionPublic",
    "EvidenceCreate",
    "EvidencePublic",
    "FormCreate",
    "FormKind",
    "FormMember",
    "FormMemberPublic",
    "FormPublic",
    "FormUpdate",
    "IndicatorPublic",
    "IndicatorsPublic",
    "LabIndicatorsPublic",
    "MeetingCreate",
    "MeetingPublic",
    "MilestonePublic",
    "MolRole",
    "Quality",
    "RecordKind",
    "StatusEntry",
    "VerdictPublic",
]

Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class FormKind(StrEnum):
    """Kinds of organisational form the strategy counts (GOVERNANCE.md)."""

    mol_family = "mol_family"  # collaborative governance within the MOL family
    horizontal = "horizontal"  # with other cities or city networks
    vertical = "vertical"  # with regional or national institutions
    living_lab_partnership = "living_lab_partnership"


class DecisionKind(StrEnum):
    """The council adopts strategic and programme directions."""

    strategic = "strategic"
    programme = "programme"


class MolRole(StrEnum):
    coordinator = "coordinator"
    partner = "partner"
    associated = "associated"


class ApplicationStatus(StrEnum):
    """in_preparation -> submitted -> granted / rejected / withdrawn (applications.py)."""

    in_preparation = "in_preparation"
    submitted = "submitted"
    granted = "granted"
    rejected = "rejected"
    withdrawn = "withdrawn"


class Quality(StrEnum):
    """Evidence levels, best first (GOVERNANCE.md, after U4SSC's verification practice)."""

    verified = "verified"  # documented, and checked by a named person on a date
    documented = "documented"  # a file or link is attached
    self_reported = "self_reported"  # a statement only


class RecordKind(StrEnum):
    """The records evidence can be attached to."""

    form = "form"
    meeting = "meeting"
    application = "application"


# --- evidence -------------------------------------------------------------------------------------

Url = Annotated[
    str,
    StringConstraints(max_length=1000, pattern=r"^https?://[^\s]+$"),
    Field(examples=["https://www.ljubljana.si/sl/zapisnik-2025-03.pdf"]),
]


class EvidenceCreate(Input):
    record: RecordKind
    record_id: int = Field(ge=1, le=2**31 - 1)
    title: Name = Field(examples=["Minutes of the 3rd session"])
    url: Url | None = Field(
        default=None, description="A link: the evidence is documented"
    )
    statement: Text = Field(
        default="", description="Without a link, a statement only: self-reported"
    )

    @model_validator(mode="after")
    def _something(self) -> EvidenceCreate:
        if self.url is None and not self.statement.strip():
            raise ValueError("give a url or a statement")
        return self


class EvidencePublic(BaseModel):
    id: int
    record: RecordKind
    record_id: int
    title: str
    url: str | None
    statement: str
    quality: Quality
    verified_by: str | None = Field(description="Who checked it, once checked")
    verified_at: datetime | None
    file_name: str | None = Field(default=None, description="The stored file's name")
    file_media_type: str | None = Field(
        default=None, description="Its type, read from its content"
    )
    file_bytes: int | None = Field(default=None, description="Its size")
    file_sha256: str | None = Field(
        default=None, description="Its SHA-256, hex: compare a copy with it"
    )


# --- organisational forms -------------------------------------------------------------------------


class FormMember(Input):
    organisation_id: Slug
    role: Label = ""


class FormMemberPublic(BaseModel):
    organisation_id: str
    name: str
    kind: str
    role: str


class FormCreate(Input):
    kind: FormKind
    name: Name
    description: Text = ""
    starts_on: Day
    ends_on: Day | None = Field(
        default=None, description="Last active day (inclusive); none: still active"
    )
    members: list[FormMember] = Field(min_length=1, max_length=100)


class FormUpdate(Input):
    """Changes to a form; a field left out or null stays as it is."""

    name: Name | None = None
    description: Text | None = None
    starts_on: Day | None = None
    ends_on: Day | None = Field(default=None, description="Ends the form on this day")
    members: list[FormMember] | None = Field(default=None, min_length=1, max_length=100)


class FormPublic(BaseModel):
    id: int
    kind: FormKind
    name: str
    description: str
    starts_on: date
    ends_on: date | None
    members: list[FormMemberPublic]
    evidence: list[EvidencePublic]


# --- the Strategic Council ------------------------------------------------------------------------


class CouncilMemberCreate(Input):
    name: Name
    organisation_id: Slug | None = None
    role: Label = ""
    term_starts_on: Day
    term_ends_on: Day | None = None


class CouncilMemberUpdate(Input):
    """Changes to a member; a field left out or null stays as it is."""

    name: Name | None = None
    role: Label | None = None
    term_ends_on: Day | None = None


class CouncilMemberPublic(BaseModel):
    id: int
    name: str
    organisation_id: str | None
    role: str
    term_starts_on: date
    term_ends_on: date | None


class DecisionCreate(Input):
    kind: DecisionKind
    text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)
    ]


class DecisionPublic(BaseModel):
    id: int
    kind: DecisionKind
    text: str


class MeetingCreate(Input):
    held_at: Moment = Field(description="When; its Ljubljana date decides the year")
    place: Label = ""
    agenda: Text = ""
    attendee_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        default_factory=list, max_length=100
    )
    decisions: list[DecisionCreate] = Field(default_factory=list, max_length=100)


class MeetingPublic(BaseModel):
    id: int
    held_at: datetime
    held_on: date = Field(description="The Ljubljana date of the meeting")
    place: str
    agenda: str
    attendees: list[CouncilMemberPublic]
    decisions: list[DecisionPublic]
    evidence: list[EvidencePublic]


# --- co-financed project applications -------------------------------------------------------------

Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2, description="EUR, to the cent"),
]


class StatusEntry(Input):
    status: ApplicationStatus
    on: Day = Field(description="The Ljubljana date of the change")
    note: Label = ""


class _PartnerLink(Input):
    organisation_id: Slug
    role: Label = ""


class ApplicationCreate(Input):
    programme: Name = Field(examples=["Horizon Europe"])
    call: Label = Field(default="", examples=["HORIZON-MISS-2025-CIT-01"])
    title: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)
    ]
    acronym: Label = ""
    mol_role: MolRole
    total_budget: Amount
    mol_share: Amount
    partners: list[_PartnerLink] = Field(default_factory=list, max_length=100)
    trial_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        default_factory=list, max_length=50, description="Trials it funds"
    )
    status_history: list[StatusEntry] = Field(
        default_factory=list,
        max_length=20,
        description="Oldest first; none: in preparation from today",
    )


class ApplicationUpdate(Input):
    """Changes to an application; a field left out or null stays as it is. `status_history`
    replaces the whole history (to correct it); adding one status is POST .../status."""

    programme: Name | None = None
    call: Label | None = None
    title: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)
        ]
        | None
    ) = None
    acronym: Label | None = None
    mol_role: MolRole | None = None
    total_budget: Amount | None = None
    mol_share: Amount | None = None
    partners: list[_PartnerLink] | None = Field(default=None, max_length=100)
    trial_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(
        default=None, max_length=50
    )
    status_history: list[StatusEntry] | None = Field(
        default=None, min_length=1, max_length=20
    )


class ApplicationPublic(BaseModel):
    id: int
    programme: str
    call: str
    title: str
    acronym: str
    mol_role: MolRole
    total_budget: Decimal
    mol_share: Decimal
    partners: list[FormMemberPublic]
    trial_ids: list[int] = Field(description="The funded trials you may see")
    status: ApplicationStatus
    submitted_on: date | None
    status_history: list[StatusEntry]
    evidence: list[EvidencePublic]


# --- what is computed -----------------------------------------------------------------------------


class CountedRecord(BaseModel):
    """A record that counts toward an indicator, with its evidence."""

    record: str = Field(
        description="form, meeting, application, or a milestone criterion"
    )
    record_id: int | str
    label: str
    on: date | None = Field(description="The date that made it count, if one did")
    quality: Quality = Field(
        description="Its best evidence; self_reported when it has none"
    )
    evidence: list[EvidencePublic]


class IndicatorPublic(BaseModel):
    key: str
    name: str
    name_sl: str
    type: str = Field(
        description="input, process, output or outcome (Huovila et al. 2019)"
    )
    value: int
    target: int
    target_text: str
    met: bool
    self_reported_only: bool = Field(
        description="Met, but the records with documented or verified evidence alone fall short"
    )
    records: list[CountedRecord]


class VerdictPublic(BaseModel):
    key: str = Field(examples=["partially_achieved"])
    sl: str = Field(examples=["Cilj je delno dosežen"])
    en: str = Field(examples=["The goal is partially achieved"])
    rule: str


class LabIndicatorsPublic(BaseModel):
    """The lab's own indicators: shown beside the strategy's, never part of its verdict."""

    trials_started: int
    trials_completed: int
    helix_partners: dict[str, int] = Field(
        description="Active partner organisations per quadruple-helix sector"
    )
    helix_shares: dict[str, float]
    outcomes: dict[str, int] = Field(
        description="Completed trials by outcome; `unrecorded` without one"
    )
    continued_scaled_procured_share: float | None = Field(
        description="Of the trials completed with an outcome recorded"
    )
    applications_granted: int
    funds_won_total: Decimal
    funds_won_mol: Decimal


class IndicatorsPublic(BaseModel):
    year: int
    as_of: date = Field(
        description="The year's last day, or today for the current year"
    )
    indicators: list[IndicatorPublic]
    verdict: VerdictPublic
    lab: LabIndicatorsPublic


class CriterionPublic(BaseModel):
    key: str
    description: str
    threshold: str
    source: str
    met: bool
    value: str = Field(description="What was found")
    facts: list[str] = Field(description="The records that show it")
    evidence: list[EvidencePublic]
    first_met_on: date | None = Field(
        description="The first day it was met, up to as_of"
    )
    missing: str | None = Field(description="For a criterion not met: what is missing")


class MilestonePublic(BaseModel):
    as_of: date
    achieved: bool
    criteria: list[CriterionPublic]
