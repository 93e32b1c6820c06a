"""The database roles: each service logs in as its own user, a member of one group role.

Migration 006 creates the group roles and grants them exactly what their service's queries need;
they cannot log in. `create_login` makes (or re-passwords) the login user a deployment gives a
service. A login is an ordinary user: never a superuser, never able to create roles or databases,
so a stolen service password reaches only what that one service may do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from enum import StrEnum

from psycopg import sql

from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import ConfigurationError

__all__ = ["ServiceRole", "create_login", "scram_verifier"]

# PostgreSQL's own default for the verifiers it makes (scram_iterations, PostgreSQL 16).
SCRAM_ITERATIONS = 4096


class ServiceRole(StrEnum):
    """A group role of migration 006, by the service that holds it."""

    API = "api"
    INGEST = "ingest"
    READONLY = "readonly"

    @property
    def group(self) -> str:
        return f"livinglab_{self.value}"


def scram_verifier(password: str, *, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802, RFC 7677).

    Made here, so the password itself never reaches the server: not its statement log, not an
    error message that quotes the statement.
    """
    if not password.isascii() or not password.isprintable():
        # PostgreSQL runs non-ASCII passwords through SASLprep, which this does not.
        raise ConfigurationError(
            "a database password must be printable ASCII", field="password"
        )
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt).decode()}"
        f"${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


def create_login(
    conn: Connection, *, name: str, role: ServiceRole, password: str
) -> bool:
    """Make `name` a login user in `role`'s group with `password`; True when it was created.

    An existing user gets the new password and the group; one that is a superuser, may create
    roles or databases, or is itself a group role of 006, is refused rather than demoted.
    """
    existing = conn.execute(
        "SELECT rolsuper OR rolcreaterole OR rolcreatedb, rolcanlogin FROM pg_roles"
        " WHERE rolname = %s",
        (name,),
    ).fetchone()
    if name in {r.group for r in ServiceRole} or (
        existing is not None and (existing[0] or not existing[1])
    ):
        raise ConfigurationError(
            f"{name!r} is a privileged or group role; a service needs a login of its own",
            field="name",
        )
    verifier = sql.Literal(scram_verifier(password))
    user = sql.Identifier(name)
    if existing is None:
        conn.execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}"
            ).format(user, verifier)
        )
    else:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(user, verifier))
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role.group), user))
    return existing is None
