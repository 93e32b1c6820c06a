"""The ecosystem: organisations, the people in them, and the tokens people sign in with."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from livinglab_platform import audit
from livinglab_platform.access import Principal, require_operator
from livinglab_platform.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
)
from livinglab_platform.models import (
    MOL_FAMILY,
    Kind,
    OrganisationCreate,
    OrganisationPublic,
    PersonCreate,
    PersonPublic,
    Role,
    TokenCreate,
    TokenCreated,
    TokenPublic,
)

__all__ = [
    "authenticate",
    "create_organisation",
    "create_person",
    "create_token",
    "get_organisation",
    "list_organisations",
    "list_people",
    "list_tokens",
    "revoke_token",
]

TOKEN_PREFIX = "ll_"
_PREFIX_CHARS = 10


def _hash(token: str) -> bytes:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force
    # that a slow password hash would protect.
    return hashlib.sha256(token.encode()).digest()


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
    conn: psycopg.Connection[Any],
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


def get_organisation(
    conn: psycopg.Connection[Any], organisation_id: str
) -> OrganisationPublic:
    """One organisation; every signed-in person may see the ecosystem."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT * FROM organisations WHERE id = %s", (organisation_id,)
        ).fetchone()
    if row is None:
        raise NotFoundError(f"organisation {organisation_id!r} not found")
    return _organisation(row)


def list_organisations(conn: psycopg.Connection[Any]) -> list[OrganisationPublic]:
    """Every organisation, by name."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT * FROM organisations ORDER BY name").fetchall()
    return [_organisation(r) for r in rows]


def create_person(
    conn: psycopg.Connection[Any], principal: Principal, *, person: PersonCreate
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


def list_people(
    conn: psycopg.Connection[Any], principal: Principal
) -> list[PersonPublic]:
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


def _token(row: tuple[Any, ...]) -> TokenPublic:
    return TokenPublic(
        id=row[0],
        person_id=row[1],
        name=row[2],
        prefix=row[3],
        created_at=row[4],
        expires_at=row[5],
        last_used_at=row[6],
        revoked_at=row[7],
    )


_TOKEN_COLUMNS = (
    "id, person_id, name, prefix, created_at, expires_at, last_used_at, revoked_at"
)


def create_token(
    conn: psycopg.Connection[Any],
    principal: Principal,
    *,
    person_id: int,
    token: TokenCreate,
) -> TokenCreated:
    """Create a token for a person (themselves, or anyone for an operator); shown once."""
    if person_id != principal.person_id:
        require_operator(principal, "create tokens for other people")
    if (
        conn.execute("SELECT 1 FROM people WHERE id = %s", (person_id,)).fetchone()
        is None
    ):
        raise NotFoundError(f"person {person_id} not found")
    if token.expires_at is not None and token.expires_at.tzinfo is None:
        token = token.model_copy(
            update={"expires_at": token.expires_at.replace(tzinfo=UTC)}
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with conn.transaction():
        row = conn.execute(
            f"INSERT INTO tokens (person_id, name, prefix, hash, expires_at)"
            f" VALUES (%s, %s, %s, %s, %s) RETURNING {_TOKEN_COLUMNS}",
            (
                person_id,
                token.name,
                secret[:_PREFIX_CHARS],
                _hash(secret),
                token.expires_at,
            ),
        ).fetchone()
        assert row is not None
        audit.record(
            conn,
            principal,
            object_type="token",
            object_id=row[0],
            action="create",
            details={"person_id": person_id, "name": token.name},
        )
    return TokenCreated(**_token(row).model_dump(), token=secret)


def list_tokens(
    conn: psycopg.Connection[Any], principal: Principal, *, person_id: int | None = None
) -> list[TokenPublic]:
    """A person's tokens (never the secrets); operators may list anyone's."""
    person_id = principal.person_id if person_id is None else person_id
    if person_id != principal.person_id:
        require_operator(principal, "list other people's tokens")
    rows = conn.execute(
        f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE person_id = %s ORDER BY id",
        (person_id,),
    ).fetchall()
    return [_token(r) for r in rows]


def revoke_token(
    conn: psycopg.Connection[Any], principal: Principal, *, token_id: int
) -> TokenPublic:
    """Revoke a token at once: one's own, or any for an operator."""
    row = conn.execute(
        "SELECT person_id FROM tokens WHERE id = %s", (token_id,)
    ).fetchone()
    if row is None or (row[0] != principal.person_id and not principal.is_operator):
        raise NotFoundError(f"token {token_id} not found")
    with conn.transaction():
        updated = conn.execute(
            f"UPDATE tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s"
            f" RETURNING {_TOKEN_COLUMNS}",
            (token_id,),
        ).fetchone()
        assert updated is not None
        audit.record(
            conn, principal, object_type="token", object_id=token_id, action="revoke"
        )
    return _token(updated)


def authenticate(conn: psycopg.Connection[Any], token: str) -> Principal:
    """The person a token belongs to; AuthenticationError if it is unknown, revoked or expired."""
    row = conn.execute(
        "UPDATE tokens t SET last_used_at = now() FROM people p"
        " WHERE t.hash = %s AND p.id = t.person_id"
        " RETURNING p.id, p.name, p.organisation_id, p.role, t.revoked_at, t.expires_at",
        (_hash(token),),
    ).fetchone()
    if row is None:
        raise AuthenticationError(
            "unknown token; sign in with a token an operator gave you"
        )
    if row[4] is not None:
        raise AuthenticationError("this token was revoked; ask for a new one")
    if row[5] is not None and row[5] <= datetime.now(UTC):
        raise AuthenticationError("this token has expired; create a new one")
    return Principal(
        person_id=row[0], name=row[1], organisation_id=row[2], role=Role(row[3])
    )


def check_same_organisation(
    principal: Principal, organisation_id: str | None, what: str
) -> None:
    """Refuse a partner acting for another organisation than their own."""
    if not principal.is_operator and organisation_id != principal.organisation_id:
        raise ForbiddenError(f"partners may {what} only for their own organisation")
