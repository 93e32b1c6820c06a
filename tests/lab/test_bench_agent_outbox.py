"""`bench agent` starts each steady phase's outbox with the WAL a running agent reuses."""

from __future__ import annotations

import contextlib
import sqlite3

from livinglab_edge_agent.outbox import Outbox
from livinglab_lab.bench.agent_outbox import WAL_PAGES, grown_wal


def test_the_agent_overwrites_the_grown_wal_without_making_it_longer(tmp_path):
    path = tmp_path / "outbox.db"
    wal = tmp_path / "outbox.db-wal"

    with grown_wal(path, capacity=1_000) as size, Outbox.open(path) as outbox:
        for i in range(50):
            outbox.add([(i, "air_temperature", 20.0)])
        size_after = wal.stat().st_size
        depth = outbox.stats().depth

    assert size >= WAL_PAGES * 4096
    assert size_after == size
    assert depth == 50
    with contextlib.closing(sqlite3.connect(path)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert not any("filler" in name for name in tables)
