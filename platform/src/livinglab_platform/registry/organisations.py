"""Organisations of the city's digital ecosystem."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg.rows import class_row

from livinglab_platform import audit
from livinglab_platform.access import Principal, require_operator
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import ConflictError, NotFoundError
from livinglab_platform.registry.schemas import (
    MOL_FAMILY,
    OrganisationCreate,
    OrganisationPublic,
)

__all__ = [
    "create_organisation",
    "get_organisation",
    "list_organisations",
    "organisation_names",
]


# The MOL family is a property of the kind, decided here rather than stored, so it cannot drift.
_ORGANISATIONS = """
SELECT id, name, kind, coalesce(description, '') AS description,
       coalesce(website, '') AS website, kind = ANY(%(mol_family)s) AS mol_family
  FROM organisations"""
_FAMILY = {"mol_family": sorted(MOL_FAMILY)}
_ORGANISATION_ROW = class_row(OrganisationPublic)


def create_organisation(
    conn: Connection,
    principal: Principal,
    *,
    organisation: OrganisationCreate,
) -> OrganisationPublic:
    """Add an organisation of the ecosystem (operators only)."""
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
    with conn.cursor(row_factory=_ORGANISATION_ROW) as cur:
        found = cur.execute(
            f"{_ORGANISATIONS} WHERE id = %(id)s", {**_FAMILY, "id": organisation_id}
        ).fetchone()
    if found is None:
        raise NotFoundError(f"organisation {organisation_id!r} not found")
    return found


def list_organisations(conn: Connection) -> list[OrganisationPublic]:
    """Every organisation, by name."""
    with conn.cursor(row_factory=_ORGANISATION_ROW) as cur:
        return cur.execute(f"{_ORGANISATIONS} ORDER BY name", _FAMILY).fetchall()


def organisation_names(conn: Connection, ids: Iterable[str | None]) -> dict[str, str]:
    """The names of the organisations with these ids (a page names only what it shows)."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT id, name FROM organisations WHERE id = ANY(%s)", (wanted,)
    ).fetchall()
    return {str(row_id): str(name) for row_id, name in rows}
