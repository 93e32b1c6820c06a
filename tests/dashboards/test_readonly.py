"""The dashboards' login (livinglab_readonly) reads what a viewer may, nothing more (migration 009).

Each test is the attack of someone holding the Grafana data source's password. Before 009 the
role held SELECT on readings, the rollups, people, the audit trail and the quarantine (006).
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from livinglab_platform.core.settings import VIEWER_MIN_COUNT
from tests.dashboards.lab_data import make_lab

ATTACKS = [
    "SELECT hash FROM tokens",
    "SELECT email FROM people",
    "SELECT * FROM people",
    "SELECT * FROM readings",
    "SELECT * FROM readings_1m",
    "SELECT * FROM readings_1h",
    "SELECT * FROM viewer_cells_1h",
    "SELECT payload FROM quarantine",
    "SELECT details FROM audit_log",
    "SELECT * FROM _timescaledb_internal._hyper_1_1_chunk",
    "INSERT INTO sites (id, name) VALUES ('x', 'x')",
    "UPDATE devices SET enabled = false",
    "DELETE FROM trials",
    "SELECT viewer_cells_rebuild('-infinity', 'infinity')",
    # The milestone (migration 013): through milestone_checklist() only, its thresholds kept.
    "SELECT * FROM milestone_criteria",
    "UPDATE milestone_criteria SET needed = 0",
    # The hours of migration 012: read through their views, written by the ingest only.
    "SELECT * FROM deliveries_1h",
    "SELECT * FROM ingest_stats_1h",
    "DELETE FROM ingest_stats_1h",
    "SELECT dashboard_rollups_rebuild('-infinity', 'infinity')",
]


@pytest.mark.parametrize("statement", ATTACKS)
def test_the_dashboards_login_cannot(dsn, readonly_dsn, statement):
    with psycopg.connect(dsn) as conn:
        make_lab(conn)
    with (
        psycopg.connect(readonly_dsn) as conn,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


def test_a_leaky_function_sees_no_sparse_cell(dsn, readonly_dsn):
    """A temporary function in the WHERE clause, cheaper than the view's condition, would see
    every row if the view were not a security barrier."""
    with psycopg.connect(dsn) as conn:
        make_lab(conn)
        conn.execute(
            "INSERT INTO readings_1m (bucket, sensor_id, count, sum, min, max, sum_sq)"
            " VALUES ('2020-01-01', 1, 1, 42, 42, 42, 1764)"
        )
    with psycopg.connect(readonly_dsn) as conn:
        conn.execute(
            "CREATE FUNCTION pg_temp.leak(double precision) RETURNS boolean LANGUAGE plpgsql"
            " COST 0.0000001 AS $$ BEGIN RAISE NOTICE 'seen %', $1; RETURN true; END $$"
        )
        seen: list[str] = []
        conn.add_notice_handler(
            lambda notice: seen.append(notice.message_primary or "")
        )
        rows = conn.execute(
            "SELECT sum FROM viewer_cells_1m WHERE pg_temp.leak(sum) AND sensor_id = 1"
        ).fetchall()
        assert rows
        assert "seen 42" not in seen


def test_the_database_keeps_the_platforms_count(dsn):
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT viewer_min_count()").fetchone() == (
            VIEWER_MIN_COUNT,
        )
        assert conn.execute(
            "SELECT count(*) FROM viewer_cells_1m WHERE count < %s", (VIEWER_MIN_COUNT,)
        ).fetchone() == (0,)
