"""Database connections and schema migrations (ordered SQL files, each applied once)."""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

import psycopg

from livinglab_platform.core.errors import ConfigurationError, MigrationError

__all__ = ["Connection", "connect", "migrations", "pending", "upgrade"]

logger = logging.getLogger(__name__)

# Every connection of the platform, whatever opened it; typed rows come from row factories.
Connection = psycopg.Connection[tuple[Any, ...]]

# Any constant key works: it only serialises concurrent `db upgrade` runs.
_MIGRATION_LOCK = 7_204_611


def connect(dsn: str, **kwargs: object) -> Connection:
    """Open a connection, turning connection failures into a message a person can act on."""
    try:
        return psycopg.connect(dsn, **kwargs)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        raise ConfigurationError(
            f"cannot connect to the database ({exc}); check LIVINGLAB_DATABASE_URL"
        ) from exc


def migrations() -> list[tuple[str, str]]:
    """The (name, sql) of every migration shipped with the package, in order."""
    folder = resources.files("livinglab_platform") / "migrations"
    files = sorted(f.name for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in files]


def pending(conn: Connection) -> list[str]:
    """The migrations shipped with this version that the database has not applied."""
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
        return [name for name, _ in migrations()]
    applied = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    return [name for name, _ in migrations() if name not in applied]


def _check_timescaledb(conn: Connection) -> None:
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    if available is None:
        raise ConfigurationError(
            "TimescaleDB is not installed on the database server; run scripts/install-system.sh "
            "(or install the timescaledb package for your PostgreSQL version)"
        )
    preload = conn.execute("SHOW shared_preload_libraries").fetchone()
    if preload is None or "timescaledb" not in str(preload[0]):
        raise ConfigurationError(
            "TimescaleDB is installed but not preloaded: add shared_preload_libraries = 'timescaledb' "
            "to postgresql.conf and restart the server"
        )


def upgrade(dsn: str) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction; return their names."""
    applied_now = []
    with connect(dsn, autocommit=True) as conn:
        _check_timescaledb(conn)
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                row[0] for row in conn.execute("SELECT name FROM schema_migrations")
            }
            for name, sql in migrations():
                if name in done:
                    continue
                logger.info("applying migration %s", name)
                try:
                    with conn.transaction():
                        conn.execute(sql.encode())
                        conn.execute(
                            "INSERT INTO schema_migrations (name) VALUES (%s)", (name,)
                        )
                except psycopg.Error as exc:
                    raise MigrationError(f"migration {name} failed: {exc}") from exc
                applied_now.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return applied_now
