"""Grants: read access to a trial's data of a period, given to another organisation by operators."""

from __future__ import annotations

from psycopg.rows import class_row

from livinglab_platform import audit
from livinglab_platform.access import Principal, require_operator
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import InvalidInputError, NotFoundError
from livinglab_platform.trials.registration import find_trial
from livinglab_platform.trials.schemas import GrantCreate, GrantPublic

__all__ = ["create_grant", "list_grants", "revoke_grant"]


_GRANT_COLUMNS = (
    "id, trial_id, organisation_id, starts_at, ends_at, reason,"
    " revoked_at IS NOT NULL AS revoked"
)
_GRANT_ROW = class_row(GrantPublic)


def create_grant(
    conn: Connection,
    principal: Principal,
    trial_id: int,
    *,
    grant: GrantCreate,
) -> GrantPublic:
    """Give another organisation read access to a trial's data of a period (operators only)."""
    find_trial(conn, principal, trial_id)
    require_operator(principal, "grant access to a trial's data")
    if (
        conn.execute(
            "SELECT 1 FROM organisations WHERE id = %s", (grant.organisation_id,)
        ).fetchone()
        is None
    ):
        raise InvalidInputError(
            f"organisation {grant.organisation_id!r} does not exist",
            field="organisation_id",
        )
    with conn.transaction(), conn.cursor(row_factory=_GRANT_ROW) as cur:
        row = cur.execute(
            "INSERT INTO grants (trial_id, organisation_id, starts_at, ends_at, reason, granted_by)"
            f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_GRANT_COLUMNS}",
            (
                trial_id,
                grant.organisation_id,
                grant.starts_at,
                grant.ends_at,
                grant.reason,
                principal.person_id,
            ),
        ).fetchone()
        assert row is not None
        audit.record(
            conn,
            principal,
            object_type="trial",
            object_id=trial_id,
            action="grant",
            reason=grant.reason or None,
            details={"grant_id": row.id, **grant.model_dump(mode="json")},
        )
    return row


def list_grants(
    conn: Connection, principal: Principal, trial_id: int
) -> list[GrantPublic]:
    """A trial's grants, for whoever may see the trial."""
    find_trial(conn, principal, trial_id)
    with conn.cursor(row_factory=_GRANT_ROW) as cur:
        return cur.execute(
            f"SELECT {_GRANT_COLUMNS} FROM grants WHERE trial_id = %s ORDER BY id",
            (trial_id,),
        ).fetchall()


def revoke_grant(
    conn: Connection, principal: Principal, trial_id: int, *, grant_id: int
) -> GrantPublic:
    """End a grant at once (operators only)."""
    find_trial(conn, principal, trial_id)
    require_operator(principal, "revoke grants")
    with conn.transaction(), conn.cursor(row_factory=_GRANT_ROW) as cur:
        row = cur.execute(
            "UPDATE grants SET revoked_at = coalesce(revoked_at, now())"
            f" WHERE id = %s AND trial_id = %s RETURNING {_GRANT_COLUMNS}",
            (grant_id, trial_id),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"grant {grant_id} not found on trial {trial_id}")
        audit.record(
            conn,
            principal,
            object_type="trial",
            object_id=trial_id,
            action="revoke_grant",
            details={"grant_id": grant_id},
        )
    return row
