"""Least privilege: each service's role holds exactly what its queries need (migration 006).

The matrix below is the property, written down a second time: a table added without a row here, or
a grant that differs from it, fails `test_each_role_holds_exactly_its_privileges`. The other tests
are the attacks, each made through a real login of the role.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors, sql

from livinglab_platform.core.errors import ConfigurationError
from livinglab_platform.core.roles import ServiceRole, create_login

API, INGEST, READONLY = ServiceRole.API, ServiceRole.INGEST, ServiceRole.READONLY
R, RA, RAW, RAD = (
    "SELECT",
    "SELECT INSERT",
    "SELECT INSERT UPDATE",
    "SELECT INSERT DELETE",
)

# Privileges per table or view: what registry/, trials/, data/, audit.py and access.py (the API)
# and ingest/ (writer, rollup, stats, registry) run, and what dashboards read: what a viewer may
# (migration 009), never the readings themselves, people or the audit trail.
MATRIX: dict[str, dict[ServiceRole, str]] = {
    "schema_migrations": {API: R, INGEST: R, READONLY: R},
    "organisations": {API: RA, READONLY: R},
    "people": {API: RA},
    "tokens": {API: RAW},
    "sites": {API: RA, READONLY: R},
    "devices": {API: RAW, INGEST: R, READONLY: R},
    "sensors": {API: RA, INGEST: R, READONLY: R},
    "trials": {API: RAW, READONLY: R},
    "trial_sites": {API: RAD, READONLY: R},
    "trial_partners": {API: RAD, READONLY: R},
    "trial_devices": {API: RAD, READONLY: R},
    "grants": {API: RAW, READONLY: R},
    "audit_log": {API: RA},
    "readings": {API: R, INGEST: "INSERT"},
    # The ingest changes minutes only through merge_minutes, with their viewer hours (011).
    "readings_1m": {API: R},
    "readings_1h": {API: R, INGEST: RAW},
    "device_status": {API: R, INGEST: RAW, READONLY: R},
    "device_events": {API: R, INGEST: "INSERT", READONLY: R},
    "deliveries": {INGEST: RA, READONLY: R},
    "delivery_gaps": {READONLY: R},
    "delivery_completeness": {API: R, READONLY: R},
    "quarantine": {INGEST: "INSERT"},
    "ingest_stats": {INGEST: "INSERT", READONLY: R},
    # The governance record (migration 007): the API writes it, and replaces link rows whole.
    "governance_forms": {API: RAW, READONLY: R},
    "governance_form_members": {API: "SELECT INSERT UPDATE DELETE", READONLY: R},
    "council_members": {API: RAW, READONLY: R},
    "council_meetings": {API: RAW, READONLY: R},
    "council_meeting_attendees": {API: RAW, READONLY: R},
    "council_decisions": {API: RAW, READONLY: R},
    "applications": {API: RAW, READONLY: R},
    "application_partners": {API: "SELECT INSERT UPDATE DELETE", READONLY: R},
    "application_statuses": {API: "SELECT INSERT UPDATE DELETE", READONLY: R},
    "application_trials": {API: "SELECT INSERT UPDATE DELETE", READONLY: R},
    "evidence": {API: RAW, READONLY: R},
    "deliveries_daily": {API: R, READONLY: R},
    # Dashboards (migration 009): a viewer's aggregates instead of the readings, the rollups,
    # people, the audit trail and the quarantine's payloads.
    "viewer_cells_1h": {API: R},
    "viewer_cells_1m": {READONLY: R},
    "viewer_hours": {READONLY: R},
    "reading_counts_1m": {READONLY: R},
    "reading_counts_1h": {READONLY: R},
    "quarantine_reasons": {READONLY: R},
    "trial_transitions": {READONLY: R},
    "governance_indicators": {READONLY: R},
    "governance_verdicts": {READONLY: R},
    "application_status_years": {READONLY: R},
    # Migration 010: the delivery pages read the quarantine without its payloads (and the ledger
    # through the delivery functions); the API keeps the desired configurations.
    "quarantine_entries": {API: R},
    "device_configs": {API: RAW, READONLY: R},
    # Migration 012: the hours of the ledger and of ingest_stats, kept by the ingest, read by
    # the dashboards through views.
    "deliveries_1h": {INGEST: RAW},
    "ingest_stats_1h": {INGEST: RAW},
    "ledger_hours": {READONLY: R},
    "ingest_hours": {READONLY: R},
    # Migration 013: the milestone's thresholds, changed only by a migration; the dashboards'
    # login reads the milestone through milestone_checklist() alone.
    "milestone_criteria": {API: R},
}
PRIVILEGES = (
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
)


def _relations(conn: psycopg.Connection) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')"
            " ORDER BY c.relname"
        )
    ]


def test_each_role_holds_exactly_its_privileges(dsn):
    with psycopg.connect(dsn) as conn:
        assert sorted(_relations(conn)) == sorted(MATRIX), (
            "a table or view without a row in MATRIX: decide each role's privileges on it"
        )
        for relation, expected in MATRIX.items():
            for role in ServiceRole:
                held = [
                    p
                    for p in PRIVILEGES
                    if conn.execute(
                        "SELECT has_table_privilege(%s, %s, %s)",
                        (role.group, relation, p),
                    ).fetchone()
                    == (True,)
                ]
                assert held == expected.get(role, "").split(), (relation, role)


def test_the_roles_cannot_log_in_own_nothing_and_create_nothing(dsn):
    with psycopg.connect(dsn) as conn:
        for role in ServiceRole:
            row = conn.execute(
                "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls,"
                " (SELECT count(*) FROM pg_class WHERE relowner = r.oid),"
                " has_schema_privilege(r.oid, 'public', 'CREATE')"
                " FROM pg_roles r WHERE rolname = %s",
                (role.group,),
            ).fetchone()
            assert row == (False, False, False, False, False, 0, False), role


# The attacks: what a stolen service password must not reach.
API_ATTACKS = [
    "DROP TABLE readings",
    "ALTER TABLE tokens ADD COLUMN stolen text",
    "ALTER TABLE trials DISABLE TRIGGER ALL",
    "TRUNCATE readings",
    "TRUNCATE audit_log",
    "DELETE FROM audit_log",
    "UPDATE audit_log SET reason = 'nothing happened'",
    "DELETE FROM readings",
    "CREATE TABLE exfiltrate (data text)",
    "CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE sql AS 'SELECT $1'",
    "INSERT INTO readings (time, sensor_id, value) VALUES (now(), 1, 0)",
    "SELECT * FROM deliveries",
    "SELECT * FROM quarantine",
    "UPDATE milestone_criteria SET needed = 0",
    "CREATE ROLE intruder LOGIN SUPERUSER",
    "SET ROLE postgres",
]
INGEST_ATTACKS = [
    "SELECT hash FROM tokens",
    "SELECT email FROM people",
    "SELECT * FROM trials",
    "SELECT * FROM grants",
    "SELECT * FROM audit_log",
    "SELECT * FROM readings",
    "UPDATE devices SET enabled = true",
    "INSERT INTO sensors (device_id, key, quantity, unit) VALUES ('d', 'k', 'q', 'u')",
    "DELETE FROM readings",
    "DELETE FROM deliveries",
    "UPDATE deliveries SET readings = 0",
    "TRUNCATE deliveries",
    "DROP TABLE readings",
    # A minute without its viewer hour, or a viewer hour of its own (migration 011).
    "INSERT INTO readings_1m (bucket, sensor_id, count, sum, min, max, sum_sq)"
    " VALUES (now(), 1, 5, 0, 0, 0, 0)",
    "UPDATE readings_1m SET count = count + 1",
    "INSERT INTO viewer_cells_1h (bucket, sensor_id, count, sum, min, max, sum_sq)"
    " VALUES (now(), 1, 5, 0, 0, 0, 0)",
    "SELECT viewer_cells_rebuild('-infinity', 'infinity')",
]
MERGE_MINUTES = "SELECT merge_minutes('{0}', '{1}', '{5}', '{0}', '{0}', '{0}', '{0}')"


def _attack(dsn: str, statement: str | sql.Composable) -> None:
    with (
        psycopg.connect(dsn) as conn,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


@pytest.mark.parametrize("statement", API_ATTACKS)
def test_the_api_role_cannot(api_dsn, statement):
    _attack(api_dsn, statement)


@pytest.mark.parametrize("statement", INGEST_ATTACKS)
def test_the_ingest_role_cannot(ingest_dsn, statement):
    _attack(ingest_dsn, statement)


@pytest.mark.parametrize("login", ["api_dsn", "readonly_dsn"])
def test_only_the_ingest_role_merges_minutes(request, ingest_dsn, login):
    _attack(request.getfixturevalue(login), MERGE_MINUTES)
    with psycopg.connect(ingest_dsn) as conn:
        conn.execute(MERGE_MINUTES)


def test_the_readonly_role_cannot_write_anything(dsn, readonly_dsn):
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT c.relname, (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid"
            "  AND a.attnum > 0 AND a.attidentity = '' ORDER BY a.attnum LIMIT 1)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
        ).fetchall()
    assert "readings" in {table for table, _ in tables}
    for table, column in tables:
        name, first = sql.Identifier(table), sql.Identifier(column)
        for statement in (
            sql.SQL("INSERT INTO {} DEFAULT VALUES").format(name),
            sql.SQL("UPDATE {} SET {} = {}").format(name, first, first),
            sql.SQL("DELETE FROM {}").format(name),
            sql.SQL("TRUNCATE {}").format(name),
            sql.SQL("DROP TABLE {}").format(name),
        ):
            _attack(readonly_dsn, statement)
    _attack(readonly_dsn, "SELECT hash FROM tokens")


def test_a_service_login_cannot_take_over_a_privileged_role(dsn):
    """`livinglab db login postgres --role api` must not reset the superuser's password."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        superuser = conn.execute("SELECT current_user").fetchone()
        assert superuser is not None
        for name in (str(superuser[0]), "livinglab_api"):
            with pytest.raises(ConfigurationError, match="privileged or group role"):
                create_login(conn, name=name, role=API, password="x" * 20)
