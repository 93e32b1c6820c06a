"""The trials' schemas: a trial, its partners, device assignments, transitions and grants."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StrictBool, StringConstraints, model_validator

from livinglab_platform.core.schema import (
    Day,
    Input,
    Name,
    PeriodInput,
    Reason,
    Slug,
    Text,
)

__all__ = [
    "TRIAL_FIELDS",
    "Action",
    "AssignmentCreate",
    "AssignmentPublic",
    "GrantCreate",
    "GrantPublic",
    "Outcome",
    "PartnerLink",
    "State",
    "TransitionRequest",
    "TrialCreate",
    "TrialPublic",
    "TrialRangeError",
    "TrialUpdate",
    "check_trial_ranges",
    "trial_range_errors",
]

# The columns of `trials` that a person fills in; the record adds links (sites, partners, devices)
# and the state. Registration, editing, the web form and the API all read this one list.
TRIAL_FIELDS = (
    "title",
    "technology",
    "technology_description",
    "trl_start",
    "trl_target",
    "starts_on",
    "ends_on",
    "success_criteria",
    "data_sharing_terms",
    "personal_data",
)


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


class Outcome(StrEnum):
    """What came of a completed trial (GOVERNANCE.md: the lab's first outcome indicator)."""

    continued = "continued"
    scaled = "scaled"
    procured = "procured"
    stopped = "stopped"


class PartnerLink(Input):
    organisation_id: Slug
    role: Annotated[str, StringConstraints(max_length=200)] = ""


class TrialRangeError(ValueError):
    """A range of a trial is upside down; `field` is its upper end, where a person would fix it."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


# The ranges a trial must keep in order: (lower end, upper end, how the upper may not relate).
TRIAL_RANGES = (
    ("trl_start", "trl_target", "must not be below"),
    ("starts_on", "ends_on", "must not be before"),
)


def trial_range_errors(values: Mapping[str, Any]) -> list[TrialRangeError]:
    """Every range of `values` that is upside down; an end that is missing or None is no range."""
    errors = []
    for low, high, relation in TRIAL_RANGES:
        first, last = values.get(low), values.get(high)
        if first is not None and last is not None and last < first:
            errors.append(TrialRangeError(f"{high} {relation} {low}", field=high))
    return errors


def check_trial_ranges(values: Mapping[str, Any]) -> None:
    """Raise the first TrialRangeError of `values`."""
    for error in trial_range_errors(values):
        raise error


TRL = Annotated[int, Field(ge=1, le=9, description="Technology readiness level, 1-9")]


class TrialCreate(Input):
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
        check_trial_ranges(self.__dict__)
        return self


class TrialUpdate(Input):
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
        check_trial_ranges(self.__dict__)
        return self


class AssignmentCreate(PeriodInput):
    device_id: Slug


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
    outcome: Outcome | None = Field(
        default=None, description="What came of it, recorded when it completed"
    )
    actions: list[Action] = Field(
        description="Transitions the person asking may make now"
    )
    created_at: datetime
    updated_at: datetime


class TransitionRequest(Input):
    action: Action
    reason: Reason = ""
    outcome: Outcome | None = Field(
        default=None,
        description="With `complete` only: continued, scaled, procured or stopped",
    )


class GrantCreate(PeriodInput):
    organisation_id: Slug
    reason: Text = ""


class GrantPublic(BaseModel):
    id: int
    trial_id: int
    organisation_id: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    revoked: bool
