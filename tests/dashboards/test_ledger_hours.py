"""The ledger's and ingest_stats' panels give the same answer from their rows and from their hours
(migration 012, dashboards/ledger.py), and a year reads the hours."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg

from livinglab_lab.dashboards.build import generate, queries
from livinglab_lab.dashboards.expand import Range, expand
from livinglab_lab.dashboards.ledger import INGEST_ROWS
from tests.dashboards.lab_data import make_lab

QUERIES = list(queries({uid: json.loads(text) for uid, text in generate().items()}))
LEDGER_PANELS = (
    "Popolnost dostave po lokacijah",
    "Popolnost dostave",
    "Vrzeli v dostavi",
)
ROWS_MS, HOURS_MS = 60_000, 3_600_000  # an interval below and one above HOURS_FROM_MS
T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
# Seqs (plus 100, above make_lab's) per hour after T0, a batch every 5 minutes within the hour. d1: seq 14 missing
# inside hour 1, 23-30 across the boundary of hours 1 and 2, no batch at all in hour 3 (36-41
# missing across it). d2: complete but for 4.
LEDGER = {
    "d1": {
        0: [1, 2, 3, 4, 5],
        1: [10, 11, 12, 13, 15, 22],
        2: [31, 32, 33, 35],
        4: [42, 43],
    },
    "d2": {0: [1, 2, 3, 5, 6], 1: [7, 8], 2: [9], 3: [10, 11], 4: [12]},
}


def _ledger(conn: psycopg.Connection) -> None:
    for device, hours in LEDGER.items():
        for hour, seqs in hours.items():
            for i, seq in enumerate(seqs):
                conn.execute(
                    "INSERT INTO deliveries (device_id, seq, readings, received_at)"
                    " VALUES (%s, %s, 10, %s)",
                    (device, 100 + seq, T0 + timedelta(hours=hour, minutes=5 * i)),
                )
    conn.execute(
        "INSERT INTO ingest_stats (time, instance, interval_s, readings, batches, duplicates,"
        " quarantined, readings_per_s, lag_s, queue_depth, txns, txn_ms_p50, txn_ms_p95,"
        " txn_ms_max)"
        " SELECT %s + i * interval '7 minutes', 'i' || i %% 2, 60, i, 1, i %% 3, 0, 1,"
        " CASE WHEN i %% 4 <> 0 THEN i / 10.0 END, i %% 5, i %% 6, 5 + i %% 3, 9 + i %% 11,"
        " 30 + i FROM generate_series(0, 40) i",
        (T0,),
    )
    conn.execute("SELECT dashboard_rollups_rebuild('-infinity', 'infinity')")


def _run(readonly_dsn, sql):
    with psycopg.connect(readonly_dsn) as conn:
        return conn.execute(sql).fetchall()


def test_rows_and_hours_agree(dsn, readonly_dsn):
    with psycopg.connect(dsn) as conn:
        lab = make_lab(conn, now=T0 + timedelta(days=2))
        _ledger(conn)
    window = Range(T0, T0 + timedelta(hours=6))
    for device in ("d1", "d2"):
        variables = {**lab["variables"], "device": device}
        for title in LEDGER_PANELS:
            query = next(q for q in QUERIES if q.title == title)
            by_rows, by_hours = (
                _run(readonly_dsn, expand(query.sql, variables=variables, time_range=window,
                                          interval_ms=ms))
                for ms in (ROWS_MS, HOURS_MS)
            )  # fmt: skip
            assert by_rows == by_hours, (title, device)
            assert by_rows, (title, device)
    gaps = next(q for q in QUERIES if q.title == "Vrzeli v dostavi")
    d1 = expand(
        gaps.sql, variables=lab["variables"], time_range=window, interval_ms=HOURS_MS
    )
    assert _run(readonly_dsn, d1) == [(136, 141, 6), (134, 134, 1), (123, 130, 8), (116, 121, 6),
                                      (114, 114, 1), (106, 109, 4)]  # fmt: skip
    stat = next(q for q in QUERIES if q.title == "Popolnost dostave")
    d2 = expand(stat.sql, variables={**lab["variables"], "device": "d2"}, time_range=window,
                interval_ms=HOURS_MS)  # fmt: skip
    assert _run(readonly_dsn, d2) == [(11 / 12,)]


def test_ingest_rows_and_hours_agree_by_the_hour(dsn, readonly_dsn):
    with psycopg.connect(dsn) as conn:
        lab = make_lab(conn, now=T0 + timedelta(days=2))
        _ledger(conn)
    hourly = f"""
SELECT time_bucket('1 hour', time), sum(readings), sum(duplicates) / sum(interval_s),
       sum(lag_s_sum) / nullif(sum(lag_rows), 0), max(lag_s_max), max(queue_depth_max),
       sum(txn_ms_p50_sum) / nullif(sum(txns), 0), max(txn_ms_p95_max), max(txn_ms_max)
  FROM ({INGEST_ROWS}) s GROUP BY 1 ORDER BY 1"""
    window = Range(T0, T0 + timedelta(hours=6))
    by_rows, by_hours = (
        _run(readonly_dsn, expand(hourly, variables=lab["variables"], time_range=window,
                                  interval_ms=ms))
        for ms in (ROWS_MS, HOURS_MS)
    )  # fmt: skip
    assert len(by_rows) == 5

    def rounded(rows):  # sums of floats in another order differ in the last bits
        return [
            tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in rows
        ]

    assert rounded(by_rows) == rounded(by_hours)


def test_a_year_reads_the_hours(dsn, readonly_dsn):
    with psycopg.connect(dsn) as conn:
        lab = make_lab(conn, now=T0 + timedelta(days=2))
        _ledger(conn)
    year = Range.last(timedelta(days=365), now=lab["now"])
    day = Range.last(timedelta(days=1), now=lab["now"])
    for query in QUERIES:
        if not any(t in query.sql for t in ("ledger_hours", "ingest_hours")):
            continue
        for window, hours in ((year, True), (day, False)):
            sql = expand(query.sql, variables=lab["variables"], time_range=window)
            plan = "\n".join(r[0] for r in _run(readonly_dsn, "EXPLAIN " + sql))
            assert ("deliveries_1h" in plan or "ingest_stats_1h" in plan) == hours, plan
            if hours:
                assert "_hyper_" not in plan, (
                    query.title,
                    plan,
                )  # no ingest_stats chunk
                # The ledger itself only for the hours with a gap, by index, hour by hour.
                lines = plan.splitlines()
                for i, line in enumerate(lines):
                    if " on deliveries " in line:
                        assert "h.bucket" in lines[i + 1], (query.title, plan)
