"""The people of the ecosystem's organisations, each with a role."""

from __future__ import annotations

import psycopg
from psycopg.rows import class_row

from livinglab_platform import audit
from livinglab_platform.access import (
    Principal,
    people_visibility_sql,
    require_operator,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import ConflictError, NotFoundError
from livinglab_platform.registry.organisations import get_organisation
from livinglab_platform.registry.schemas import PersonCreate, PersonPublic

__all__ = ["create_person", "get_person", "list_people"]


_PERSON_COLUMNS = "id, organisation_id, name, email, role"
_PERSON_ROW = class_row(PersonPublic)


def create_person(
    conn: Connection, principal: Principal, *, person: PersonCreate
) -> PersonPublic:
    """Add a person to an organisation (operators only)."""
    require_operator(principal, "add people")
    get_organisation(conn, person.organisation_id)
    email = person.email.lower()
    try:
        with conn.transaction(), conn.cursor(row_factory=_PERSON_ROW) as cur:
            created = cur.execute(
                "INSERT INTO people (organisation_id, name, email, role) VALUES (%s, %s, %s, %s)"
                f" RETURNING {_PERSON_COLUMNS}",
                (person.organisation_id, person.name, email, person.role.value),
            ).fetchone()
            assert created is not None
            audit.record(
                conn,
                principal,
                object_type="person",
                object_id=created.id,
                action="create",
                details={
                    "email": email,
                    "role": person.role.value,
                    "organisation_id": person.organisation_id,
                },
            )
    except psycopg.errors.UniqueViolation as exc:
        raise ConflictError(
            f"a person with e-mail {person.email!r} already exists"
        ) from exc
    return created


def list_people(conn: Connection, principal: Principal) -> list[PersonPublic]:
    """Operators see everyone; others see the people of their own organisation."""
    condition, params = people_visibility_sql(principal)
    with conn.cursor(row_factory=_PERSON_ROW) as cur:
        return cur.execute(
            f"SELECT {_PERSON_COLUMNS} FROM people WHERE {condition} ORDER BY name",
            params,
        ).fetchall()


def get_person(conn: Connection, principal: Principal, person_id: int) -> PersonPublic:
    """One person, if the principal may see them."""
    condition, params = people_visibility_sql(principal)
    with conn.cursor(row_factory=_PERSON_ROW) as cur:
        found = cur.execute(
            f"SELECT {_PERSON_COLUMNS} FROM people WHERE id = %(id)s AND {condition}",
            {**params, "id": person_id},
        ).fetchone()
    if found is None:
        raise NotFoundError(f"person {person_id} not found")
    return found
