"""Readings written straight into the database, and trials whose devices work in given windows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

from livinglab_platform.trials import assignments, registration, transitions
from livinglab_platform.trials.schemas import AssignmentCreate, TransitionRequest
from tests.api.world import CLI, trial_input


def insert_readings(
    conn: psycopg.Connection[Any],
    sensor_id: int,
    *,
    start: datetime,
    n: int,
    step: timedelta = timedelta(minutes=1),
) -> None:
    """`n` readings from `start`, one per `step`; the i-th has value sensor_id * 1000 + i / 4."""
    conn.execute(
        "INSERT INTO readings (time, sensor_id, value)"
        " SELECT %(start)s + i * %(step)s, %(sensor)s, %(sensor)s * 1000 + i / 4.0"
        " FROM generate_series(0, %(n)s - 1) i",
        {"start": start, "step": step, "sensor": sensor_id, "n": n},
    )


def fill_rollups(conn: psycopg.Connection[Any]) -> None:
    """The rollups the ingest service would have written for the readings inserted directly.

    Recomputed from all readings, so it may run again after more readings are inserted: reads
    take whole cells from the rollups, as the ingest keeps them, and must find them current. A
    viewer's hours are rebuilt from the minutes, as bulk loads do (the ingest keeps them with
    each batch, migration 011).
    """
    for table, width in (("readings_1m", "1 minute"), ("readings_1h", "1 hour")):
        conn.execute(
            f"INSERT INTO {table} (bucket, sensor_id, count, sum, min, max, sum_sq)"
            f" SELECT time_bucket('{width}'::interval, time), sensor_id, count(*), sum(value),"
            " min(value), max(value), sum(value * value) FROM readings GROUP BY 1, 2"
            " ON CONFLICT (sensor_id, bucket) DO UPDATE SET count = excluded.count,"
            " sum = excluded.sum, min = excluded.min, max = excluded.max,"
            " sum_sq = excluded.sum_sq"
        )
    conn.execute("SELECT viewer_cells_rebuild('-infinity', 'infinity')")


def trial_with_windows(
    conn: psycopg.Connection[Any],
    organisation_id: str,
    windows: list[tuple[str, datetime, datetime]],
    *,
    actions: tuple[str, ...] = ("submit", "approve"),
    **overrides: Any,
) -> int:
    """A trial with devices assigned for (device, start, end) windows, then walked by `actions`."""
    trial = registration.create_trial(
        conn, CLI, trial=trial_input(organisation_id=organisation_id, **overrides)
    )
    for device_id, starts_at, ends_at in windows:
        assignments.assign_device(
            conn,
            CLI,
            trial.id,
            assignment=AssignmentCreate(
                device_id=device_id, starts_at=starts_at, ends_at=ends_at
            ),
        )
    for action in actions:
        transitions.transition(
            conn,
            CLI,
            trial.id,
            request=TransitionRequest(action=action, reason="test"),  # type: ignore[arg-type]
        )
    conn.commit()
    return trial.id
