"""The audit trail: who changed what, when and why, for every object the platform manages."""

from __future__ import annotations

from datetime import datetime

from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from livinglab_platform.access import Principal
from livinglab_platform.core.db import Connection

__all__ = ["AuditEntryPublic", "list_entries", "record"]


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


def record(
    conn: Connection,
    principal: Principal,
    *,
    object_type: str,
    object_id: object,
    action: str,
    reason: str | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """Append one entry in the caller's transaction, so the change and its record commit together."""
    conn.execute(
        "INSERT INTO audit_log (actor, actor_label, object_type, object_id, action, reason, details)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            principal.person_id,
            principal.label,
            object_type,
            str(object_id),
            action,
            reason or None,
            Jsonb(details or {}),
        ),
    )


def list_entries(
    conn: Connection, *, object_type: str, object_id: object
) -> list[AuditEntryPublic]:
    """The entries of one object, oldest first."""
    with conn.cursor(row_factory=class_row(AuditEntryPublic)) as cur:
        return cur.execute(
            "SELECT a.time, coalesce(p.name || ' <' || p.email || '>', a.actor_label) AS actor,"
            " a.object_type, a.object_id, a.action, a.reason, a.details"
            " FROM audit_log a LEFT JOIN people p ON p.id = a.actor"
            " WHERE a.object_type = %s AND a.object_id = %s ORDER BY a.time, a.id",
            (object_type, str(object_id)),
        ).fetchall()
