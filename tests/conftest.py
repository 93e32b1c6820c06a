"""Fixtures: a real PostgreSQL with TimescaleDB and real Mosquitto brokers on free loopback ports.

LIVINGLAB_TEST_DSN points the tests at a running PostgreSQL (with TimescaleDB preloaded) instead;
the brokers are always started here because tests restart and kill them.

Tests set up and inspect their database as the superuser; the services under test (the API, the
ingest service, the operator's commands) connect as a login of their own role (migration 006),
as a deployment runs them: `api_dsn`, `ingest_dsn`, `readonly_dsn`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from livinglab_lab.services import Mosquitto, Postgres
from livinglab_platform.core import db
from livinglab_platform.core import dynsec as broker_admin
from livinglab_platform.core.identities import ADMIN_USER
from livinglab_platform.core.roles import ServiceRole, create_login


@dataclass
class PostgresServer:
    """The test database server: `dsn(name)` of a database on it; `server` when started here."""

    base_dsn: str
    server: Postgres | None

    def dsn(self, dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(self.base_dsn, dbname=dbname)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    external = os.environ.get("LIVINGLAB_TEST_DSN")
    if external:
        yield PostgresServer(base_dsn=external, server=None)
        return
    directory = Path(tempfile.mkdtemp(prefix="livinglab-test-"))
    server = Postgres.create(directory / "pg", durable=False)
    server.start()
    try:
        yield PostgresServer(base_dsn=server.dsn(), server=server)
    finally:
        server.stop(mode="immediate")
        shutil.rmtree(server.data_dir, ignore_errors=True)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(postgres_server: PostgresServer) -> str:
    """A migrated database that each test's database is copied from (CREATE DATABASE ... TEMPLATE)."""
    name = f"livinglab_template_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server.base_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    db.upgrade(postgres_server.dsn(name))
    # TimescaleDB starts a background-worker scheduler in every database with the extension, and
    # CREATE DATABASE ... TEMPLATE refuses a template another session is connected to ("is being
    # accessed by other users"). Its launcher skips databases that do not allow connections.
    with psycopg.connect(postgres_server.base_dsn, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'.encode())
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        )
    return name


@dataclass(frozen=True)
class Login:
    """A login user of the test server, member of one service role."""

    user: str
    password: str

    def dsn(self, dsn: str) -> str:
        """`dsn`'s database, as this user."""
        return psycopg.conninfo.make_conninfo(
            dsn, user=self.user, password=self.password
        )


def create_logins(superuser_dsn: str) -> dict[ServiceRole, Login]:
    """A login per service role on the server of `superuser_dsn` (migrated: 006 made the roles)."""
    # Roles belong to the whole server, which LIVINGLAB_TEST_DSN may share: unique names.
    suffix = uuid.uuid4().hex[:8]
    logins = {
        role: Login(f"test_{role.value}_{suffix}", secrets.token_urlsafe(16))
        for role in ServiceRole
    }
    with psycopg.connect(superuser_dsn, autocommit=True) as conn:
        for role, login in logins.items():
            create_login(conn, name=login.user, role=role, password=login.password)
    return logins


@pytest.fixture(scope="session")
def service_logins(
    postgres_server: PostgresServer, template_database: str
) -> Iterator[dict[ServiceRole, Login]]:
    """A login per service role; the roles themselves come with the template's migrations."""
    logins = create_logins(postgres_server.base_dsn)
    yield logins
    with psycopg.connect(postgres_server.base_dsn, autocommit=True) as conn:
        for login in logins.values():
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(login.user)))


class DatabaseSupply:
    """Test databases copied from the template one test ahead, and dropped, on a worker thread.

    The server is another process: on a 2-core machine its CREATE DATABASE ... TEMPLATE (30-500 ms,
    depending on how busy the disk is) and DROP DATABASE overlap the previous test instead of
    adding to each test's set-up. One worker thread keeps the statements in order; an error it
    meets is raised by `take` (a create) or `close` (a drop), never swallowed.
    """

    def __init__(self, server: PostgresServer, *, template: str) -> None:
        self._server = server
        self._template = template
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-db")
        self._drops: list[Future[None]] = []
        self._next = self._worker.submit(self._create)

    def _execute(self, statement: str) -> None:
        with psycopg.connect(self._server.base_dsn, autocommit=True) as conn:
            conn.execute(statement.encode())

    def _create(self) -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        return name

    def take(self) -> str:
        """A fresh database's name; the next one starts being copied now."""
        ready, self._next = self._next, self._worker.submit(self._create)
        return ready.result()

    def give_back(self, name: str) -> None:
        self._drops.append(
            self._worker.submit(
                self._execute, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
        )

    def close(self) -> None:
        """Drop the database copied ahead, wait for every drop, and raise the first error."""
        try:
            self.give_back(self._next.result())
        finally:
            self._worker.shutdown(wait=True)
        for drop in self._drops:
            drop.result()


@pytest.fixture(scope="session")
def database_supply(
    postgres_server: PostgresServer,
    template_database: str,
    service_logins: dict[ServiceRole, Login],
) -> Iterator[DatabaseSupply]:
    # Set up after the service logins, so torn down before them: every database is dropped
    # before the logins that may own objects in it.
    supply = DatabaseSupply(postgres_server, template=template_database)
    yield supply
    supply.close()


@pytest.fixture
def dsn(
    postgres_server: PostgresServer, database_supply: DatabaseSupply
) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    name = database_supply.take()
    yield postgres_server.dsn(name)
    database_supply.give_back(name)


@pytest.fixture
def api_dsn(dsn: str, service_logins: dict[ServiceRole, Login]) -> str:
    """The test database as the API's login (livinglab_api)."""
    return service_logins[ServiceRole.API].dsn(dsn)


@pytest.fixture
def ingest_dsn(dsn: str, service_logins: dict[ServiceRole, Login]) -> str:
    """The test database as the ingest service's login (livinglab_ingest)."""
    return service_logins[ServiceRole.INGEST].dsn(dsn)


@pytest.fixture
def readonly_dsn(dsn: str, service_logins: dict[ServiceRole, Login]) -> str:
    """The test database as a dashboard's login (livinglab_readonly)."""
    return service_logins[ServiceRole.READONLY].dsn(dsn)


@dataclass
class Broker:
    """A running test broker with the ingest and platform clients bootstrapped."""

    server: Mosquitto
    ingest_password: str
    platform_password: str

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    def admin(self) -> broker_admin.DynSec:
        return broker_admin.DynSec(
            host=self.host,
            port=self.port,
            user=ADMIN_USER,
            password=self.server.admin_password,
        )

    def add_device(self, device_id: str) -> str:
        """Create the device's broker client and role; return its password."""
        password = secrets.token_urlsafe(16)
        with self.admin() as dynsec:
            broker_admin.create_device_client(
                dynsec, device_id=device_id, password=password
            )
        return password

    def restart(self) -> None:
        self.server.stop()
        self.server.start()


@pytest.fixture
def broker() -> Iterator[Broker]:
    """A fresh Mosquitto for one test (tests stop, kill and restart it)."""
    directory = Path(tempfile.mkdtemp(prefix="livinglab-test-mqtt-"))
    server = Mosquitto.create(directory / "mqtt")
    server.start()
    try:
        result = Broker(
            server=server,
            ingest_password=secrets.token_urlsafe(16),
            platform_password=secrets.token_urlsafe(16),
        )
        with result.admin() as dynsec:
            broker_admin.bootstrap(
                dynsec,
                ingest_password=result.ingest_password,
                platform_password=result.platform_password,
            )
        yield result
    finally:
        server.kill()
        shutil.rmtree(server.directory, ignore_errors=True)
        shutil.rmtree(directory, ignore_errors=True)
