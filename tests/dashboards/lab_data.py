"""A small lab in the test database: two devices with a sensor of every quantity, three hours of
readings every 10 s with their rollups, status, ledger, statistics, a trial and the record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from livinglab_platform.core.quantities import QUANTITIES
from tests.api.readings import fill_rollups, insert_readings

HOURS = 3


def make_lab(
    conn: psycopg.Connection[Any], *, now: datetime | None = None
) -> dict[str, Any]:
    """Fill the database; returns the variables' values for device d1."""
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    start = now - timedelta(hours=HOURS)
    conn.execute(
        "INSERT INTO organisations (id, name, kind) VALUES ('lab', 'Lab', 'company')"
    )
    conn.execute(
        "INSERT INTO sites (id, name, latitude, longitude) VALUES"
        " ('kongresni', 'Kongresni trg', 46.05, 14.50), ('bezigrad', 'Bežigrad', 46.07, 14.51)"
    )
    # Each device's status and ledger differ, so that a panel showing another device differs.
    for i, (device, site) in enumerate(
        (("d1", "kongresni"), ("d2", "kongresni"), ("d3", "bezigrad"))
    ):
        conn.execute(
            "INSERT INTO devices (id, site_id) VALUES (%s, %s)", (device, site)
        )
        # d3 lacks a noise sensor, so its sensor list differs from d1's.
        for key in [k for k in QUANTITIES if device != "d3" or k != "noise_level"]:
            sensor = conn.execute(
                "INSERT INTO sensors (device_id, key, quantity, unit) VALUES (%s, %s, %s, 'x')"
                " RETURNING id",
                (device, key.replace("_", "-"), key),
            ).fetchone()
            assert sensor is not None
            insert_readings(
                conn, sensor[0], start=start, n=HOURS * 360, step=timedelta(seconds=10)
            )
        conn.execute(
            "INSERT INTO device_status (device_id, online, last_seen, outbox_depth, clock_synced,"
            " clock_offset_ns) VALUES (%s, true, %s, %s, true, %s)",
            (device, now - timedelta(minutes=i), 3 + i, 1_200_000 * (i + 1)),
        )
        for seq in (1, 2, 4, 9 + i):
            conn.execute(
                "INSERT INTO deliveries (device_id, seq, readings, received_at)"
                " VALUES (%s, %s, 10, %s)",
                (device, seq, now),
            )
    fill_rollups(conn)
    conn.execute(
        "INSERT INTO ingest_stats (time, instance, interval_s, readings, batches, duplicates,"
        " quarantined, readings_per_s, lag_s, queue_depth, txns, txn_ms_p50, txn_ms_p95,"
        " txn_ms_max) SELECT %(start)s + i * interval '1 minute', 'i1', 60, 600, 60, 1, 0, 10,"
        " 0.2, 2, 60, 8, 20 + i %% 7, 40"
        " FROM generate_series(0, %(n)s) i",
        {"start": start, "n": HOURS * 60},
    )
    conn.execute(
        "INSERT INTO quarantine (received_at, topic, device_id, reason, payload)"
        " VALUES (%s, 't', 'd1', 'bad frame', '\\x00')",
        (now - timedelta(minutes=30),),
    )
    trial = conn.execute(
        "INSERT INTO trials (title, organisation_id, technology, trl_start, trl_target, starts_on,"
        " ends_on, state) VALUES ('Zrak', 'lab', 'PM', 4, 6, %s, %s, 'running') RETURNING id",
        (start.date(), now.date() + timedelta(days=30)),
    ).fetchone()
    assert trial is not None
    conn.execute(
        "INSERT INTO trial_devices (trial_id, device_id, starts_at, ends_at)"
        " VALUES (%s, 'd1', %s, %s)",
        (trial[0], start + timedelta(hours=1), now + timedelta(days=1)),
    )
    conn.execute(
        "INSERT INTO audit_log (time, actor_label, object_type, object_id, action, reason)"
        " VALUES (%s, 'tests', 'trial', %s, 'start', 'devices installed')",
        (now - timedelta(minutes=30), str(trial[0])),
    )
    application = conn.execute(
        "INSERT INTO applications (programme, title, mol_role, total_budget, mol_share)"
        " VALUES ('Horizon Europe', 'Zrak', 'partner', 1000, 100) RETURNING id"
    ).fetchone()
    assert application is not None
    conn.execute(
        "INSERT INTO application_statuses (application_id, position, status, on_date)"
        " VALUES (%s, 1, 'submitted', %s)",
        (application[0], now.date()),
    )
    # The ledger and the statistics above went in row by row, not through the ingest.
    conn.execute("SELECT dashboard_rollups_rebuild('-infinity', 'infinity')")
    return {
        "now": now,
        "variables": {
            "site": "kongresni",
            "device": "d1",
            "sensor": [key.replace("_", "-") for key in QUANTITIES],
            "trial": str(trial[0]),
            "year": str(now.year),
        },
    }
