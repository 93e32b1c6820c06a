"""Retention: raw readings older than a configured period are dropped by whole chunks.

Invariants:

- Only `readings` loses chunks. The rollups (`readings_1m`, `readings_1h`) are hypertables of
  their own that the ingest service upserts batch by batch; they are not continuous aggregates
  (the Apache edition has none), so nothing recomputes them from the raw rows and dropping raw
  chunks leaves every rollup row as it was.
- A chunk is dropped only when all of it lies before the cutoff (`drop_chunks(older_than =>)`
  drops a chunk when its range ends at or before that time), so no reading newer than the
  cutoff is ever lost.
- An open trial (not completed, rejected or withdrawn) still needs the readings of its devices
  inside its assignment periods: the cutoff is clamped to the oldest such reading, so the chunk
  that holds it, and every newer one, stays.
- `drop_chunks` must be run by the hypertable's owner (TimescaleDB issue #226): the command runs
  as the schema's owner, like `livinglab db upgrade`. The function never commits; the caller's
  unit of work does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import ConfigurationError
from livinglab_platform.trials.lifecycle import OPEN_STATES

__all__ = ["Chunk", "RetentionPlan", "apply_retention", "plan_retention"]

HYPERTABLE = "readings"


@dataclass(frozen=True)
class Chunk:
    """One chunk of `readings` that the plan drops: its name, time range and estimated rows."""

    name: str
    range_start: datetime
    range_end: datetime
    rows_estimate: int


@dataclass(frozen=True)
class RetentionPlan:
    """What a retention run drops: chunks ending at or before `cutoff`.

    `requested` is now minus the retention period; `cutoff` is the same unless an open trial
    holds older readings, when it is that trial's oldest needed reading (`held_by` names them).
    """

    days: int
    requested: datetime
    cutoff: datetime
    held_by: tuple[int, ...]
    chunks: tuple[Chunk, ...]

    @property
    def rows_estimate(self) -> int:
        return sum(chunk.rows_estimate for chunk in self.chunks)


def _oldest_needed(
    conn: Connection, *, before: datetime
) -> tuple[datetime | None, list[int]]:
    """The oldest reading before `before` that an open trial needs, and the trials needing one.

    One index probe per assigned sensor (the first reading of its period, read from the
    (sensor_id, time) index), not a scan of the readings before the cutoff.
    """
    rows = conn.execute(
        """
        SELECT td.trial_id, min(first.time)
        FROM trials t
        JOIN trial_devices td ON td.trial_id = t.id
        JOIN sensors s ON s.device_id = td.device_id
        CROSS JOIN LATERAL (
            SELECT r.time FROM readings r
            WHERE r.sensor_id = s.id
              AND r.time >= td.starts_at AND r.time < least(td.ends_at, %(before)s)
            ORDER BY r.time
            LIMIT 1
        ) first
        WHERE t.state = ANY(%(open)s) AND td.starts_at < %(before)s
        GROUP BY td.trial_id
        ORDER BY td.trial_id
        """,
        {"before": before, "open": sorted(state.value for state in OPEN_STATES)},
    ).fetchall()
    if not rows:
        return None, []
    return min(row[1] for row in rows).astimezone(UTC), [row[0] for row in rows]


def _chunks_before(conn: Connection, *, cutoff: datetime) -> tuple[Chunk, ...]:
    """The chunks of `readings` that `drop_chunks(older_than => cutoff)` would drop."""
    listed = conn.execute(
        "SELECT chunk_schema, chunk_name, range_start, range_end"
        " FROM timescaledb_information.chunks"
        " WHERE hypertable_schema = 'public' AND hypertable_name = %s AND range_end <= %s"
        " ORDER BY range_start",
        (HYPERTABLE, cutoff),
    ).fetchall()
    chunks = []
    for schema, name, start, end in listed:
        qualified = f'"{schema}"."{name}"'
        estimate = _rows_estimate(conn, qualified)
        chunks.append(
            Chunk(qualified, start.astimezone(UTC), end.astimezone(UTC), estimate)
        )
    return tuple(chunks)


def _rows_estimate(conn: Connection, qualified: str) -> int:
    """The planner's row count of a chunk; a chunk never analysed (-1) is sampled first: ANALYZE
    reads at most 30,000 rows, where counting would read every one."""
    row = conn.execute(
        "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (qualified,)
    ).fetchone()
    if row is None or row[0] < 0:
        conn.execute(f"ANALYZE {qualified}".encode())
        row = conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (qualified,)
        ).fetchone()
    return max(int(row[0]), 0) if row is not None else 0


def _require_owner(conn: Connection) -> None:
    """drop_chunks needs the hypertable's owner: say so before anything else fails."""
    row = conn.execute(
        "SELECT current_user, pg_has_role(current_user, c.relowner, 'USAGE')"
        " FROM pg_class c WHERE c.oid = %s::regclass",
        (HYPERTABLE,),
    ).fetchone()
    assert row is not None
    if not row[1]:
        raise ConfigurationError(
            f"retention drops chunks of {HYPERTABLE}, which only its owner may do; {row[0]} is"
            " not: run it as the schema's owner, as `livinglab db upgrade` runs",
            field="LIVINGLAB_DATABASE_URL",
        )


def plan_retention(
    conn: Connection, *, days: int, now: datetime | None = None
) -> RetentionPlan:
    """What keeping `days` days of raw readings drops now (the database's clock unless `now`).

    Locks the trials and their assignments against changes until the caller's transaction ends,
    so that no trial can open, nor an assignment appear, between this plan and the drop.
    """
    if days < 1:
        raise ValueError("a retention period is at least one day")
    _require_owner(conn)
    conn.execute("LOCK TABLE trials, trial_devices IN SHARE MODE")
    if now is None:
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None
        now = row[0]
    requested = now.astimezone(UTC) - timedelta(days=days)
    needed, trials = _oldest_needed(conn, before=requested)
    cutoff = requested if needed is None else min(requested, needed)
    return RetentionPlan(
        days=days,
        requested=requested,
        cutoff=cutoff,
        held_by=tuple(trials),
        chunks=_chunks_before(conn, cutoff=cutoff),
    )


def apply_retention(conn: Connection, *, plan: RetentionPlan) -> list[str]:
    """Drop the plan's chunks; returns the dropped chunks' names. The caller commits.

    `drop_chunks` runs with the plan's cutoff, so what it drops is what the plan listed when both
    run in one unit of work (the command plans and drops in one transaction).
    """
    if not plan.chunks:
        return []
    rows = conn.execute(
        "SELECT drop_chunks(%s::regclass, older_than => %s::timestamptz)",
        (HYPERTABLE, plan.cutoff),
    ).fetchall()
    return [str(row[0]) for row in rows]
