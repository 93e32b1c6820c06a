"""Tokens people sign in with, and authentication: which person a token belongs to."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from livinglab_platform import audit
from livinglab_platform.access import Principal, require_operator
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import AuthenticationError, NotFoundError
from livinglab_platform.registry.schemas import (
    Role,
    TokenCreate,
    TokenCreated,
    TokenPublic,
)

__all__ = [
    "TOKEN_COOKIE",
    "TOKEN_PREFIX",
    "authenticate",
    "create_token",
    "list_tokens",
    "revoke_token",
]

TOKEN_PREFIX = "ll_"
# The cookie in which the web pages keep a signed-in person's token (HttpOnly, SameSite=Strict).
TOKEN_COOKIE = "livinglab_token"
_PREFIX_CHARS = 10


def _hash(token: str) -> bytes:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force
    # that a slow password hash would protect.
    return hashlib.sha256(token.encode()).digest()


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
    conn: Connection,
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
    conn: Connection, principal: Principal, *, person_id: int | None = None
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
    conn: Connection, principal: Principal, *, token_id: int
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


def authenticate(conn: Connection, token: str) -> Principal:
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
