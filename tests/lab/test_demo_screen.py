"""The demo's first screen is for a person: log records (migrations applied, seed steps) go to the
log file under `.lab/logs/`, not to the terminal."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import psycopg

from tests.conftest import PostgresServer

# As `livinglab demo` runs it: the CLI's logging set-up (INFO to the terminal), then the demo's
# routing around the schema's migration, the step that printed a line per migration.
_MIGRATE = """
import logging, sys
from pathlib import Path
from livinglab_lab.demo.logs import LOG_FORMAT, log_to_file
from livinglab_platform.core import db
logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
with log_to_file(Path(sys.argv[2])):
    applied = db.upgrade(sys.argv[1])
print(f"schema up to date ({len(applied)} migration(s) applied now)")
"""


def test_migrations_log_to_the_file_not_the_screen(
    postgres_server: PostgresServer, tmp_path: Path
):
    name = f"demo_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.base_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    log = tmp_path / "lab" / "logs" / "demo.log"
    try:
        ran = subprocess.run(
            [sys.executable, "-c", _MIGRATE, postgres_server.dsn(name), str(log)],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        with psycopg.connect(postgres_server.base_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
    screen = ran.stdout + ran.stderr
    assert "INFO" not in screen, screen
    assert "migration(s) applied now" in ran.stdout
    assert "applying migration 000_extension.sql" in log.read_text()
