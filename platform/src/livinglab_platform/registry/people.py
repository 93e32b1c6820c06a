"""The people of the ecosystem's organisations, each with a role."""

from __future__ import annotations

import psycopg

from livinglab_platform import audit
from livinglab_platform.access import Principal, require_operator
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import ConflictError
from livinglab_platform.registry.organisations import get_organisation
from livinglab_platform.registry.schemas import PersonCreate, PersonPublic, Role

__all__ = ["create_person", "list_people"]


def create_person(
    conn: Connection, principal: Principal, *, person: PersonCreate
) -> PersonPublic:
    """Add a person to an organisation (operators only); the caller commits."""
    require_operator(principal, "add people")
    get_organisation(conn, person.organisation_id)
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO people (organisation_id, name, email, role) VALUES (%s, %s, %s, %s)"
                " RETURNING id",
                (
                    person.organisation_id,
                    person.name,
                    person.email.lower(),
                    person.role.value,
                ),
            ).fetchone()
            assert row is not None
            audit.record(
                conn,
                principal,
                object_type="person",
                object_id=row[0],
                action="create",
                details={
                    "email": person.email.lower(),
                    "role": person.role.value,
                    "organisation_id": person.organisation_id,
                },
            )
    except psycopg.errors.UniqueViolation as exc:
        raise ConflictError(
            f"a person with e-mail {person.email!r} already exists"
        ) from exc
    return PersonPublic(
        id=int(row[0]),
        organisation_id=person.organisation_id,
        name=person.name,
        email=person.email.lower(),
        role=person.role,
    )


def list_people(conn: Connection, principal: Principal) -> list[PersonPublic]:
    """Operators see everyone; others see the people of their own organisation."""
    condition, params = (
        ("true", {})
        if principal.is_operator
        else ("organisation_id = %(org)s", {"org": principal.organisation_id})
    )
    rows = conn.execute(
        f"SELECT id, organisation_id, name, email, role FROM people WHERE {condition} ORDER BY name",
        params,
    ).fetchall()
    return [
        PersonPublic(
            id=r[0], organisation_id=r[1], name=r[2], email=r[3], role=Role(r[4])
        )
        for r in rows
    ]
