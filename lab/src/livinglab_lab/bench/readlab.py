"""What `bench query` and `bench export` read: a year of readings, a trial, one person per role.

Readings are loaded as the ingest stores them, without the broker: day by day, each day one binary
COPY (`ingest/pgcopy.copy_readings`) and the same rollup upsert the ingest service runs after it
(`ingest/rollup.upsert_rollups`), so readings_1m and readings_1h are what the ingest would have
written. Sensors sample every `step_s` seconds with a little jitter, and every sensor has a gap
of a few hours each month (an outage), so reads cross gaps.

The devices belong to `owner` (a company); the trial of `partner`'s organisation has them assigned
from 17 min 23 s after the first reading to 7 min 41 s before the last, an edge inside a minute
and an hour at either end, which the read plan must compute from raw readings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg

from livinglab_lab.bench.harness import prepare_lab_dir
from livinglab_lab.services import Postgres
from livinglab_platform.access import cli_principal
from livinglab_platform.core import db
from livinglab_platform.ingest.pgcopy import copy_readings
from livinglab_platform.ingest.rollup import upsert_rollups
from livinglab_platform.registry import organisations, people, sites, tokens
from livinglab_platform.registry.schemas import (
    Kind,
    OrganisationCreate,
    PersonCreate,
    Role,
    TokenCreate,
)
from livinglab_platform.trials import assignments, registration, transitions
from livinglab_platform.trials.schemas import (
    Action,
    AssignmentCreate,
    TransitionRequest,
    TrialCreate,
)

__all__ = ["ReadLab", "load_read_lab"]

CLI = cli_principal("bench")
DAY = timedelta(days=1)
# The data ends at a fixed, unaligned moment so runs compare; the year before it is loaded.
DATA_END = datetime(2026, 11, 30, 13, 37, 11, tzinfo=UTC)
SENSOR_KEYS = ("pm2_5", "air_temperature", "relative_humidity", "air_pressure")
TRIAL_EDGE_START = timedelta(minutes=17, seconds=23)
TRIAL_EDGE_END = timedelta(minutes=7, seconds=41)


@dataclass
class ReadLab:
    """The database, its people's tokens, and what was loaded."""

    dsn: str
    postgres: Postgres
    tokens: dict[str, str]
    sensor_ids: list[int]
    trial_id: int
    start: datetime
    end: datetime
    readings: int
    window: tuple[datetime, datetime]
    load_s: float = 0.0
    notes: dict[str, object] = field(default_factory=dict)


def _people(conn: psycopg.Connection[tuple[Any, ...]]) -> dict[str, str]:
    for org_id, name, kind in [
        ("mol", "Mestna občina Ljubljana", Kind.city_administration),
        ("lab", "Living lab operations", Kind.public_institution),
        ("partner-org", "Partner d.o.o.", Kind.company),
        ("owner-org", "Owner d.o.o.", Kind.company),
    ]:
        organisations.create_organisation(
            conn, CLI, organisation=OrganisationCreate(id=org_id, name=name, kind=kind)
        )
    sites.add_site(conn, site_id="bench", name="Benchmark")
    found = {}
    for who, org, role in [
        ("operator", "lab", Role.operator),
        ("partner", "partner-org", Role.partner),
        ("viewer", "mol", Role.viewer),
    ]:
        person = people.create_person(
            conn,
            CLI,
            person=PersonCreate(
                organisation_id=org,
                name=who.title(),
                email=f"{who}@bench.si",
                role=role,
            ),
        )
        found[who] = tokens.create_token(
            conn, CLI, person_id=person.id, token=TokenCreate(name="bench")
        ).token
    return found


def _sensors(conn: psycopg.Connection[tuple[Any, ...]], n_sensors: int) -> list[int]:
    ids = []
    for index in range(n_sensors):
        device_id = f"bench-{index // len(SENSOR_KEYS)}"
        key = SENSOR_KEYS[index % len(SENSOR_KEYS)]
        if index % len(SENSOR_KEYS) == 0:
            conn.execute(
                "INSERT INTO devices (id, site_id, organisation_id) VALUES (%s, 'bench', 'owner-org')",
                (device_id,),
            )
        row = conn.execute(
            "INSERT INTO sensors (device_id, key, quantity, unit) VALUES (%s, %s, %s, 'x')"
            " RETURNING id",
            (device_id, key, key),
        ).fetchone()
        assert row is not None
        ids.append(int(row[0]))
    return ids


def _day(
    sensor_ids: list[int], first: datetime, step_s: float, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """One day of readings of every sensor, in the ingest's order (sensor, then time)."""
    n = int(86400 / step_s)
    base_us = int(first.timestamp() * 1e6)
    offsets = (np.arange(n) * step_s * 1e6).astype(np.int64)
    times, sensors, values = [], [], []
    for sensor_id in sensor_ids:
        jitter = rng.integers(0, int(step_s * 1e5), n)
        t = base_us + offsets + jitter
        # An outage: the first day of each month loses 3 h from 04:00 UTC.
        if first.day == 1:
            gap = (t >= base_us + 4 * 3_600_000_000) & (t < base_us + 7 * 3_600_000_000)
            t = t[~gap]
        phase = (t / 86_400e6) * 2 * np.pi
        times.append(t)
        sensors.append(np.full(len(t), sensor_id, dtype=np.int32))
        values.append(20 + 5 * np.sin(phase + sensor_id) + rng.normal(0, 0.3, len(t)))
    return np.concatenate(times), np.concatenate(sensors), np.concatenate(values)


def load_read_lab(
    lab_dir: Path,
    stack: contextlib.ExitStack,
    *,
    days: int,
    n_sensors: int,
    step_s: float,
    on_day: Callable[[int], None] | None = None,
) -> ReadLab:
    """Start a fresh PostgreSQL under `lab_dir`, migrate it and load `days` of readings."""
    import time

    lab_dir = prepare_lab_dir(lab_dir, entries=["pg"])
    postgres = Postgres.create(lab_dir / "pg", durable=False)
    stack.callback(postgres.stop, mode="immediate")
    postgres.start()
    dsn = postgres.create_database("livinglab")
    db.upgrade(dsn)
    end = DATA_END
    start = end - days * DAY
    rng = np.random.default_rng(13)
    readings = 0
    started = time.monotonic()
    with psycopg.connect(dsn) as conn:
        found = _people(conn)
        sensor_ids = _sensors(conn, n_sensors)
        conn.commit()
        moment = start
        while moment < end:
            t, s, v = _day(sensor_ids, moment, step_s, rng)
            keep = t < int(end.timestamp() * 1e6)
            t, s, v = t[keep], s[keep], v[keep]
            copy_readings(conn, time_us=t, sensor_id=s, value=v)
            upsert_rollups(conn, time_us=t, sensor_id=s, value=v, grouped=True)
            conn.commit()
            readings += len(t)
            moment += DAY
            if on_day is not None:
                on_day(1)
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        conn.autocommit = False
        window = (start + TRIAL_EDGE_START, end - TRIAL_EDGE_END)
        trial_id = _trial(conn, sensor_ids, window)
    return ReadLab(
        dsn=dsn,
        postgres=postgres,
        tokens=found,
        sensor_ids=sensor_ids,
        trial_id=trial_id,
        start=start,
        end=end,
        readings=readings,
        window=window,
        load_s=time.monotonic() - started,
    )


def _trial(
    conn: psycopg.Connection[tuple[Any, ...]],
    sensor_ids: list[int],
    window: tuple[datetime, datetime],
) -> int:
    trial = registration.create_trial(
        conn,
        CLI,
        trial=TrialCreate(
            organisation_id="partner-org",
            title="A year of readings",
            technology="Benchmark",
            technology_description="Readings of the benchmark's devices",
            trl_start=4,
            trl_target=6,
            starts_on=date(window[0].year, window[0].month, window[0].day),
            ends_on=date(window[1].year, window[1].month, window[1].day) + DAY,
            site_ids=["bench"],
            success_criteria="Reads under 300 ms",
            data_sharing_terms="Benchmark",
        ),
    )
    devices = sorted(
        {
            str(r[0])
            for r in conn.execute(
                "SELECT device_id FROM sensors WHERE id = ANY(%s)", (sensor_ids,)
            )
        }
    )
    for device_id in devices:
        assignments.assign_device(
            conn,
            CLI,
            trial.id,
            assignment=AssignmentCreate(
                device_id=device_id, starts_at=window[0], ends_at=window[1]
            ),
        )
    for action in ("submit", "approve", "deploy", "start"):
        transitions.transition(
            conn,
            CLI,
            trial.id,
            request=TransitionRequest(action=Action(action), reason="benchmark"),
        )
    conn.commit()
    return trial.id
