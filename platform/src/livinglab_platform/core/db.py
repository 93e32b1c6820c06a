"""The database: connections, units of work, and schema migrations (ordered SQL files, each once).

One rule owns transactions. Domain functions take a connection and never commit or roll back;
their own `conn.transaction()` blocks are savepoints inside the caller's transaction. Each edge (an
API request, a web page, a CLI command, a service loop) runs its work in one `unit_of_work`, which
commits when the work ends and rolls back when it raises. A side effect outside the database (a
broker client created for a device) registers its undoing with `undo_on_rollback`, so a unit that
fails, even at its commit, leaves nothing behind on either side.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from livinglab_platform.core.errors import ConfigurationError, MigrationError

__all__ = [
    "Connection",
    "connect",
    "migrations",
    "pending",
    "undo_on_rollback",
    "unit_of_work",
    "upgrade",
]

logger = logging.getLogger(__name__)

# Every connection of the platform, whatever opened it; typed rows come from row factories.
Connection = psycopg.Connection[tuple[Any, ...]]

# The undoings registered in each connection's open unit of work, newest last. Weak keys: a
# connection dropped without ending its unit takes its list with it.
_undoings: weakref.WeakKeyDictionary[Connection, list[Callable[[], object]]] = (
    weakref.WeakKeyDictionary()
)

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


@contextmanager
def unit_of_work(conn: Connection) -> Iterator[Connection]:
    """Run the block as one transaction: commit at its end, roll back (and undo) if it raises."""
    if conn.info.transaction_status is not TransactionStatus.IDLE:
        # Inside an open transaction, `transaction()` would be a mere savepoint and nothing here
        # would commit: an edge that already started work has a bug, so say so.
        raise RuntimeError("a unit of work needs a connection with no transaction open")
    _undoings[conn] = []
    try:
        with conn.transaction():
            yield conn
    except BaseException:
        _undo(_undoings.pop(conn, []))
        raise
    _undoings.pop(conn, None)


def undo_on_rollback(conn: Connection, undo: Callable[[], object]) -> None:
    """Have the connection's unit of work call `undo` if it rolls back (outside a unit: never)."""
    pending = _undoings.get(conn)
    if pending is not None:
        pending.append(undo)


def _undo(undoings: list[Callable[[], object]]) -> None:
    for undo in reversed(undoings):
        try:
            undo()
        except Exception:
            # The failure that rolled the unit back is the one to raise; this one is logged so an
            # operator can finish the undoing by hand.
            logger.exception("could not undo a side effect of a failed transaction")


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
