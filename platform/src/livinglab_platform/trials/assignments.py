"""Device assignments: a device working for a trial during a sub-period, which opens its data."""

from __future__ import annotations

from livinglab_platform import audit
from livinglab_platform.access import Principal
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RegistryError,
)
from livinglab_platform.trials.lifecycle import OPEN_STATES
from livinglab_platform.trials.registration import _may_edit, _row
from livinglab_platform.trials.schemas import AssignmentCreate, AssignmentPublic, State

__all__ = ["assign_device", "unassign_device"]


def assign_device(
    conn: Connection,
    principal: Principal,
    trial_id: int,
    *,
    assignment: AssignmentCreate,
) -> AssignmentPublic:
    """Put a device to work for a trial during a sub-period.

    Partners may assign only devices their organisation owns: an assignment opens data.
    """
    row = _row(conn, principal, trial_id)
    if not _may_edit(principal, row):
        raise ForbiddenError(
            "only the trial's organisation and operators may assign devices"
        )
    if State(row["state"]) not in OPEN_STATES:
        raise ConflictError(
            f"trial {trial_id} is '{row['state']}'; devices can no longer change"
        )
    device = conn.execute(
        "SELECT organisation_id FROM devices WHERE id = %s", (assignment.device_id,)
    ).fetchone()
    if device is None:
        raise RegistryError(
            f"device {assignment.device_id!r} does not exist (device_id)"
        )
    if not principal.is_operator and device[0] != principal.organisation_id:
        raise ForbiddenError(
            f"device {assignment.device_id!r} belongs to another organisation; ask an operator"
            " to assign it"
        )
    with conn.transaction():
        created = conn.execute(
            "INSERT INTO trial_devices (trial_id, device_id, starts_at, ends_at)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            (trial_id, assignment.device_id, assignment.starts_at, assignment.ends_at),
        ).fetchone()
        assert created is not None
        audit.record(
            conn,
            principal,
            object_type="trial",
            object_id=trial_id,
            action="assign_device",
            details=assignment.model_dump(mode="json"),
        )
    return AssignmentPublic(id=created[0], trial_id=trial_id, **assignment.model_dump())


def unassign_device(
    conn: Connection,
    principal: Principal,
    trial_id: int,
    *,
    assignment_id: int,
) -> None:
    """Remove a device assignment from a trial that is still open."""
    row = _row(conn, principal, trial_id)
    if not _may_edit(principal, row):
        raise ForbiddenError(
            "only the trial's organisation and operators may remove devices"
        )
    if State(row["state"]) not in OPEN_STATES:
        raise ConflictError(
            f"trial {trial_id} is '{row['state']}'; devices can no longer change"
        )
    assigned = conn.execute(
        "SELECT td.device_id, d.organisation_id FROM trial_devices td"
        " JOIN devices d ON d.id = td.device_id WHERE td.id = %s AND td.trial_id = %s",
        (assignment_id, trial_id),
    ).fetchone()
    if assigned is None:
        raise NotFoundError(f"assignment {assignment_id} not found on trial {trial_id}")
    # As with assigning: a partner's own devices only. A device an operator lent to the trial
    # stays part of its record unless an operator removes it.
    if not principal.is_operator and assigned[1] != principal.organisation_id:
        raise ForbiddenError(
            f"device {assigned[0]!r} belongs to another organisation; ask an operator to"
            " remove it from the trial"
        )
    with conn.transaction():
        deleted = conn.execute(
            "DELETE FROM trial_devices WHERE id = %s RETURNING device_id",
            (assignment_id,),
        ).fetchone()
        assert deleted is not None
        audit.record(
            conn,
            principal,
            object_type="trial",
            object_id=trial_id,
            action="unassign_device",
            details={"assignment_id": assignment_id, "device_id": deleted[0]},
        )
