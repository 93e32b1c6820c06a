"""Ingest statistics: one ingest_stats row and one log line per interval, from running totals.

The row and its hour in ingest_stats_1h (migration 012) are written in one transaction, so the
hours the dashboards read over long ranges always sum the rows. The writers' transaction times
are collected as one float per transaction and summarised once per interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import psycopg

from livinglab_platform.core.db import Connection
from livinglab_platform.ingest.counts import GroupResult

__all__ = ["StatsRecorder", "TransactionTimes", "lag_s"]

logger = logging.getLogger(__name__)

_INSERT_STATS = """
INSERT INTO ingest_stats (time, instance, interval_s, readings, batches, duplicates, quarantined,
                          readings_per_s, lag_s, queue_depth, broker_dropped, txns, txn_ms_p50,
                          txn_ms_p95, txn_ms_max)
VALUES (%(time)s, %(instance)s, %(interval_s)s, %(readings)s, %(batches)s, %(duplicates)s,
        %(quarantined)s, %(readings_per_s)s, %(lag_s)s, %(queue_depth)s, %(broker_dropped)s,
        %(txns)s, %(txn_ms_p50)s, %(txn_ms_p95)s, %(txn_ms_max)s)
"""
# The same row added to its hour: sums, the largest values, and the median weighted by its count.
_MERGE_HOUR = """
INSERT INTO ingest_stats_1h AS h (bucket, instance, interval_s, readings, batches, duplicates,
                                  quarantined, lag_s_sum, lag_rows, lag_s_max, queue_depth_max,
                                  txns, txn_ms_p50_sum, txn_ms_p95_max, txn_ms_max)
VALUES (time_bucket(interval '1 hour', %(time)s::timestamptz), %(instance)s, %(interval_s)s,
        %(readings)s, %(batches)s, %(duplicates)s, %(quarantined)s, coalesce(%(lag_s)s, 0),
        (%(lag_s)s IS NOT NULL)::int, %(lag_s)s, %(queue_depth)s, %(txns)s,
        coalesce(%(txn_ms_p50)s * %(txns)s, 0), %(txn_ms_p95)s, %(txn_ms_max)s)
ON CONFLICT (instance, bucket) DO UPDATE SET
    interval_s = h.interval_s + excluded.interval_s,
    readings = h.readings + excluded.readings,
    batches = h.batches + excluded.batches,
    duplicates = h.duplicates + excluded.duplicates,
    quarantined = h.quarantined + excluded.quarantined,
    lag_s_sum = h.lag_s_sum + excluded.lag_s_sum,
    lag_rows = h.lag_rows + excluded.lag_rows,
    lag_s_max = greatest(h.lag_s_max, excluded.lag_s_max),
    queue_depth_max = greatest(h.queue_depth_max, excluded.queue_depth_max),
    txns = h.txns + excluded.txns,
    txn_ms_p50_sum = h.txn_ms_p50_sum + excluded.txn_ms_p50_sum,
    txn_ms_p95_max = greatest(h.txn_ms_p95_max, excluded.txn_ms_p95_max),
    txn_ms_max = greatest(h.txn_ms_max, excluded.txn_ms_max)
"""


def lag_s(totals: GroupResult) -> float | None:
    """Seconds from the newest reading committed to now."""
    return None if totals.newest_us is None else time.time() - totals.newest_us / 1e6


class TransactionTimes:
    """The writers' transaction durations in ms since the last `take`; shared by the writer threads.

    A writer appends one float per transaction, nothing else: the percentiles are computed once per
    stats interval, from the list taken.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms: list[float] = []

    def add(self, ms: float) -> None:
        with self._lock:
            self._ms.append(ms)

    def take(self) -> list[float]:
        with self._lock:
            taken, self._ms = self._ms, []
        return taken


def _summary(ms: list[float]) -> dict[str, float | int | None]:
    """Count, median, 95th percentile and longest of the durations (times None when there are none)."""
    if not ms:
        return {"txns": 0, "txn_ms_p50": None, "txn_ms_p95": None, "txn_ms_max": None}
    durations = np.asarray(ms, dtype=np.float64)
    p50, p95 = np.percentile(durations, [50, 95]).tolist()
    return {
        "txns": len(ms),
        "txn_ms_p50": p50,
        "txn_ms_p95": p95,
        "txn_ms_max": float(durations.max()),
    }


class StatsRecorder:
    """Turns running totals into per-interval rows; used by one thread at a time."""

    def __init__(self, *, instance: str, connect: Callable[[], Connection]) -> None:
        self._instance = instance
        self._connect = connect
        self._conn: Connection | None = None
        self._last = GroupResult()
        self._last_at = time.monotonic()
        self.transaction_times = TransactionTimes()
        # Durations taken but not yet written (the database was unavailable): the next row has them.
        self._unwritten_ms: list[float] = []

    def record(
        self, totals: GroupResult, *, queue_depth: int, broker_dropped: int | None
    ) -> None:
        """Log a summary and write the row of the interval since the last row written.

        `broker_dropped` is Mosquitto's own running count ($SYS/broker/publish/messages/dropped),
        stored as reported; the other counts are the interval's.
        """
        now = time.monotonic()
        interval = max(now - self._last_at, 1e-6)
        last = self._last
        readings, batches = (
            totals.readings - last.readings,
            totals.batches - last.batches,
        )
        duplicates, quarantined = (
            totals.duplicates - last.duplicates,
            totals.quarantined - last.quarantined,
        )
        lag = lag_s(totals)
        times_ms = self._unwritten_ms + self.transaction_times.take()
        txn = _summary(times_ms)
        logger.info(
            "ingest: %d readings (%.0f/s), %d batches, %d duplicates, %d quarantined in %.1f s; lag %s; queue %d;"
            " %d transactions, p95 %s",
            readings, readings / interval, batches, duplicates, quarantined, interval,
            "n/a" if lag is None else f"{lag:.1f} s", queue_depth, txn["txns"],
            "n/a" if txn["txn_ms_p95"] is None else f"{txn['txn_ms_p95']:.1f} ms",
        )  # fmt: skip
        row = {
            "time": datetime.now(UTC), "instance": self._instance, "interval_s": interval,
            "readings": readings, "batches": batches, "duplicates": duplicates,
            "quarantined": quarantined, "readings_per_s": readings / interval, "lag_s": lag,
            "queue_depth": queue_depth, "broker_dropped": broker_dropped, **txn,
        }  # fmt: skip
        try:
            if self._conn is None:
                self._conn = self._connect()
            with self._conn.transaction():
                self._conn.execute(_INSERT_STATS, row)
                self._conn.execute(_MERGE_HOUR, row)
        except psycopg.OperationalError as exc:
            # Nothing is lost: the next row covers this interval as well.
            logger.warning(
                "could not write ingest statistics (%s); will retry", str(exc).strip()
            )
            self._unwritten_ms = times_ms
            self.close()
            return
        self._unwritten_ms = []
        self._last = totals
        self._last_at = now

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
