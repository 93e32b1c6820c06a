"""What the running demo shows: a live table of its devices, and a summary of the run at the end.

What the database stored comes from the ingest's ledger (`deliveries`) and `quarantine`; what
the agents sent is what the broker acknowledged, counted in their outboxes. Both count the same
set, this run's batches: per device, those from the oldest batch still in its outbox when the
run started (or its next seq). Readings of earlier runs stored now (the broker kept them across
a restart) are counted apart, as `stored_from_earlier_runs`.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from livinglab_edge_agent.outbox import Outbox
from livinglab_lab.demo.pilots import HEARTBEAT_S
from livinglab_lab.errors import ServiceError
from livinglab_platform.core import db
from livinglab_platform.core.db import Connection

__all__ = [
    "Baseline",
    "DemoSummary",
    "first_seqs",
    "outbox_totals",
    "print_governance",
    "print_summary",
    "stored_counts",
    "summarise",
    "wait_for_ingest",
    "watch",
]

REFRESH_S = 1.0
CATCH_UP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DemoSummary:
    """What the agents handed to the broker during this run and what the database stored."""

    sent: int
    stored: int
    lost: int
    duplicated: int
    quarantined: int
    left_in_outboxes: int
    stored_from_earlier_runs: int


@dataclass(frozen=True)
class Baseline:
    """The counts when the run started: this run's batches are those from `first_seqs` on."""

    acked: int
    stored: int
    quarantined: int
    first_seqs: dict[str, int]


def first_seqs(outboxes: dict[str, Path]) -> dict[str, int]:
    """Per device, the lowest seq it can send from now on: its oldest unacknowledged batch's."""
    seqs = {}
    for device_id, path in outboxes.items():
        seqs[device_id] = 1
        if path.exists():
            with Outbox.open(path) as outbox:
                oldest = outbox.unacked(limit=1)
                seqs[device_id] = oldest[0][0] if oldest else outbox.stats().next_seq
    return seqs


def outbox_totals(paths: Iterable[Path]) -> tuple[int, int]:
    """(readings acknowledged by the broker, readings still buffered) over the agents' outboxes."""
    acked = depth = 0
    for path in paths:
        if path.exists():
            with Outbox.open(path) as outbox:
                stats = outbox.stats()
            acked += stats.acked
            depth += stats.depth
    return acked, depth


def stored_counts(conn: Connection) -> tuple[int, int]:
    """(readings stored, messages quarantined) so far."""
    row = conn.execute(
        "SELECT (SELECT coalesce(sum(readings), 0) FROM deliveries),"
        " (SELECT count(*) FROM quarantine_reasons)"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _status_table(
    conn: Connection,
    *,
    rate: float,
    stored: int,
    quarantined: int,
    elapsed: float,
) -> Table:
    rows: list[tuple[Any, ...]] = conn.execute(
        """SELECT d.id, d.site_id, s.online AND s.last_seen > now() - make_interval(secs => %s) AS online,
                  s.last_seen, s.outbox_depth, s.clock_synced
           FROM devices d LEFT JOIN device_status s ON s.device_id = d.id ORDER BY d.id""",
        (3 * HEARTBEAT_S,),
    ).fetchall()
    online = sum(1 for r in rows if r[2])
    table = Table(
        title=f"living lab: {elapsed:.0f} s, {rate:,.0f} readings/s stored, {stored:,} stored, {online}/{len(rows)} devices online, {quarantined} quarantined"
    )
    for column in ("device", "site", "online", "last seen", "outbox", "clock"):
        table.add_column(column)
    for device_id, site_id, is_online, last_seen, depth, synced in rows:
        seen = (
            f"{time.time() - last_seen.timestamp():.0f} s ago" if last_seen else "never"
        )
        clock = "-" if synced is None else ("synced" if synced else "not synced")
        table.add_row(
            device_id,
            site_id,
            "[green]yes[/]" if is_online else "[red]no[/]",
            seen,
            "-" if depth is None else str(depth),
            clock,
        )
    return table


def watch(
    dsn: str,
    *,
    processes: dict[str, subprocess.Popen[bytes]],
    logs: Path,
    duration_s: float | None,
    console: Console,
) -> None:
    """Refresh the status table until `duration_s` is over; raise if one of `processes` exits."""
    started = time.monotonic()
    with (
        db.connect(dsn, autocommit=True) as conn,
        Live(console=console, refresh_per_second=2, transient=False) as live,
    ):
        last_stored, _ = stored_counts(conn)
        last_time = time.monotonic()
        while duration_s is None or time.monotonic() - started < duration_s:
            time.sleep(REFRESH_S)
            for name, process in processes.items():
                if process.poll() is not None:
                    raise ServiceError(
                        f"{name} exited with code {process.returncode}; see {logs / (name + '.log')}"
                    )
            stored, quarantined = stored_counts(conn)
            now = time.monotonic()
            rate = (stored - last_stored) / (now - last_time)
            last_stored, last_time = stored, now
            live.update(
                _status_table(
                    conn,
                    rate=rate,
                    stored=stored,
                    quarantined=quarantined,
                    elapsed=now - started,
                )
            )


def wait_for_ingest(dsn: str, *, expected: int) -> None:
    """Wait until the database holds every reading the broker acknowledged (or time runs out)."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    with db.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline and stored_counts(conn)[0] < expected:
            time.sleep(0.2)


def summarise(
    dsn: str, *, outboxes: dict[str, Path], baseline: Baseline
) -> DemoSummary:
    """This run's numbers: what this run's batches sent, and what of them the database stored."""
    acked_after, left = outbox_totals(outboxes.values())
    with db.connect(dsn) as conn:
        stored_after, quarantined_after = stored_counts(conn)
        row = conn.execute(
            "SELECT count(*) - count(DISTINCT (sensor_id, time)) FROM readings"
        ).fetchone()
        this_run = conn.execute(
            "SELECT coalesce(sum(d.readings), 0) FROM deliveries d"
            " JOIN unnest(%s::text[], %s::bigint[]) AS f(device_id, first_seq)"
            " ON f.device_id = d.device_id WHERE d.seq >= f.first_seq",
            (list(baseline.first_seqs), list(baseline.first_seqs.values())),
        ).fetchone()
    duplicated = int(row[0]) if row else 0
    sent = acked_after - baseline.acked
    stored = int(this_run[0]) if this_run else 0
    return DemoSummary(
        sent=sent,
        stored=stored,
        lost=max(sent - stored, 0),
        duplicated=duplicated,
        quarantined=quarantined_after - baseline.quarantined,
        left_in_outboxes=left,
        stored_from_earlier_runs=max(stored_after - baseline.stored - stored, 0),
    )


# What the demo's governance record shows, named wherever the demo prints its summary.
GOVERNANCE_COMMANDS = (
    "livinglab governance indicators --year 2025",
    "livinglab governance milestone --as-of 2025-12-31",
    "livinglab governance indicators --csv",
    "livinglab governance kpi --year 2025 -o kpi.json",
    "livinglab report --year 2025 -o porocilo-2025.html",
)


def print_governance(console: Console, *, lab_dir: Path) -> None:
    """The commands that read the demo's governance record, with the lab's environment."""
    console.print(
        f"  governance (verdicts 2022-2026), while the lab runs: set -a; . {lab_dir / 'env'}; set +a"
    )
    for command in GOVERNANCE_COMMANDS:
        console.print(f"    {command}")


def print_summary(
    summary: DemoSummary,
    console: Console,
    *,
    lab_dir: Path | None = None,
    out: TextIO | None = None,
) -> None:
    """The summary as a table, the governance commands, then the summary as one JSON line."""
    table = Table(title="demo summary (this run's batches)")
    table.add_column("readings")
    table.add_column("count", justify="right")
    for label, value in (
        ("sent (acknowledged by the broker)", summary.sent),
        ("stored", summary.stored),
        ("lost", summary.lost),
        ("duplicated", summary.duplicated),
        ("quarantined messages", summary.quarantined),
        ("still buffered in outboxes", summary.left_in_outboxes),
        (
            "stored now from earlier runs (not counted above)",
            summary.stored_from_earlier_runs,
        ),
    ):
        table.add_row(label, f"{value:,}")
    console.print(table)
    if lab_dir is not None:
        print_governance(console, lab_dir=lab_dir)
    # The last line is machine-readable for scripts and tests.
    (out or sys.stdout).write(json.dumps(dataclasses.asdict(summary)) + "\n")
