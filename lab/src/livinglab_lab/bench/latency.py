"""Each published batch's way from publish to commit, read back from its ledger row.

Latency is per batch, from the moment it was stamped and published to its transaction's commit
timestamp (`pg_xact_commit_timestamp(xmin)` of its ledger row; track_commit_timestamp is on).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np
import numpy.typing as npt
import psycopg

from livinglab_lab.bench.harness import BenchLab, Publisher

__all__ = ["BatchTimes", "batch_times", "wal_sync"]


@dataclass(frozen=True)
class BatchTimes:
    """Milliseconds per batch from publish to commit, and the three steps that make it up.

    broker: publish -> received by the ingest service (Mosquitto and its network thread).
    queue: -> the ledger insert, first in the writer's transaction (stored_at); this holds the
        gathering of a group, up to LIVINGLAB_BATCH_MAX_WAIT_S, and its decoding.
    transaction: -> the commit timestamp (checks, COPY, rollups, waits for row locks).
    """

    total_ms: npt.NDArray[np.float64]
    broker_ms: npt.NDArray[np.float64]
    queue_ms: npt.NDArray[np.float64]
    transaction_ms: npt.NDArray[np.float64]
    # When the last of them was committed, Unix ns.
    last_commit_ns: int

    @classmethod
    def empty(cls) -> Self:
        """No batches: what a phase that did not run reports."""
        empty = np.zeros(0)
        return cls(empty, empty, empty, empty, last_commit_ns=0)


def batch_times(lab: BenchLab, publishers: Sequence[Publisher]) -> BatchTimes:
    """Each published batch's way from publish to commit, from its ledger row.

    The commit timestamp (track_commit_timestamp) is taken when the commit record is written,
    just before its WAL flush: what it leaves out is that one fsync, which `wal_sync` times.
    """
    assert lab.dsn is not None
    device_ids = [p.device_id for p in publishers]
    with psycopg.connect(lab.dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT device_id, seq, (extract(epoch FROM received_at) * 1e6)::int8,"
            " (extract(epoch FROM stored_at) * 1e6)::int8,"
            " (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1e6)::int8"
            " FROM deliveries WHERE device_id = ANY(%s)",
            (device_ids,),
        ).fetchall()
    published = {p.device_id: p.publish_ns for p in publishers}
    mine = [
        (published[device][seq] / 1e3, received, stored, committed)
        for device, seq, received, stored, committed in rows
        if seq in published[device]
    ]
    times_us = np.array(mine, dtype=np.float64).reshape(-1, 4)
    steps_ms = np.diff(times_us, axis=1) / 1e3
    return BatchTimes(
        total_ms=(times_us[:, 3] - times_us[:, 0]) / 1e3,
        broker_ms=steps_ms[:, 0],
        queue_ms=steps_ms[:, 1],
        transaction_ms=steps_ms[:, 2],
        last_commit_ns=max((row[4] for row in rows), default=0) * 1_000,
    )


def wal_sync(lab: BenchLab) -> tuple[int, float]:
    """WAL fsyncs so far and the milliseconds they took (track_wal_io_timing is on)."""
    assert lab.dsn is not None
    with psycopg.connect(lab.dsn, autocommit=True) as conn:
        row = conn.execute("SELECT wal_sync, wal_sync_time FROM pg_stat_wal").fetchone()
    assert row is not None
    return int(row[0]), float(row[1])
