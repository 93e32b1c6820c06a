"""Device assignments: a device working for a trial during a sub-period, which opens its data."""

from __future__ import annotations

from psycopg.rows import class_row

from livinglab_platform import audit
from livinglab_platform.access import (
    Principal,
    require_own_device,
    require_trial_editor,
    trial_visibility_sql,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from livinglab_platform.trials.lifecycle import OPEN_STATES
from livinglab_platform.trials.registration import find_trial
from livinglab_platform.trials.schemas import AssignmentCreate, AssignmentPublic

__all__ = ["assign_device", "device_assignments", "unassign_device"]


def _check_open_trial(
    conn: Connection, principal: Principal, trial_id: int, what: str
) -> None:
    trial = find_trial(conn, principal, trial_id)
    require_trial_editor(principal, trial.organisation_id, what)
    if trial.state not in OPEN_STATES:
        raise ConflictError(
            f"trial {trial_id} is '{trial.state.value}'; devices can no longer change"
        )


def assign_device(
    conn: Connection,
    principal: Principal,
    trial_id: int,
    *,
    assignment: AssignmentCreate,
) -> AssignmentPublic:
    """Put a device to work for a trial during a sub-period (partners: their own devices)."""
    _check_open_trial(conn, principal, trial_id, "assign devices")
    owner = conn.execute(
        "SELECT organisation_id FROM devices WHERE id = %s", (assignment.device_id,)
    ).fetchone()
    if owner is None:
        raise InvalidInputError(
            f"device {assignment.device_id!r} does not exist", field="device_id"
        )
    require_own_device(
        principal,
        device_id=assignment.device_id,
        device_organisation_id=owner[0],
        what="assign it",
    )
    with (
        conn.transaction(),
        conn.cursor(row_factory=class_row(AssignmentPublic)) as cur,
    ):
        created = cur.execute(
            "INSERT INTO trial_devices (trial_id, device_id, starts_at, ends_at)"
            " VALUES (%s, %s, %s, %s) RETURNING id, trial_id, device_id, starts_at, ends_at",
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
    return created


def unassign_device(
    conn: Connection,
    principal: Principal,
    trial_id: int,
    *,
    assignment_id: int,
) -> None:
    """Remove a device assignment from a trial that is still open (partners: their own devices)."""
    _check_open_trial(conn, principal, trial_id, "remove devices")
    assigned = conn.execute(
        "SELECT td.device_id, d.organisation_id FROM trial_devices td"
        " JOIN devices d ON d.id = td.device_id WHERE td.id = %s AND td.trial_id = %s",
        (assignment_id, trial_id),
    ).fetchone()
    if assigned is None:
        raise NotFoundError(f"assignment {assignment_id} not found on trial {trial_id}")
    device_id, owner = assigned
    require_own_device(
        principal,
        device_id=device_id,
        device_organisation_id=owner,
        what="remove it from the trial",
    )
    with conn.transaction():
        conn.execute("DELETE FROM trial_devices WHERE id = %s", (assignment_id,))
        audit.record(
            conn,
            principal,
            object_type="trial",
            object_id=trial_id,
            action="unassign_device",
            details={"assignment_id": assignment_id, "device_id": device_id},
        )


def device_assignments(
    conn: Connection, principal: Principal, device_id: str
) -> list[tuple[int, str, str, AssignmentPublic]]:
    """(trial id, title, state, assignment) of the device's work in trials the principal sees."""
    condition, params = trial_visibility_sql(principal)
    rows = conn.execute(
        "SELECT t.id, t.title, t.state, td.id, td.starts_at, td.ends_at"
        "  FROM trial_devices td JOIN trials t ON t.id = td.trial_id"
        f" WHERE td.device_id = %(device)s AND {condition}"
        " ORDER BY td.starts_at DESC",
        {**params, "device": device_id},
    ).fetchall()
    return [
        (
            trial_id,
            title,
            state,
            AssignmentPublic(
                id=assignment_id,
                trial_id=trial_id,
                device_id=device_id,
                starts_at=starts_at,
                ends_at=ends_at,
            ),
        )
        for trial_id, title, state, assignment_id, starts_at, ends_at in rows
    ]
