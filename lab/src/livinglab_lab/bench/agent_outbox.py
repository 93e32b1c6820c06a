"""`bench agent`'s side of the agent's outbox file: a backlog to drain, a grown WAL, the counters.

The agent's outbox checkpoints its write-ahead log every 1,000 pages (SQLite's default) and then
writes it again from its start, so after its first minute or so a running agent's synced commits
overwrite a WAL file of about 4 MiB. A new outbox's WAL grows with every commit instead, and the
fdatasync of a file whose size changed also commits ext4's journal: on the 2-core development VM
a bare 10 Hz synced commit costs 40-70 µs more thread CPU while the WAL grows (/tmp/s5 floor
runs: 381-445 against 286-374 µs a tick). The steady phases are too short for the agent to reach
its first checkpoint, so without help they would measure an agent's first minute. `grown_wal`
gives the outbox a checkpointed WAL of that size before the agent opens it, as the agent's own
file is after that minute.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from livinglab_edge_agent.outbox import Outbox

__all__ = ["WAL_PAGES", "grown_wal", "outbox_counters", "prefill"]

# SQLite's default wal_autocheckpoint, which the agent keeps: the WAL's size in steady state.
WAL_PAGES = 1000
PREFILL_CHUNK = 50_000
PREFILL_KEYS = ("air_temperature", "relative_humidity", "air_pressure", "pm2_5")


@contextlib.contextmanager
def grown_wal(path: Path, *, capacity: int) -> Iterator[int]:
    """Create the outbox with a checkpointed WAL of WAL_PAGES pages; yield its size in bytes.

    The connection stays open for the block: the last connection to close an SQLite file
    checkpoints and deletes its WAL, so the agent must have the file open before it closes.
    The filler table is dropped and the file vacuumed, so the agent's pages start as a new
    outbox's would (no free list).
    """
    Outbox.open(path, capacity=capacity, synchronous="NORMAL").close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.execute("PRAGMA wal_autocheckpoint=0")
        # Freed filler pages need not be zeroed (some builds do by default): no frames for them.
        conn.execute("PRAGMA secure_delete=OFF")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TABLE bench_wal_filler (filler BLOB)")
        # A row of most of a page: one page each, so WAL_PAGES rows write about as many frames.
        conn.executemany(
            "INSERT INTO bench_wal_filler VALUES (zeroblob(?))",
            [(page_size - 200,)] * WAL_PAGES,
        )
        conn.execute("COMMIT")
        conn.execute("DROP TABLE bench_wal_filler")
        conn.execute("VACUUM")
        # RESTART: everything is copied to the database, and the next writer starts the WAL again
        # from its first frame, overwriting the file without growing it.
        conn.execute("PRAGMA wal_checkpoint(RESTART)")
        yield Path(f"{path}-wal").stat().st_size
    finally:
        conn.close()


def prefill(path: Path, *, backlog: int, capacity: int) -> float:
    """Fill a new outbox with `backlog` readings, each with its own time; seconds it took."""
    started = time.perf_counter()
    base_ns = time.time_ns() - backlog * 1_000
    # NORMAL is enough to make the file; the agent then opens it with its configured FULL.
    with Outbox.open(path, capacity=capacity, synchronous="NORMAL") as outbox:
        for start in range(0, backlog, PREFILL_CHUNK):
            index = np.arange(start, min(start + PREFILL_CHUNK, backlog))
            values = np.round(np.sin(index / 1000.0) * 10 + 15, 3)
            outbox.add(
                list(
                    zip(
                        (base_ns + index * 1_000).tolist(),
                        [PREFILL_KEYS[i % len(PREFILL_KEYS)] for i in index.tolist()],
                        values.tolist(),
                        strict=True,
                    )
                )
            )
    return time.perf_counter() - started


def outbox_counters(path: Path) -> dict[str, int]:
    """The outbox's persisted counters, read without taking the file over."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        counters = dict(conn.execute("SELECT name, value FROM meta").fetchall())
        pending = conn.execute("SELECT coalesce(sum(readings), 0) FROM pending_packed")
        sealed = conn.execute("SELECT coalesce(sum(readings), 0) FROM batches")
        counters["depth"] = pending.fetchone()[0] + sealed.fetchone()[0]
    return counters
