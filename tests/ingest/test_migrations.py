"""`livinglab db upgrade` applies each migration once, in order, and can run again at any time."""

from __future__ import annotations

import subprocess
import sys
import uuid

import psycopg

from livinglab_platform.core import db


def test_upgrade_applies_everything_once(postgres_server):
    name = f"migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server.base_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    dsn = postgres_server.dsn(name)
    try:
        shipped = [n for n, _ in db.migrations()]
        assert shipped == sorted(shipped)
        assert db.upgrade(dsn) == shipped
        assert db.upgrade(dsn) == []
        with psycopg.connect(dsn) as conn:
            assert db.pending(conn) == []
            hypertables = {
                r[0]
                for r in conn.execute(
                    "SELECT hypertable_name FROM timescaledb_information.hypertables"
                )
            }
        assert {"readings", "readings_1m", "readings_1h", "ingest_stats"} <= hypertables
    finally:
        with psycopg.connect(postgres_server.base_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)'.encode())


def test_cli_upgrade_is_idempotent(dsn):
    command = [sys.executable, "-m", "livinglab_platform", "db", "upgrade"]
    env = {"LIVINGLAB_DATABASE_URL": dsn, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "applied 0 migration(s)" in result.stdout


def test_unreachable_database_is_a_readable_error():
    command = [sys.executable, "-m", "livinglab_platform", "db", "upgrade"]
    env = {
        "LIVINGLAB_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "cannot connect to the database" in result.stderr
    assert "LIVINGLAB_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
