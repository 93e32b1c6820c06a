"""`livinglab db retention`: raw chunks older than the period go, on the real TimescaleDB.

Readings are backdated months as the superuser (the owner of the schema, as the command runs in a
deployment), so that `readings` has old daily chunks to drop.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from livinglab_platform.cli import app, terminal
from livinglab_platform.data.retention import plan_retention

NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
# Days back at which each sensor has one reading per hour for a day.
DAYS_BACK = (200, 120, 60, 5)


def _seed(conn: psycopg.Connection) -> dict[str, int]:
    conn.execute("INSERT INTO sites (id, name) VALUES ('tp', 'Tehnološki park')")
    sensors = {}
    for device in ("air-1", "air-2"):
        conn.execute("INSERT INTO devices (id, site_id) VALUES (%s, 'tp')", (device,))
        row = conn.execute(
            "INSERT INTO sensors (device_id, key, quantity, unit)"
            " VALUES (%s, 't', 'air_temperature', 'degC') RETURNING id",
            (device,),
        ).fetchone()
        assert row is not None
        sensors[device] = row[0]
    for sensor in sensors.values():
        for back in DAYS_BACK:
            for hour in range(24):
                at = NOW - timedelta(days=back) + timedelta(hours=hour - 12)
                conn.execute(
                    "INSERT INTO readings (time, sensor_id, value) VALUES (%s, %s, 20)",
                    (at, sensor),
                )
                conn.execute(
                    "INSERT INTO readings_1h (bucket, sensor_id, count, sum, min, max, sum_sq)"
                    " VALUES (%s, %s, 1, 20, 20, 20, 400)",
                    (at, sensor),
                )
    return sensors


def _open_trial(
    conn: psycopg.Connection, *, device: str, state: str, since: datetime
) -> int:
    conn.execute(
        "INSERT INTO organisations (id, name, kind) VALUES ('zrak', 'Zrak', 'company')"
        " ON CONFLICT DO NOTHING"
    )
    row = conn.execute(
        "INSERT INTO trials (title, organisation_id, technology, trl_start, trl_target,"
        " starts_on, ends_on, state) VALUES ('Air quality', 'zrak', 'sensors', 4, 6, %s, %s, %s)"
        " RETURNING id",
        (since.date(), NOW.date(), state),
    ).fetchone()
    assert row is not None
    conn.execute(
        "INSERT INTO trial_devices (trial_id, device_id, starts_at, ends_at) VALUES (%s, %s, %s, %s)",
        (row[0], device, since, NOW),
    )
    return int(row[0])


def _raw_days(conn: psycopg.Connection) -> set[int]:
    """Which of DAYS_BACK still have raw readings."""
    rows = conn.execute("SELECT DISTINCT time FROM readings").fetchall()
    return {
        back
        for back in DAYS_BACK
        for (t,) in rows
        if abs((NOW - timedelta(days=back) - t).days) < 1
    }


def _counts(conn: psycopg.Connection) -> tuple[int, int]:
    raw = conn.execute("SELECT count(*) FROM readings").fetchone()
    hourly = conn.execute("SELECT count(*) FROM readings_1h").fetchone()
    assert raw is not None
    assert hourly is not None
    return raw[0], hourly[0]


@pytest.fixture
def retention(dsn: str, monkeypatch: pytest.MonkeyPatch):
    """`retention(*args, env=)` runs `livinglab db retention` as the schema's owner."""
    from typer.testing import CliRunner

    monkeypatch.setattr(terminal.console, "width", 300)

    def run(*args: str, env: dict[str, str] | None = None) -> str:
        result = CliRunner().invoke(
            app,
            ["db", "retention", *args],
            env={"LIVINGLAB_DATABASE_URL": dsn, **(env or {})},
        )
        assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
        return result.output

    return run


def test_old_chunks_go_and_rollups_stay(dsn: str, retention) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        _seed(conn)
        before = _counts(conn)
    assert before == (2 * 24 * len(DAYS_BACK), 2 * 24 * len(DAYS_BACK))

    dry = retention("--dry-run", env={"LIVINGLAB_RAW_RETENTION_DAYS": "90"})
    assert "would drop" in dry
    assert "rollups kept" in dry
    with psycopg.connect(dsn) as conn:
        assert _counts(conn) == before  # a dry run drops nothing

    out = retention(env={"LIVINGLAB_RAW_RETENTION_DAYS": "90"})
    assert "dropped" in out
    # The 200- and 120-day-old readings were in chunks of their own: about 96 rows estimated.
    with psycopg.connect(dsn) as conn:
        assert _raw_days(conn) == {60, 5}
        assert _counts(conn) == (2 * 24 * 2, before[1])  # every rollup row kept
        plan = plan_retention(conn, days=90)
    assert plan.chunks == ()  # a second run has nothing left to drop


def test_unset_period_keeps_everything(dsn: str, retention) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        _seed(conn)
        before = _counts(conn)
    out = retention()
    assert "every raw reading is kept" in out
    # The compose stack passes an empty value when RAW_RETENTION_DAYS is not set.
    out = retention(env={"LIVINGLAB_RAW_RETENTION_DAYS": ""})
    assert "every raw reading is kept" in out
    with psycopg.connect(dsn) as conn:
        assert _counts(conn) == before


def test_an_open_trial_keeps_the_readings_it_needs(dsn: str, retention) -> None:
    """The attack: a retention run on a lab whose running trial assigned a device 150 days ago
    must not drop that trial's data (failed before: there was no retention command at all, and a
    plain drop_chunks(older_than => 90 days) drops the 120-day-old chunk the trial needs)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        _seed(conn)
        trial = _open_trial(
            conn, device="air-1", state="running", since=NOW - timedelta(days=150)
        )
        # A completed trial that needed everything holds nothing back.
        _open_trial(
            conn, device="air-2", state="completed", since=NOW - timedelta(days=400)
        )
    out = retention("--days", "90")
    assert f"open trial(s) {trial}" in out
    with psycopg.connect(dsn) as conn:
        # The 200-day-old chunk goes (before the assignment); the 120-day-old one stays, for both
        # devices, since a chunk is dropped whole.
        assert _raw_days(conn) == {120, 60, 5}


def test_plan_lists_chunk_ranges_and_rows(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        _seed(conn)
    with psycopg.connect(dsn) as conn:
        plan = plan_retention(conn, days=90, now=NOW)
    assert plan.cutoff == NOW - timedelta(days=90)
    assert len(plan.chunks) == 2
    assert all(chunk.range_end <= plan.cutoff for chunk in plan.chunks)
    # ANALYZE's sample of a small chunk is the chunk: 48 rows each (2 sensors x 24 hours).
    assert plan.rows_estimate == 2 * 48


def test_a_service_login_cannot_drop_readings(
    dsn: str, api_dsn: str, monkeypatch
) -> None:
    """The attack: the API's login (what the operator's other commands use) runs the retention
    command; it is refused with a clear message and drops nothing (failed before this check:
    the command reached drop_chunks, whose error came out as a traceback)."""
    from typer.testing import CliRunner

    monkeypatch.setattr(terminal.err, "width", 300)
    with psycopg.connect(dsn, autocommit=True) as conn:
        _seed(conn)
        before = _counts(conn)
    result = CliRunner().invoke(
        app,
        ["db", "retention", "--days", "90"],
        env={"LIVINGLAB_DATABASE_URL": api_dsn},
    )
    assert result.exit_code == 2, result.output
    assert "only its owner may do" in result.output
    with psycopg.connect(dsn) as conn:
        assert _counts(conn) == before


def test_no_continuous_aggregate_reads_the_raw_readings(dsn: str) -> None:
    """Rollups are tables the ingest service writes, so dropping raw chunks changes none of
    them. A continuous aggregate over `readings` would be refreshed over the dropped range and
    lose its buckets: retention would then have to refresh it first (this test fails to say so)."""
    with psycopg.connect(dsn) as conn:
        count = conn.execute(
            "SELECT count(*) FROM timescaledb_information.continuous_aggregates"
        ).fetchone()
    assert count == (0,)
