"""Trials: registration, editing, lifecycle, audit trail, device assignments and grants."""

from __future__ import annotations

from fastapi import APIRouter, status

from livinglab_platform import audit
from livinglab_platform.api.deps import ConnDep, CurrentPrincipal
from livinglab_platform.audit import AuditEntryPublic
from livinglab_platform.trials import assignments, grants, registration, transitions
from livinglab_platform.trials.schemas import (
    AssignmentCreate,
    AssignmentPublic,
    GrantCreate,
    GrantPublic,
    State,
    TransitionRequest,
    TrialCreate,
    TrialPublic,
    TrialUpdate,
)

router = APIRouter(tags=["trials"])


@router.get("/trials")
def list_trials(
    conn: ConnDep, principal: CurrentPrincipal, state: State | None = None
) -> list[TrialPublic]:
    """Trials visible to you, newest first; `state` filters (e.g. the approval queue: submitted)."""
    return registration.list_trials(conn, principal, state=state)


@router.post("/trials", status_code=status.HTTP_201_CREATED)
def create_trial(
    conn: ConnDep, principal: CurrentPrincipal, trial: TrialCreate
) -> TrialPublic:
    """Register a trial as a draft."""
    return registration.create_trial(conn, principal, trial=trial)


@router.get("/trials/{trial_id}")
def read_trial(
    conn: ConnDep, principal: CurrentPrincipal, trial_id: int
) -> TrialPublic:
    """One trial, with the transitions you may make now."""
    return registration.get_trial(conn, principal, trial_id)


@router.patch("/trials/{trial_id}")
def update_trial(
    conn: ConnDep, principal: CurrentPrincipal, trial_id: int, changes: TrialUpdate
) -> TrialPublic:
    """Edit a draft or submitted trial."""
    return registration.update_trial(conn, principal, trial_id, changes=changes)


@router.post("/trials/{trial_id}/transitions")
def transition_trial(
    conn: ConnDep,
    principal: CurrentPrincipal,
    trial_id: int,
    request: TransitionRequest,
) -> TrialPublic:
    """Move the trial along its lifecycle (submit, approve, reject, ..., withdraw)."""
    return transitions.transition(conn, principal, trial_id, request=request)


@router.get("/trials/{trial_id}/audit")
def read_audit(
    conn: ConnDep, principal: CurrentPrincipal, trial_id: int
) -> list[AuditEntryPublic]:
    """Every change of the trial: who, when, what, why."""
    registration.find_trial(conn, principal, trial_id)
    return audit.list_entries(conn, object_type="trial", object_id=trial_id)


@router.post("/trials/{trial_id}/devices", status_code=status.HTTP_201_CREATED)
def assign_device(
    conn: ConnDep,
    principal: CurrentPrincipal,
    trial_id: int,
    assignment: AssignmentCreate,
) -> AssignmentPublic:
    """Assign a device to the trial for a sub-period."""
    return assignments.assign_device(conn, principal, trial_id, assignment=assignment)


@router.delete(
    "/trials/{trial_id}/devices/{assignment_id}", status_code=status.HTTP_204_NO_CONTENT
)
def unassign_device(
    conn: ConnDep, principal: CurrentPrincipal, trial_id: int, assignment_id: int
) -> None:
    """Remove a device assignment."""
    assignments.unassign_device(conn, principal, trial_id, assignment_id=assignment_id)


@router.get("/trials/{trial_id}/grants")
def list_grants(
    conn: ConnDep, principal: CurrentPrincipal, trial_id: int
) -> list[GrantPublic]:
    """Organisations given read access to the trial's data."""
    return grants.list_grants(conn, principal, trial_id)


@router.post("/trials/{trial_id}/grants", status_code=status.HTTP_201_CREATED)
def create_grant(
    conn: ConnDep, principal: CurrentPrincipal, trial_id: int, grant: GrantCreate
) -> GrantPublic:
    """Give another organisation read access to the trial's data of a period (operators)."""
    return grants.create_grant(conn, principal, trial_id, grant=grant)


@router.delete("/trials/{trial_id}/grants/{grant_id}")
def revoke_grant(
    conn: ConnDep, principal: CurrentPrincipal, trial_id: int, grant_id: int
) -> GrantPublic:
    """End a grant now (operators)."""
    return grants.revoke_grant(conn, principal, trial_id, grant_id=grant_id)
