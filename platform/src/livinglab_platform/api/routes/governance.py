"""The governance record and what is computed from it: indicators, the verdict, the milestone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from livinglab_platform import governance
from livinglab_platform.api.deps import ConnDep, CurrentPrincipal
from livinglab_platform.core.schema import Day
from livinglab_platform.governance import applications, council, evidence, forms
from livinglab_platform.governance.dates import today
from livinglab_platform.governance.schemas import (
    ApplicationCreate,
    ApplicationPublic,
    ApplicationUpdate,
    CouncilMemberCreate,
    CouncilMemberPublic,
    CouncilMemberUpdate,
    EvidenceCreate,
    EvidencePublic,
    FormCreate,
    FormKind,
    FormPublic,
    FormUpdate,
    IndicatorsPublic,
    MeetingCreate,
    MeetingPublic,
    MilestonePublic,
    StatusEntry,
)

router = APIRouter(prefix="/governance", tags=["governance"])


# A query's day as every typed day: core.schema's Day (YYYY-MM-DD, no Unix time).
IsoDay = Day

# Years the record can hold: the strategy began in the 2020s; dates stay inside Python's years.
Year = Annotated[
    int, Query(ge=2000, le=2100, description="A calendar year (Ljubljana)")
]


@router.get("/indicators")
def read_indicators(
    conn: ConnDep, principal: CurrentPrincipal, year: Year
) -> IndicatorsPublic:
    """Every indicator of the year with value, target, met and evidence; the verdict; the lab's own."""
    return governance.indicators(conn, principal, year=year)


@router.get("/milestone")
def read_milestone(
    conn: ConnDep,
    principal: CurrentPrincipal,
    as_of: Annotated[
        IsoDay | None,
        Query(
            description="The date (Ljubljana) to judge the milestone on; default today"
        ),
    ] = None,
) -> MilestonePublic:
    """The milestone "a working living lab": each criterion's state, evidence, first met, missing."""
    return governance.milestone(conn, principal, as_of=as_of or today())


@router.get("/forms")
def list_forms(
    conn: ConnDep,
    principal: CurrentPrincipal,
    kind: FormKind | None = None,
    active_on: IsoDay | None = None,
) -> list[FormPublic]:
    """Organisational forms; `kind` and `active_on` filter."""
    return forms.list_forms(conn, principal, kind=kind, active_on=active_on)


@router.post("/forms", status_code=status.HTTP_201_CREATED)
def create_form(
    conn: ConnDep, principal: CurrentPrincipal, form: FormCreate
) -> FormPublic:
    """Record an organisational form with its members (operators)."""
    return forms.create_form(conn, principal, form=form)


@router.get("/forms/{form_id}")
def read_form(conn: ConnDep, principal: CurrentPrincipal, form_id: int) -> FormPublic:
    return forms.get_form(conn, principal, form_id)


@router.patch("/forms/{form_id}")
def update_form(
    conn: ConnDep, principal: CurrentPrincipal, form_id: int, changes: FormUpdate
) -> FormPublic:
    """Change a form: end it with `ends_on`, change its members (operators)."""
    return forms.update_form(conn, principal, form_id, changes=changes)


@router.get("/council/members")
def list_members(
    conn: ConnDep, principal: CurrentPrincipal
) -> list[CouncilMemberPublic]:
    """The Strategic Council's members, past and present, with their terms."""
    return council.list_members(conn, principal)


@router.post("/council/members", status_code=status.HTTP_201_CREATED)
def add_member(
    conn: ConnDep, principal: CurrentPrincipal, member: CouncilMemberCreate
) -> CouncilMemberPublic:
    """Appoint a member for a term (operators)."""
    return council.add_member(conn, principal, member=member)


@router.patch("/council/members/{member_id}")
def update_member(
    conn: ConnDep,
    principal: CurrentPrincipal,
    member_id: int,
    changes: CouncilMemberUpdate,
) -> CouncilMemberPublic:
    """Change a member's name or role, or end their term (operators)."""
    return council.update_member(conn, principal, member_id, changes=changes)


@router.get("/council/meetings")
def list_meetings(
    conn: ConnDep, principal: CurrentPrincipal, year: Year | None = None
) -> list[MeetingPublic]:
    """The council's meetings, oldest first; `year` filters by the Ljubljana calendar year."""
    return council.list_meetings(conn, principal, year=year)


@router.post("/council/meetings", status_code=status.HTTP_201_CREATED)
def create_meeting(
    conn: ConnDep, principal: CurrentPrincipal, meeting: MeetingCreate
) -> MeetingPublic:
    """Record a meeting with attendees, agenda and decisions (operators)."""
    return council.create_meeting(conn, principal, meeting=meeting)


@router.get("/council/meetings/{meeting_id}")
def read_meeting(
    conn: ConnDep, principal: CurrentPrincipal, meeting_id: int
) -> MeetingPublic:
    return council.get_meeting(conn, principal, meeting_id)


@router.get("/applications")
def list_applications(
    conn: ConnDep, principal: CurrentPrincipal
) -> list[ApplicationPublic]:
    """Co-financed project applications, newest first."""
    return applications.list_applications(conn, principal)


@router.post("/applications", status_code=status.HTTP_201_CREATED)
def create_application(
    conn: ConnDep, principal: CurrentPrincipal, application: ApplicationCreate
) -> ApplicationPublic:
    """Record an application (operators)."""
    return applications.create_application(conn, principal, application=application)


@router.get("/applications/{application_id}")
def read_application(
    conn: ConnDep, principal: CurrentPrincipal, application_id: int
) -> ApplicationPublic:
    return applications.get_application(conn, principal, application_id)


@router.patch("/applications/{application_id}")
def update_application(
    conn: ConnDep,
    principal: CurrentPrincipal,
    application_id: int,
    changes: ApplicationUpdate,
) -> ApplicationPublic:
    """Change an application; `status_history` replaces the history (operators)."""
    return applications.update_application(
        conn, principal, application_id, changes=changes
    )


@router.post("/applications/{application_id}/status")
def add_status(
    conn: ConnDep, principal: CurrentPrincipal, application_id: int, entry: StatusEntry
) -> ApplicationPublic:
    """Add the application's next status with its date (operators)."""
    return applications.add_status(conn, principal, application_id, entry=entry)


@router.post("/evidence", status_code=status.HTTP_201_CREATED)
def add_evidence(
    conn: ConnDep, principal: CurrentPrincipal, item: EvidenceCreate
) -> EvidencePublic:
    """Attach a link (documented) or a statement (self-reported) to a record (operators)."""
    return evidence.add_evidence(conn, principal, evidence=item)


@router.post("/evidence/{evidence_id}/verify")
def verify_evidence(
    conn: ConnDep, principal: CurrentPrincipal, evidence_id: int
) -> EvidencePublic:
    """Mark a link as checked by you, now: its quality becomes verified (operators)."""
    return evidence.verify_evidence(conn, principal, evidence_id)
