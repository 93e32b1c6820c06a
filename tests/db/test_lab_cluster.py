"""The lab's PostgreSQL (demo, benchmarks, these tests) lets nobody in without a password."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from livinglab_lab.services import Postgres
from tests.conftest import PostgresServer


@pytest.fixture
def cluster(postgres_server: PostgresServer) -> Iterator[Postgres]:
    """The lab's cluster the tests run on, or one of its own under LIVINGLAB_TEST_DSN."""
    if postgres_server.server is not None:
        yield postgres_server.server
        return
    server = Postgres.create(
        Path(tempfile.mkdtemp(prefix="livinglab-test-")) / "pg", durable=False
    )
    server.start()
    try:
        yield server
    finally:
        server.stop(mode="immediate")


def _connect(cluster: Postgres, **credentials: str) -> None:
    # No password file and no PGPASSWORD: only what is given here may be offered.
    with psycopg.connect(
        host="127.0.0.1",
        port=cluster.port,
        dbname="postgres",
        passfile=os.devnull,
        **credentials,
    ):
        pass


@pytest.mark.parametrize("user", ["postgres", "root", "nobody"])
def test_a_tcp_connection_without_a_password_is_refused(cluster, monkeypatch, user):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with pytest.raises(psycopg.OperationalError, match="password"):
        _connect(cluster, user=user)


def test_a_wrong_password_is_refused(cluster):
    with pytest.raises(
        psycopg.OperationalError, match="password authentication failed"
    ):
        _connect(cluster, user="postgres", password="postgres")
    _connect(cluster, user="postgres", password=cluster.password)


def test_every_rule_asks_for_a_scram_password(cluster):
    with psycopg.connect(cluster.dsn()) as conn:
        rules = conn.execute(
            "SELECT type, auth_method, error FROM pg_hba_file_rules"
        ).fetchall()
        stored = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'"
        ).fetchone()
    assert rules, "pg_hba.conf has no rules"
    assert {(method, error) for _, method, error in rules} == {("scram-sha-256", None)}
    assert stored is not None
    assert str(stored[0]).startswith("SCRAM-SHA-256$")


def test_the_superuser_password_is_kept_for_its_owner_only(cluster):
    assert stat.S_IMODE(cluster.password_file.stat().st_mode) == 0o600
    assert cluster.password_file.read_text().strip() == cluster.password
