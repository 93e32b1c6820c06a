"""Organisational forms linking stakeholders: the MOL family, other cities, regional and national
institutions, and the living lab's partnerships; each with members, an active period and evidence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

from psycopg.rows import dict_row

from livinglab_platform import audit
from livinglab_platform.access import (
    Principal,
    require_record_keeper,
    require_record_reader,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import InvalidInputError, NotFoundError
from livinglab_platform.governance.evidence import evidence_for
from livinglab_platform.governance.schemas import (
    FormCreate,
    FormKind,
    FormPublic,
    FormUpdate,
    RecordKind,
)

__all__ = ["check_members", "create_form", "get_form", "list_forms", "update_form"]


class _Member(Protocol):
    organisation_id: str
    role: str


def check_members(conn: Connection, members: Sequence[_Member], *, field: str) -> None:
    """Every member organisation exists and is listed once."""
    ids = [m.organisation_id for m in members]
    if len(set(ids)) != len(ids):
        raise InvalidInputError("each organisation may be listed once", field=field)
    known = {
        r[0]
        for r in conn.execute("SELECT id FROM organisations WHERE id = ANY(%s)", (ids,))
    }
    for organisation_id in ids:
        if organisation_id not in known:
            raise InvalidInputError(
                f"organisation {organisation_id!r} does not exist", field=field
            )


_FORMS = """
SELECT f.id, f.kind, f.name, f.description, f.starts_on, f.ends_on,
       coalesce((SELECT json_agg(json_build_object('organisation_id', o.id, 'name', o.name,
                                                   'kind', o.kind, 'role', m.role) ORDER BY o.id)
                   FROM governance_form_members m JOIN organisations o ON o.id = m.organisation_id
                  WHERE m.form_id = f.id), '[]') AS members
  FROM governance_forms f"""


def _public(conn: Connection, rows: list[dict[str, Any]]) -> list[FormPublic]:
    evidence = evidence_for(conn, RecordKind.form, (r["id"] for r in rows))
    return [
        FormPublic.model_validate({**r, "evidence": evidence[r["id"]]}) for r in rows
    ]


def list_forms(
    conn: Connection,
    principal: Principal,
    *,
    kind: FormKind | None = None,
    active_on: date | None = None,
) -> list[FormPublic]:
    """Forms, oldest first; optionally of one kind, or active on a day."""
    require_record_reader(principal)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"{_FORMS} WHERE (%(kind)s::text IS NULL OR f.kind = %(kind)s)"
            " AND (%(day)s::date IS NULL OR (f.starts_on <= %(day)s"
            "      AND (f.ends_on IS NULL OR f.ends_on >= %(day)s)))"
            " ORDER BY f.starts_on, f.id",
            {"kind": kind.value if kind else None, "day": active_on},
        ).fetchall()
    return _public(conn, rows)


def get_form(conn: Connection, principal: Principal, form_id: int) -> FormPublic:
    require_record_reader(principal)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"{_FORMS} WHERE f.id = %s", (form_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"form {form_id} not found")
    return _public(conn, [row])[0]


def _write_members(conn: Connection, form_id: int, members: Sequence[_Member]) -> None:
    conn.execute("DELETE FROM governance_form_members WHERE form_id = %s", (form_id,))
    for m in members:
        conn.execute(
            "INSERT INTO governance_form_members (form_id, organisation_id, role)"
            " VALUES (%s, %s, %s)",
            (form_id, m.organisation_id, m.role),
        )


def create_form(
    conn: Connection, principal: Principal, *, form: FormCreate
) -> FormPublic:
    """Record an organisational form with its members (operators)."""
    require_record_keeper(principal, "record organisational forms")
    if form.ends_on is not None and form.ends_on < form.starts_on:
        raise InvalidInputError("ends_on must not be before starts_on", field="ends_on")
    check_members(conn, form.members, field="members")
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO governance_forms (kind, name, description, starts_on, ends_on)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (
                form.kind.value,
                form.name,
                form.description,
                form.starts_on,
                form.ends_on,
            ),
        ).fetchone()
        assert row is not None
        form_id = int(row[0])
        _write_members(conn, form_id, form.members)
        audit.record(
            conn,
            principal,
            object_type="governance_form",
            object_id=form_id,
            action="create",
            details=form.model_dump(mode="json"),
        )
    return get_form(conn, principal, form_id)


def update_form(
    conn: Connection, principal: Principal, form_id: int, *, changes: FormUpdate
) -> FormPublic:
    """Change a form: rename it, end it (`ends_on`), change its members (operators)."""
    require_record_keeper(principal, "change organisational forms")
    form = get_form(conn, principal, form_id)
    values = changes.model_dump(
        include={"name", "description", "starts_on", "ends_on"},
        exclude_unset=True,
        exclude_none=True,
    )
    starts_on = values.get("starts_on", form.starts_on)
    ends_on = values.get("ends_on", form.ends_on)
    if ends_on is not None and ends_on < starts_on:
        raise InvalidInputError(
            "ends_on must not be before starts_on",
            field="ends_on" if "ends_on" in values else "starts_on",
        )
    if changes.members is not None:
        check_members(conn, changes.members, field="members")
    with conn.transaction():
        if values:
            conn.execute(
                f"UPDATE governance_forms SET {', '.join(f'{k} = %({k})s' for k in values)}"
                " WHERE id = %(id)s",
                {**values, "id": form_id},
            )
        if changes.members is not None:
            _write_members(conn, form_id, changes.members)
        audit.record(
            conn,
            principal,
            object_type="governance_form",
            object_id=form_id,
            action="update",
            details=changes.model_dump(
                mode="json", exclude_unset=True, exclude_none=True
            ),
        )
    return get_form(conn, principal, form_id)
