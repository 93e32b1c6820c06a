"""The stats recorder's row and its hour (migration 012), also for an interval without readings
or transactions, and transaction times kept across a row that could not be written."""

import psycopg

from livinglab_platform.ingest.counts import GroupResult
from livinglab_platform.ingest.stats import StatsRecorder

_HOUR = "SELECT txns, txn_ms_p50_sum, txn_ms_p95_max, txn_ms_max, lag_rows, lag_s_max FROM ingest_stats_1h"


def test_an_idle_interval_and_one_with_transactions(dsn):
    recorder = StatsRecorder(
        instance="i1", connect=lambda: psycopg.connect(dsn, autocommit=True)
    )
    try:
        recorder.record(GroupResult(), queue_depth=0, broker_dropped=None)
        for ms in (4.0, 2.0, 6.0, 40.0):
            recorder.transaction_times.add(ms)
        recorder.record(
            GroupResult(readings=10, batches=4), queue_depth=3, broker_dropped=0
        )
    finally:
        recorder.close()
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT txns, txn_ms_p50, txn_ms_p95, txn_ms_max FROM ingest_stats ORDER BY time"
        ).fetchall()
        hour = conn.execute(_HOUR).fetchall()
    assert rows[0] == (0, None, None, None)
    txns, p50, p95, longest = rows[1]
    assert (txns, p50, longest) == (4, 5.0, 40.0)
    assert 6.0 < p95 < 40.0
    assert hour == [(4, 20.0, p95, 40.0, 0, None)]


def test_times_of_a_row_not_written_go_into_the_next(dsn):
    connects = iter([psycopg.OperationalError("the database is down")])

    def connect():
        failure = next(connects, None)
        if failure is not None:
            raise failure
        return psycopg.connect(dsn, autocommit=True)

    recorder = StatsRecorder(instance="i1", connect=connect)
    try:
        recorder.transaction_times.add(3.0)
        recorder.record(GroupResult(batches=1), queue_depth=0, broker_dropped=None)
        recorder.transaction_times.add(5.0)
        recorder.record(GroupResult(batches=2), queue_depth=0, broker_dropped=None)
    finally:
        recorder.close()
    with psycopg.connect(dsn) as conn:
        assert conn.execute(
            "SELECT batches, txns, txn_ms_max FROM ingest_stats"
        ).fetchall() == [(2, 2, 5.0)]
