"""Organisations of the city's digital ecosystem."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from livinglab_platform import audit
from livinglab_platform.access import Principal, require_operator
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import ConflictError, NotFoundError
from livinglab_platform.registry.schemas import (
    MOL_FAMILY,
    Kind,
    OrganisationCreate,
    OrganisationPublic,
)

__all__ = ["create_organisation", "get_organisation", "list_organisations"]


def _organisation(row: dict[str, Any]) -> OrganisationPublic:
    kind = Kind(row["kind"])
    return OrganisationPublic(
        id=row["id"],
        name=row["name"],
        kind=kind,
        description=row["description"] or "",
        website=row["website"] or "",
        mol_family=kind in MOL_FAMILY,
    )


def create_organisation(
    conn: Connection,
    principal: Principal,
    *,
    organisation: OrganisationCreate,
) -> OrganisationPublic:
    """Add an organisation of the ecosystem (operators only); the caller commits."""
    require_operator(principal, "add organisations")
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO organisations (id, name, kind, description, website)"
                " VALUES (%s, %s, %s, %s, %s)",
                (
                    organisation.id,
                    organisation.name,
                    organisation.kind.value,
                    organisation.description,
                    organisation.website,
                ),
            )
            audit.record(
                conn,
                principal,
                object_type="organisation",
                object_id=organisation.id,
                action="create",
                details={"name": organisation.name, "kind": organisation.kind.value},
            )
    except psycopg.errors.UniqueViolation as exc:
        raise ConflictError(f"organisation {organisation.id!r} already exists") from exc
    return get_organisation(conn, organisation.id)


def get_organisation(conn: Connection, organisation_id: str) -> OrganisationPublic:
    """One organisation; every signed-in person may see the ecosystem."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT * FROM organisations WHERE id = %s", (organisation_id,)
        ).fetchone()
    if row is None:
        raise NotFoundError(f"organisation {organisation_id!r} not found")
    return _organisation(row)


def list_organisations(conn: Connection) -> list[OrganisationPublic]:
    """Every organisation, by name."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT * FROM organisations ORDER BY name").fetchall()
    return [_organisation(r) for r in rows]
