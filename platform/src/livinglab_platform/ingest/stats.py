"""Ingest statistics: one ingest_stats row and one log line per interval, from running totals."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg

from livinglab_platform.core.db import Connection
from livinglab_platform.ingest.counts import GroupResult

__all__ = ["StatsRecorder", "lag_s"]

logger = logging.getLogger(__name__)

_INSERT_STATS = """
INSERT INTO ingest_stats (time, instance, interval_s, readings, batches, duplicates, quarantined,
                          readings_per_s, lag_s, queue_depth, broker_dropped)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


def lag_s(totals: GroupResult) -> float | None:
    """Seconds from the newest reading committed to now."""
    return None if totals.newest_us is None else time.time() - totals.newest_us / 1e6


class StatsRecorder:
    """Turns running totals into per-interval rows; used by one thread at a time."""

    def __init__(self, *, instance: str, connect: Callable[[], Connection]) -> None:
        self._instance = instance
        self._connect = connect
        self._conn: Connection | None = None
        self._last = GroupResult()
        self._last_at = time.monotonic()

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
        logger.info(
            "ingest: %d readings (%.0f/s), %d batches, %d duplicates, %d quarantined in %.1f s; lag %s; queue %d",
            readings, readings / interval, batches, duplicates, quarantined, interval,
            "n/a" if lag is None else f"{lag:.1f} s", queue_depth,
        )  # fmt: skip
        row = (
            datetime.now(UTC), self._instance, interval, readings, batches, duplicates, quarantined,
            readings / interval, lag, queue_depth, broker_dropped,
        )  # fmt: skip
        try:
            if self._conn is None:
                self._conn = self._connect()
            self._conn.execute(_INSERT_STATS, row)
        except psycopg.OperationalError as exc:
            # Nothing is lost: the next row covers this interval as well.
            logger.warning(
                "could not write ingest statistics (%s); will retry", str(exc).strip()
            )
            self.close()
            return
        self._last = totals
        self._last_at = now

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
