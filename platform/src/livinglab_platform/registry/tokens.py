"""Tokens people sign in with, and authentication: which person a token belongs to."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from psycopg.rows import class_row

from livinglab_platform import audit
from livinglab_platform.access import (
    Principal,
    require_token_owner,
    require_visible_token,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from livinglab_platform.registry.schemas import (
    Role,
    TokenCreate,
    TokenCreated,
    TokenPublic,
)

__all__ = [
    "MAX_ACTIVE_TOKENS",
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
# Tokens a person may hold at once (neither revoked nor expired): enough for every device and
# script a person runs, and a bound on what a stolen token can mint.
MAX_ACTIVE_TOKENS = 20


def _hash(token: str) -> bytes:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force
    # that a slow password hash would protect.
    return hashlib.sha256(token.encode()).digest()


_TOKEN_COLUMNS = (
    "id, person_id, name, prefix, created_at, expires_at, last_used_at, revoked_at"
)
_TOKEN_ROW = class_row(TokenPublic)


@dataclass(frozen=True)
class _Holder:
    """Whom a presented token belongs to, and whether it still works."""

    token_id: int
    person_id: int
    name: str
    organisation_id: str
    role: Role
    revoked_at: datetime | None
    expires_at: datetime | None


def _parent_expiry(
    conn: Connection, principal: Principal, token: TokenCreate
) -> TokenCreate:
    """The token with an expiry no later than its parent's, the token the principal signed in with.

    The parent's row stays locked (FOR SHARE) until the caller's transaction ends, so it cannot be
    revoked between this check and the child's insert, and a revocation that came first is seen.
    """
    if principal.token_id is None:
        return token  # the command line: an operator at the terminal, no parent
    row = conn.execute(
        "SELECT expires_at FROM tokens WHERE id = %s AND revoked_at IS NULL FOR SHARE",
        (principal.token_id,),
    ).fetchone()
    if row is None:
        raise AuthenticationError("this token was revoked; ask for a new one")
    parent_expires: datetime | None = row[0]
    if parent_expires is None:
        return token
    if token.expires_at is None:
        return token.model_copy(update={"expires_at": parent_expires})
    if token.expires_at > parent_expires:
        raise InvalidInputError(
            "a token expires no later than the token that creates it"
            f" ({parent_expires.isoformat()})",
            field="expires_at",
        )
    return token


# Any constant works: it names the lock space of "a person's active tokens".
_TOKEN_ROOM_LOCK = 7_204_612


def _require_room(conn: Connection, person_id: int) -> None:
    # A lock per person until the transaction ends, so two concurrent creations cannot both take
    # the last place. An advisory lock, not FOR UPDATE on the person's row: the API's database
    # role may read people but not change them, and FOR UPDATE needs the right to change.
    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_TOKEN_ROOM_LOCK, person_id))
    row = conn.execute(
        "SELECT count(*) FROM tokens WHERE person_id = %s AND revoked_at IS NULL"
        " AND (expires_at IS NULL OR expires_at > now())",
        (person_id,),
    ).fetchone()
    if row is not None and row[0] >= MAX_ACTIVE_TOKENS:
        raise ConflictError(
            f"person {person_id} already holds {row[0]} active tokens, the most one may hold;"
            " revoke one first",
            field="person_id",
        )


def create_token(
    conn: Connection,
    principal: Principal,
    *,
    person_id: int,
    token: TokenCreate,
) -> TokenCreated:
    """Create a token for a person (themselves, or anyone for an operator); shown once.

    A token created with another token (through the API) is its child: it expires no later than
    its parent and is revoked with it. A person holds at most MAX_ACTIVE_TOKENS active tokens.
    """
    require_token_owner(principal, person_id, "create tokens for other people")
    if (
        conn.execute("SELECT 1 FROM people WHERE id = %s", (person_id,)).fetchone()
        is None
    ):
        raise NotFoundError(f"person {person_id} not found")
    if token.expires_at is not None and token.expires_at.tzinfo is None:
        token = token.model_copy(
            update={"expires_at": token.expires_at.replace(tzinfo=UTC)}
        )
    if token.expires_at is not None and token.expires_at <= datetime.now(UTC):
        # A token that never works is a mistake (the fuzzer's "0001-01-01"), not a request.
        raise InvalidInputError("expires_at must be in the future", field="expires_at")
    token = _parent_expiry(conn, principal, token)
    _require_room(conn, person_id)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with conn.transaction(), conn.cursor(row_factory=_TOKEN_ROW) as cur:
        row = cur.execute(
            f"INSERT INTO tokens (person_id, name, prefix, hash, expires_at, parent_id)"
            f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_TOKEN_COLUMNS}",
            (
                person_id,
                token.name,
                secret[:_PREFIX_CHARS],
                _hash(secret),
                token.expires_at,
                principal.token_id,
            ),
        ).fetchone()
        assert row is not None
        audit.record(
            conn,
            principal,
            object_type="token",
            object_id=row.id,
            action="create",
            details={"person_id": person_id, "name": token.name},
        )
    return TokenCreated(**row.model_dump(), token=secret)


def list_tokens(
    conn: Connection, principal: Principal, *, person_id: int | None = None
) -> list[TokenPublic]:
    """A person's tokens (never the secrets); operators may list anyone's."""
    person_id = principal.person_id if person_id is None else person_id
    require_token_owner(principal, person_id, "list other people's tokens")
    with conn.cursor(row_factory=_TOKEN_ROW) as cur:
        return cur.execute(
            f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE person_id = %s ORDER BY id",
            (person_id,),
        ).fetchall()


def revoke_token(
    conn: Connection, principal: Principal, *, token_id: int
) -> TokenPublic:
    """Revoke a token at once: one's own, or any for an operator."""
    owner = conn.execute(
        "SELECT person_id FROM tokens WHERE id = %s", (token_id,)
    ).fetchone()
    require_visible_token(
        principal, token_id=token_id, owner_id=None if owner is None else owner[0]
    )
    with conn.transaction(), conn.cursor(row_factory=_TOKEN_ROW) as cur:
        updated = cur.execute(
            f"UPDATE tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s"
            f" RETURNING {_TOKEN_COLUMNS}",
            (token_id,),
        ).fetchone()
        assert updated is not None
        # A statement of its own, after the one above waited for any child being created with
        # this token (its FOR SHARE lock): its fresh snapshot sees that child too.
        descendants = conn.execute(
            "WITH RECURSIVE line AS ("
            " SELECT id FROM tokens WHERE parent_id = %s"
            " UNION SELECT t.id FROM tokens t JOIN line ON t.parent_id = line.id)"
            " UPDATE tokens SET revoked_at = now() FROM line"
            " WHERE tokens.id = line.id AND tokens.revoked_at IS NULL RETURNING tokens.id",
            (token_id,),
        ).fetchall()
        audit.record(
            conn,
            principal,
            object_type="token",
            object_id=token_id,
            action="revoke",
            details={"with_children": sorted(r[0] for r in descendants)}
            if descendants
            else None,
        )
    return updated


def authenticate(conn: Connection, token: str) -> Principal:
    """The person a token belongs to; AuthenticationError if it is unknown, revoked or expired."""
    with conn.cursor(row_factory=class_row(_Holder)) as cur:
        holder = cur.execute(
            "UPDATE tokens t SET last_used_at = now() FROM people p"
            " WHERE t.hash = %s AND p.id = t.person_id"
            " RETURNING t.id AS token_id, p.id AS person_id, p.name, p.organisation_id, p.role,"
            " t.revoked_at, t.expires_at",
            (_hash(token),),
        ).fetchone()
    if holder is None:
        raise AuthenticationError(
            "unknown token; sign in with a token an operator gave you"
        )
    if holder.revoked_at is not None:
        raise AuthenticationError("this token was revoked; ask for a new one")
    if holder.expires_at is not None and holder.expires_at <= datetime.now(UTC):
        raise AuthenticationError("this token has expired; create a new one")
    return Principal(
        person_id=holder.person_id,
        name=holder.name,
        organisation_id=holder.organisation_id,
        role=Role(holder.role),
        token_id=holder.token_id,
    )
